"""The beat stage's entry points: audio or saved activations in, :class:`Beats` out."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import reading
from .curves import beat_activation, evidence, spectral_curves
from .grid import fill, fixed_grid
from .madmom_adapter import SR, dbn_decode, rnn_activations


@dataclass(frozen=True)
class Beats:
    """Beat and downbeat times (s), tempo (BPM), whether the grid is fixed, madmom's
    activations (frames, 2) at FPS, madmom's own DBN beats and downbeats (s; the default
    reading, kept for comparison) and what each check of the reading decided."""

    beats: np.ndarray
    downbeats: np.ndarray
    bpm: float
    fixed_grid: bool
    activations: np.ndarray
    madmom_beats: np.ndarray
    madmom_downbeats: np.ndarray
    checks: dict = field(default_factory=dict)

    @property
    def madmom_bpm(self) -> float:
        return reading.bpm_of(self.madmom_beats)


def track(signal: np.ndarray, *, sr: int = SR, signal16k: np.ndarray | None = None) -> Beats:
    """Beats, downbeats and tempo of a mono ``signal`` at ``sr`` Hz (44.1 kHz for madmom);
    ``signal16k``, the same at 16 kHz, adds the onset and band-energy evidence."""
    low, bands = spectral_curves(signal16k) if signal16k is not None else (None, None)
    return from_activations(rnn_activations(signal, sr), duration=len(signal) / sr, low=low, bands=bands)


def from_activations(act: np.ndarray, *, duration: float, low: np.ndarray | None = None,
                     bands: np.ndarray | None = None, decoded: np.ndarray | None = None,
                     params: dict | None = None) -> Beats:
    """:func:`track` from saved activations (frames, 2) and spectral curves: madmom's DBN
    decodes them; where the tempo holds, a fixed grid replaces the tracked beats; then the
    reading is chosen (:func:`iram.beats.reading.choose`). ``decoded``: madmom's DBN decoding
    (:func:`~iram.beats.madmom_adapter.dbn_decode`) if already done; ``params`` overrides the
    bundled reading settings (for fitting)."""
    dec = dbn_decode(act) if decoded is None else decoded
    m_beats = dec[:, 0] if len(dec) else np.zeros(0)
    m_downs = dec[dec[:, 1] == 1, 0] if len(dec) else np.zeros(0)
    if len(m_beats) < 8:  # too few beats to choose a reading: keep what madmom found
        return Beats(m_beats, m_downs, reading.bpm_of(m_beats), False, act, m_beats, m_downs)
    cv = evidence(act, low, bands)
    grid = fixed_grid(m_beats, beat_activation(act), duration)  # unsmoothed: peaks where they are
    beats, first, checks = reading.choose(m_beats if grid is None else grid, cv, m_downs, params)
    if grid is not None:  # the chosen reading of a fixed grid is a fixed grid: extend it over the track
        down = beats[first]
        beats = fill(float(np.median(np.diff(beats))), down, duration)
        first = int(np.argmin(np.abs(beats - down))) % 4
    return Beats(beats, beats[first::4], reading.bpm_of(beats), grid is not None, act, m_beats, m_downs, checks)
