"""A phrase-aligned grid of 4-bar segments.

The downbeat that opens the first 4-bar block is chosen so block boundaries
fall where the arrangement changes and where the music starts: for each of the four
possible offsets, the share of the novelty (how much the sound changes from the two
bars before a downbeat to the two bars after it, in log energy per frequency band)
at its block boundaries, plus a fixed bonus for the offset whose blocks open on the
bar the music starts on; the best offset is kept.
Audio before the first block and after the last becomes a partial segment.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BARS = 4
START_WEIGHT = 0.1  # a phrase opening where the music starts, against the novelty share (eval/fit_reading.py --phrase)


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float  # seconds
    bars: tuple[int, int]  # first and last bar, 1-based
    partial: bool = False


def bar_grid(downbeats: np.ndarray, duration: float) -> np.ndarray:
    """Downbeats extended on their median spacing to cover [0, duration]."""
    d = np.asarray(downbeats, dtype=float)
    if len(d) < 2:
        return d
    bar = float(np.median(np.diff(d)))
    # a downbeat a few ms before 0 s is the track's first downbeat: keep it, at 0
    before = d[0] - bar * np.arange(1, int(np.floor(d[0] / bar + 0.05)) + 1)[::-1]
    after = d[-1] + bar * np.arange(1, int((duration - d[-1]) / bar) + 1)
    g = np.concatenate([np.maximum(before, 0.0), d, after])
    return g[g < duration]


def bar_means(frames: np.ndarray, grid: np.ndarray, fps: float) -> np.ndarray:
    """Per-frame features (frames, n) at ``fps`` averaged over each bar of ``grid``
    (bar start times; the last bar lasts the median bar): (n_bars, n)."""
    bar = float(np.median(np.diff(grid)))
    idx = np.round(np.append(grid, grid[-1] + bar) * fps).astype(int).clip(0, len(frames) - 1)
    return np.stack([frames[a:max(a + 1, b)].mean(axis=0) for a, b in zip(idx[:-1], idx[1:])])


def novelty(bar_features: np.ndarray, width: int = 2) -> np.ndarray:
    """Novelty at each bar start: distance between the mean features of the
    ``width`` bars before and after it. ``bar_features`` is (n_bars, n_features)."""
    n = len(bar_features)
    out = np.zeros(n)
    for j in range(1, n):
        a = bar_features[max(0, j - width):j].mean(axis=0)
        b = bar_features[j:j + width].mean(axis=0)
        out[j] = float(np.abs(a - b).sum())
    return out


def phrase_offset(nov: np.ndarray, start_bar: int | None = None) -> int:
    """Offset (0..3 bars) whose block boundaries carry the largest share of the novelty, plus
    START_WEIGHT for the offset whose blocks open where the music starts (``start_bar``: the index
    of the bar the music starts on)."""
    if len(nov) < 2 * BARS:
        return 0
    scores = np.array([nov[k::BARS][1 if k == 0 else 0:].sum() for k in range(BARS)])
    scores = scores / (scores.sum() + 1e-9)
    if start_bar is not None:
        scores[start_bar % BARS] += START_WEIGHT
    return int(np.argmax(scores))


def choose_offset(downbeats: np.ndarray, bands: np.ndarray, duration: float, fps: float) -> int:
    """:func:`phrase_offset` for ``downbeats`` (s) from log band energies (frames, n) at ``fps``
    (:func:`~iram.beats.curves.spectral_curves`): their novelty at each bar of the grid and the
    bar nearest where the music starts (:func:`~iram.beats.curves.music_start`)."""
    from .beats.curves import music_start

    grid = bar_grid(downbeats, duration)
    if len(grid) < 2 * BARS:
        return 0
    start = music_start(bands)
    return phrase_offset(novelty(bar_means(bands, grid, fps)), None if start is None else int(np.argmin(np.abs(grid - start))))


def make_segments(downbeats: np.ndarray, duration: float, offset: int = 0, *, min_partial: float = 1.0) -> list[Segment]:
    """4-bar segments starting at bar ``offset`` of the grid; partial ones at the edges."""
    g = bar_grid(downbeats, duration)
    if len(g) < 2:
        return [Segment(0.0, duration, (1, 1), True)]
    bar = float(np.median(np.diff(g)))
    starts = g[offset::BARS]
    segs: list[Segment] = []
    if starts[0] >= min_partial:
        segs.append(Segment(0.0, float(starts[0]), (1, max(1, offset)), True))
    for k, s in enumerate(starts):
        first = offset + BARS * k + 1
        e = s + BARS * bar
        if e <= duration + 0.05 * bar:
            segs.append(Segment(float(s), float(min(e, duration)), (first, first + BARS - 1)))
        elif duration - s >= max(min_partial, bar) or not segs:
            n_bars = max(1, int(round((duration - s) / bar)))
            segs.append(Segment(float(s), float(duration), (first, first + n_bars - 1), True))
    return segs
