"""Fixed beat grids: electronic music mostly keeps one tempo, so where madmom's
tracked beats keep one period, a single grid (period and phase) that collects the
most beat activation replaces them: no jitter, and it covers the whole track.
"""
from __future__ import annotations

import numpy as np

from .curves import smooth_max
from .madmom_adapter import FPS

AGREE_S = 0.07  # a tracked beat this close to a grid point agrees with it (mir_eval's F-measure window)


def fixed_grid(tracked: np.ndarray, evidence: np.ndarray, duration: float) -> np.ndarray | None:
    """The fixed grid near ``tracked`` beats (s) when the track keeps one tempo, else None.

    The period and phase are searched within 2% of the tracked beats' median period (the
    DBN's tempo steps are a frame apart, about 1% at 130 BPM), on ``evidence`` (beat
    activation at FPS); the grid is kept when grids fitted to each minute agree with it (the
    tracked beats themselves may drift off it: the DBN cannot hold a tempo between its steps),
    and is then fitted by least squares to the peaks of ``evidence`` within AGREE_S of its points.
    """
    if len(tracked) < 8:
        return None
    offset, period, _ = grid_search(evidence, float(np.median(np.diff(tracked))), duration, span=0.02)
    if not is_steady(evidence, period, duration):
        return None
    grid = fill(period, offset, duration)
    r = int(AGREE_S * FPS)
    idx = np.round(grid * FPS).astype(int)
    idx = idx[(idx >= r) & (idx < len(evidence) - r)]
    if len(idx) >= 8:
        window = evidence[idx[:, None] + np.arange(-r, r + 1)[None, :]]
        strong = window.max(axis=1) > 0.1
        if strong.sum() >= 8:
            peaks = (idx + window.argmax(axis=1) - r)[strong] / FPS
            n = np.round((peaks - offset) / period)
            period, offset = np.polyfit(n, peaks, 1)  # finer than the search's steps
    return fill(float(period), float(offset), duration)


def grid_search(evidence: np.ndarray, period: float, duration: float, *, span: float = 0.04) -> tuple[float, float, float]:
    """The fixed beat grid (offset s, period s) that collects the most ``evidence``
    (a curve at FPS), for periods within ``span`` of ``period``; and its mean evidence."""
    ev = smooth_max(evidence)
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


def fill(period: float, anchor: float, duration: float) -> np.ndarray:
    """A fixed grid through ``anchor`` covering the whole track."""
    first = anchor % period
    first = first - period if first > 0.95 * period else first  # a beat a few ms before 0 s counts, at 0
    beats = np.maximum(first + period * np.arange(int(duration / period) + 2), 0.0)
    return beats[beats < duration]
