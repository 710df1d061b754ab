"""The evidence a beat reading is judged on, as curves at the activation frame rate.

:func:`spectral_curves` computes, from the 16 kHz signal, a low-band onset strength
(kick and bass attacks) and log energies in 23 log-spaced bands (used again by the
segments stage); :func:`evidence` puts them beside madmom's activations as the
curves :mod:`iram.beats.reading` looks up.
"""
from __future__ import annotations

import numpy as np

from .madmom_adapter import CHUNK_S, FPS

START_DB = 30.0  # the music starts where its level first comes within this of the track's median level
ATTACK_DB, ATTACK_S = 20.0, 0.05  # a sharp start: within ATTACK_S of it, the level comes within ATTACK_DB of the median
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


def beat_activation(act: np.ndarray) -> np.ndarray:
    """madmom's beat plus downbeat activation, clipped to 0..1 (frames,): how likely a beat is."""
    return np.clip(act[:, 0] + act[:, 1], 0, 1)


def evidence(act: np.ndarray, low: np.ndarray | None = None, bands: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Curves at FPS, each max-smoothed over +-2 frames: ``beat`` (madmom's beat plus
    downbeat activation: how likely a beat is), ``downbeat``; and, when the spectral
    curves are given, onsets in the ``low`` (kick, bass), ``mid`` (snare, clap) and
    ``high`` (hats) bands, and ``bands``, the log band energies (frames, 23) unsmoothed.

    Parameters
    ----------
    act : np.ndarray [shape=(frames, 2)]
        madmom's beat and downbeat activations.
    low, bands : np.ndarray [shape=(>=frames,) and (>=frames, 23)] or None
        From :func:`spectral_curves`.
    """
    n = len(act)
    out = {"beat": beat_activation(act), "downbeat": act[:, 1]}
    if bands is not None and low is not None and len(bands) >= n and len(low) >= n:
        hz = (BAND_EDGES[:-1] + BAND_EDGES[1:]) / 2 * 16000 / 1024
        flux = np.maximum(0, np.diff(bands[:n], axis=0, prepend=bands[:1]))
        out["low"] = low[:n]
        out["mid"] = flux[:, (hz >= 200) & (hz < 2000)].sum(axis=1)
        out["high"] = flux[:, hz >= 4000].sum(axis=1)
    out = {k: smooth_max(v) for k, v in out.items()}
    if "low" in out:
        out["bands"] = np.asarray(bands[:n])
    return out


def smooth_max(curve: np.ndarray, radius: int = 2) -> np.ndarray:
    """The running maximum over +-``radius`` frames: a beat a frame or two off still counts."""
    from scipy.ndimage import maximum_filter1d

    return maximum_filter1d(curve, size=2 * radius + 1)


def level(bands: np.ndarray) -> np.ndarray:
    """The level (dB, frames,) of log10 band energies ``bands`` (frames, n): their power summed."""
    return 10 * np.log10((10.0 ** bands).sum(axis=1) + 1e-12)


def music_start(bands: np.ndarray | None) -> float | None:
    """Where the music starts (s): the first frame whose level (summed over ``bands``, log10 band
    energies (frames, n) at FPS) comes within START_DB of the track's median level; None without bands."""
    if bands is None or len(bands) == 0:
        return None
    return _start_frame(level(bands)) / FPS


def _start_frame(lv: np.ndarray) -> int:
    """The first frame of the level curve ``lv`` (dB) within START_DB of its median."""
    return int(np.argmax(lv > np.median(lv) - START_DB))


def sharp_start(bands: np.ndarray | None) -> float | None:
    """:func:`music_start` when the music starts sharply out of silence: after at least one frame
    more than START_DB below the median level, and within ATTACK_S coming within ATTACK_DB of it;
    None otherwise. A start on the first frame may be where the recording was cut, and a swell
    crosses the START_DB line at no particular point of the beat: neither tells where a beat is."""
    if bands is None or len(bands) == 0:
        return None
    lv = level(bands)
    i = _start_frame(lv)
    if i == 0 or lv[i:i + max(1, int(round(ATTACK_S * FPS)))].max() < np.median(lv) - ATTACK_DB:
        return None
    return i / FPS
