"""Sections from an IRAM: intro, build-up, drop, breakdown, outro (and main).

Sections in this music run 8, 16 or 32 bars, so boundaries are looked for on
8-bar lines only: a line is a boundary where the role probabilities of the two
4-bar blocks after it differ from the two before it by at least CHANGE (summed
over the six roles). Labels come from what the drums and bass do:

- a section with both percussion and bass is *full*; the first full section
  after a non-full one is a **drop**, a full one after another full is **main**;
- non-full sections before the first full one are the **intro**, except the
  last one directly before the drop, which is the **build-up** when the intro
  already had its own section;
- a non-full section between full ones is a **breakdown**, or the **build-up**
  when it leads straight into a drop after a breakdown;
- non-full sections after the last full one are the **outro**.
Adjacent sections with the same label (intro, breakdown, outro) are merged; two full
sections with a boundary between them stay apart (drop, then main). Sections are made of
whole 4-bar blocks: a partial lead-in or tail belongs to none and does not count as a change.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .roles import ROLES, SHORT_NAMES

CHANGE = 0.45  # summed change in role probabilities (over 6 roles) that makes a section boundary


@dataclass(frozen=True)
class Section:
    start: float  # seconds
    end: float  # seconds
    bars: tuple[int, int]  # first and last bar, 1-based
    label: str
    roles: tuple[str, ...]  # roles active in most of the section
    name: str  # cue name, e.g. "Drop 1 · drums bass melody"


def find_sections(iram: np.ndarray, thresholds, segments) -> list[Section]:
    """Sections (see module docstring) from ``iram`` (6, n) probabilities and the ``segments`` they score."""
    whole = [k for k, seg in enumerate(segments) if not getattr(seg, "partial", False)]
    if not whole:
        return []
    segments = [segments[k] for k in whole]  # a lead-in or tail shorter than 4 bars belongs to no section
    probs = np.asarray(iram, dtype=float)[:, whole]
    on = probs >= np.asarray(thresholds, dtype=float)[:, None]
    n = len(segments)

    def change(k: int) -> float:  # how much the role probabilities change at block k (2 blocks each side)
        return float(np.abs(probs[:, max(0, k - 2):k].mean(axis=1) - probs[:, k:k + 2].mean(axis=1)).sum())

    # 8-bar lines are every second 4-bar block; which second ones: those with the sharper changes
    lines = max((range(0, n, 2), range(1, n, 2)), key=lambda ks: sum(change(k) ** 2 for k in ks if 0 < k < n))
    bounds = sorted(k for k in lines if 0 < k < n and change(k) >= CHANGE)
    edges = [0, *bounds, n]
    runs = [list(range(a, b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]

    def majority(run):
        return tuple(r for i, r in enumerate(ROLES) if on[i, run].mean() >= 0.5)

    roles = [majority(r) for r in runs]
    full = [("percussion" in r and "bass" in r) for r in roles]
    first_full = full.index(True) if any(full) else None
    last_full = len(full) - 1 - full[::-1].index(True) if any(full) else None
    labels = []
    for i in range(len(runs)):
        if first_full is None:
            labels.append("intro" if i == 0 else "outro" if i == len(runs) - 1 and i > 1 else "main")
        elif full[i]:
            labels.append("drop" if i == 0 or not full[i - 1] else "main")
        elif i < first_full:
            labels.append("build-up" if i == first_full - 1 and i > 0 else "intro")
        elif i > last_full:
            labels.append("outro")
        else:
            labels.append("build-up" if i + 1 < len(runs) and full[i + 1] and i > 0 and labels[-1] == "breakdown" else "breakdown")
    merged: list[tuple[list[int], str]] = []
    for run, lab in zip(runs, labels):
        if merged and merged[-1][1] == lab and lab in ("intro", "breakdown", "outro"):
            merged[-1] = (merged[-1][0] + run, lab)
        else:
            merged.append((run, lab))
    out, count = [], {}
    for run, lab in merged:
        count[lab] = count.get(lab, 0) + 1
        r = majority(run)
        title = lab.capitalize() + (f" {count[lab]}" if lab in ("drop", "build-up", "breakdown") else "")
        name = f"{title} · {' '.join(SHORT_NAMES[x] for x in r)}" if r else title
        s0, s1 = segments[run[0]], segments[run[-1]]
        out.append(Section(float(s0.start), float(s1.end), (s0.bars[0], s1.bars[1]), lab, r, name))
    return out
