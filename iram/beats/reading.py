"""Choosing the reading of a beat sequence: which beats, at which tempo, which beat of the bar.

Trackers confuse the beats with their off-beats, the tempo with twice, half, 3/2, 2/3,
4/3 or 3/4 of it, and the downbeat with another beat of the bar. madmom's DBN reading
is the default; four checks may overrule it, each on evidence of where madmom's
activations, the onsets and the music actually are, not on tempo or drum-pattern priors:

1. off-beat (:func:`check_offbeat`): the tracked beats are scored by how far the beat
   activation and low-band onsets stand above their mean on them (:func:`pulse`), against
   the points half a beat on; these must win by a margin;
2. octave (:func:`check_octave`): the same score plus how well four of its beats make
   the bars madmom's downbeat activation marks (:func:`bar_pulse`), for every rescaled
   reading against the beats kept by the off-beat check;
3. start (:func:`check_start`): music starts on a beat; when it starts sharply out of silence
   (:func:`~iram.beats.curves.sharp_start`) half-way between two of the beats, they move half a
   beat. Loud off-beat bass and hats can pull madmom's activation onto the off-beats for the
   whole track; the start still tells. A start on the first frame or a swell says nothing;
4. bar phase (:func:`choose_phase`): each of the four beats of the bar is scored by a
   linear model over madmom's downbeat activation, kick onsets, the change in sound
   from the 1, 4 and 8 bars before to the bar after, whether madmom's DBN put its
   downbeats there and whether the music starts there. (Snare on 2 and 4 was tried and
   left out: on composed tracks its weight came out negative, a convention of the generator.)

The margins and the phase weights are fitted by ``eval/fit_reading.py`` on the train
modules and composed tracks, chosen on the valid ones, and bundled as ``weights/reading.json``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import ModelError
from .curves import music_start, sharp_start
from .madmom_adapter import FPS

MIN_BPM, MAX_BPM = 55.0, 215.0  # readings outside this range are not offered
OCTAVE_RATIOS = (0.5, 2.0, 2 / 3, 1.5, 0.75, 4 / 3)  # period multipliers: twice, half, 3/2, 2/3, 4/3, 3/4 of the tempo
BEAT_SHARE = 0.1  # of the change at a beat, the share from that beat alone (the rest: the bar it opens)
RATIO_CLIP = 2.0  # a log ratio of two means, clipped: one odd curve cannot outvote the others
START_TOL = 0.125  # a start this close (in beats) to a beat is on it; this close to a midpoint, off it
PHASE_FEATURES = ("downbeat_act", "low_on_downbeat", "change_1bar", "change_4bar", "change_8bar", "madmom_downbeat",
                  "start_downbeat")


def at(curve: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Values of a curve at FPS at ``times`` (s), clipped to its ends."""
    idx = np.clip(np.round(np.asarray(times) * FPS).astype(int), 0, len(curve) - 1)
    return curve[idx]


def midpoints(beats: np.ndarray) -> np.ndarray:
    """The points half-way between consecutive beats."""
    return (beats[:-1] + beats[1:]) / 2


def rescaled(beats: np.ndarray, ratio: float, start: int = 0) -> np.ndarray:
    """Points every ``ratio`` beats along the sequence, from beat ``start``."""
    k = np.arange(start, len(beats) - 1 + 1e-9, ratio)
    return np.interp(k, np.arange(len(beats)), beats)


def bpm_of(beats: np.ndarray) -> float:
    return 60.0 / float(np.median(np.diff(beats))) if len(beats) > 1 else 0.0


def position(beats: np.ndarray, t: float | None) -> float | None:
    """Where time ``t`` (s) lies on ``beats``, as a fractional beat index (the beats extended by
    their median period before the first and after the last); None when ``t`` is None or more than
    4 beats before the first beat."""
    if t is None or len(beats) < 2:
        return None
    period = float(np.median(np.diff(beats)))
    if t <= beats[0] or t >= beats[-1]:
        pos = (t - beats[0]) / period if t <= beats[0] else len(beats) - 1 + (t - beats[-1]) / period
        return pos if pos >= -4 else None
    i = int(np.searchsorted(beats, t)) - 1
    return i + (t - beats[i]) / (beats[i + 1] - beats[i])


def start_side(beats: np.ndarray, start: float | None) -> int:
    """+1 when the music starts on one of ``beats``, -1 when it starts half-way between two
    (within START_TOL of a beat), 0 when neither or unknown. Music nearly always starts on a
    beat: the first sound is on a beat in 99% of train modules and composed tracks."""
    pos = position(beats, start)
    if pos is None:
        return 0
    frac = abs(pos - round(pos))
    return 1 if frac <= START_TOL else -1 if frac >= 0.5 - START_TOL else 0


# 1-2. the beats: off-beat and octave ------------------------------------------------------

def pulse(grid: np.ndarray, cv: dict[str, np.ndarray], low_weight: float) -> float:
    """How strongly the beat activation (and, weighted, the low-band onsets) stand on ``grid``:
    the sum over its points of each curve's excess over the curve's mean, in standard
    deviations, over sqrt(points) (a comb filter's z-score). Grids compared must span the
    same time; twice the points then score higher only if the added ones are at least
    0.41 as strong as the others, half the points only if the dropped ones are weaker."""
    total = 0.0
    for name, w in (("beat", 1.0), ("low", low_weight)):
        c = cv.get(name)
        if c is None or w == 0 or len(grid) == 0:
            continue
        total += w * float((at(c, grid) - c.mean()).sum() / (c.std() + 1e-9))
    return total / np.sqrt(max(len(grid), 1))


def bar_pulse(grid: np.ndarray, cv: dict[str, np.ndarray]) -> float:
    """:func:`pulse` of madmom's downbeat activation on the best of the four bar phases of
    ``grid`` (downbeats ``grid[k::4]``): how well 4 of its beats make madmom's bar. At twice
    the true tempo its bars are half bars, at half the tempo two bars: both score lower."""
    c = cv.get("downbeat")
    if c is None or len(grid) < 8:
        return 0.0
    z = (c - c.mean()) / (c.std() + 1e-9)
    return max(float(at(z, grid[k::4]).sum()) / np.sqrt(len(grid[k::4])) for k in range(4))


def beyond(score: float, margin: float) -> float:
    """What another reading must score to overrule one scoring ``score``: ``margin`` (a share)
    more, or anything positive when ``score`` is not."""
    return score * (1 + margin) if score > 0 else 0.0


def octave_readings(beats: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """(period ratio, beats) for every rescaling in OCTAVE_RATIOS, at each start that
    keeps some of the tracked beats, within MIN_BPM..MAX_BPM."""
    out = []
    for r in OCTAVE_RATIOS:
        if r == 0.5:
            grids = [np.sort(np.concatenate([beats, midpoints(beats)]))]
        else:
            n_starts = {2.0: 2, 2 / 3: 2, 1.5: 3, 0.75: 3, 4 / 3: 4}[r]
            grids = [rescaled(beats, r, s) for s in range(n_starts)]
        out += [(r, g) for g in grids if len(g) >= 8 and MIN_BPM <= bpm_of(g) <= MAX_BPM]
    return out


def check_octave(beats: np.ndarray, cv: dict[str, np.ndarray], *, margin: float, low_weight: float,
                 bar_weight: float) -> tuple[np.ndarray, float]:
    """The tracked beats, or the rescaled reading whose :func:`pulse` plus ``bar_weight`` times
    its :func:`bar_pulse` beats theirs by a share ``margin`` (:func:`beyond`); and the period
    ratio taken (1.0 when kept)."""
    def score(g):
        return pulse(g, cv, low_weight) + bar_weight * bar_pulse(g, cv)

    best = (beyond(score(beats), margin), beats, 1.0)
    for r, g in octave_readings(beats):
        s = score(g)
        if s > best[0]:
            best = (s, g, r)
    return best[1], best[2]


def check_offbeat(beats: np.ndarray, cv: dict[str, np.ndarray], *, margin: float, low_weight: float) -> tuple[np.ndarray, bool]:
    """The beats, or the points half a beat on when their :func:`pulse` is higher by a share
    ``margin`` (:func:`beyond`); and whether they were moved."""
    mids = midpoints(beats)
    if len(mids) < 8:
        return beats, False
    if pulse(mids, cv, low_weight) > beyond(pulse(beats[:-1], cv, low_weight), margin):
        return half_beat_on(beats), True
    return beats, False


def check_start(beats: np.ndarray, cv: dict[str, np.ndarray]) -> tuple[np.ndarray, bool]:
    """The beats, or the points half a beat on when the music starts sharply out of silence
    (:func:`~iram.beats.curves.sharp_start`) half-way between two beats (:func:`start_side`); and
    whether they were moved. Where loud off-beat bass and hats pull the activation onto the
    off-beats, the start still falls on the beat. Only a sharp start counts: of the 6 train and
    valid modules that sound from their first frame, between two tracked beats, 3 start on a true
    beat and 2 half a beat before one."""
    if len(beats) < 9 or start_side(beats, sharp_start(cv.get("bands"))) >= 0:
        return beats, False
    return half_beat_on(beats), True


def half_beat_on(beats: np.ndarray) -> np.ndarray:
    """The midpoints of ``beats`` and one more a period after the last: as many points, half a beat on."""
    mids = midpoints(beats)
    return np.append(mids, mids[-1] + float(np.median(np.diff(beats))))


def check_beats(beats: np.ndarray, cv: dict[str, np.ndarray], p: dict) -> tuple[np.ndarray, bool, float]:
    """Checks 1-3 with the settings ``p`` (margins, weights and whether the start check runs, as
    :func:`settings`): the beats kept or moved, whether moved off-beat, and the period ratio taken."""
    beats, moved = check_offbeat(beats, cv, margin=p["offbeat_margin"], low_weight=p["low_weight"])
    beats, ratio = check_octave(beats, cv, margin=p["octave_margin"], low_weight=p["low_weight"],
                                bar_weight=p["bar_weight"])
    if p["start_check"]:
        beats, moved_again = check_start(beats, cv)
        moved = moved != moved_again
    return beats, moved, ratio


# 3. the bar phase ------------------------------------------------------------------------

def beat_spectra(beats: np.ndarray, bands: np.ndarray) -> np.ndarray:
    """Mean log band energy (n_beats, n_bands) from each beat to the next (the last beat: one median period)."""
    period = float(np.median(np.diff(beats)))
    edges = np.clip(np.round(np.append(beats, beats[-1] + period) * FPS).astype(int), 0, len(bands) - 1)
    c = np.concatenate([np.zeros((1, bands.shape[1])), np.cumsum(bands, axis=0)])
    span = np.maximum(1, edges[1:] - edges[:-1])[:, None]
    return (c[edges[:-1] + span[:, 0]] - c[edges[:-1]]) / span


def change(spectra: np.ndarray, bars: int) -> np.ndarray:
    """At each beat j, how far new sound rises, summed over the bands where it does: a share
    BEAT_SHARE from beat j against the same beat of the ``bars`` bars before (j-4, j-8, ...),
    the rest from the bar it opens (beats j..j+3) against those bars. A drum pattern repeating
    each bar cancels out; a part entering, a chord or a drop counts most on the beat it starts
    on, and so does a one-beat event (a crash). 0 where the windows do not fit."""
    n = len(spectra)
    out = np.zeros(n)
    c = np.concatenate([np.zeros((1, spectra.shape[1])), np.cumsum(spectra, axis=0)])
    j = np.arange(4 * bars, n - 3)
    if len(j):
        same_beat = spectra[j] - sum(spectra[j - 4 * k] for k in range(1, bars + 1)) / bars
        bar = (c[j + 4] - c[j]) / 4 - (c[j] - c[j - 4 * bars]) / (4 * bars)
        out[j] = np.maximum(0.0, BEAT_SHARE * same_beat + (1 - BEAT_SHARE) * bar).sum(axis=1)
    return out


def peak_share(v: np.ndarray, sel: np.ndarray) -> float:
    """How much of the excess of ``v``'s peaks over its median lies at ``sel``, against the
    1 in 4 expected by chance: 4 x share - 1 (-1..3; 0 when ``v`` has no excess).
    Rare strong changes, such as a new part every 8 bars, count in full."""
    peak = np.r_[True, v[1:] >= v[:-1]] & np.r_[v[:-1] > v[1:], True]
    excess = np.where(peak, np.maximum(0.0, v - np.median(v)), 0.0)
    total = excess.sum()
    return float(4 * excess[sel].sum() / total - 1) if total > 0 else 0.0


def phase_features(beats: np.ndarray, cv: dict[str, np.ndarray], madmom_downbeats: np.ndarray | None) -> np.ndarray:
    """(4, len(PHASE_FEATURES)): for the downbeat on beat k = 0..3 (downbeats ``beats[k::4]``),
    log ratios of madmom's downbeat activation and of low-band onsets (kick) on its downbeats
    against all beats; the share of the change in sound over 1, 4 and 8 bars (:func:`change`)
    that falls on its downbeats (:func:`peak_share`); the share of madmom's DBN downbeats
    nearest to its downbeats; and whether the music starts on one of its downbeats (:func:`music_start`)."""
    def ratio(v: np.ndarray, sel: np.ndarray, ref: np.ndarray) -> float:
        if not (sel.any() and ref.any()):
            return 0.0
        eps = 0.05 * float(v[ref].mean()) + 1e-6  # a curve near zero everywhere says nothing
        return float(np.clip(np.log((v[sel].mean() + eps) / (v[ref].mean() + eps)), -RATIO_CLIP, RATIO_CLIP))

    n = len(beats)
    pos = np.arange(n)
    vals = {name: at(cv[name], beats) for name in ("downbeat", "low") if name in cv}
    if "bands" in cv and n >= 8:
        spectra = beat_spectra(beats, cv["bands"])
        level = spectra.mean(axis=1)
        first = int(np.argmax(level > np.median(level) - 3.0))  # the first beat within 30 dB of the track's level
        for name, bars in (("change_1bar", 1), ("change_4bar", 4), ("change_8bar", 8)):
            vals[name] = np.r_[np.zeros(first), change(spectra[first:], bars)]  # no rise out of silence before it
    dbn = np.zeros(4)
    if madmom_downbeats is not None and len(madmom_downbeats):
        gap = np.abs(madmom_downbeats[:, None] - beats[None, :])
        near = gap.min(axis=1) < 0.5 * float(np.median(np.diff(beats)))  # within half a beat of one
        if near.any():
            dbn = np.bincount(gap[near].argmin(axis=1) % 4, minlength=4) / len(madmom_downbeats)
    start = np.zeros(4)
    at_start = position(beats, music_start(cv.get("bands")))
    if at_start is not None and abs(at_start - round(at_start)) <= START_TOL:
        start[int(round(at_start)) % 4] = 1.0
    out = np.zeros((4, len(PHASE_FEATURES)))
    every = pos >= 0
    for k in range(4):
        down = (pos - k) % 4 == 0
        row = {"madmom_downbeat": dbn[k], "start_downbeat": start[k]}
        if "downbeat" in vals:
            row["downbeat_act"] = ratio(vals["downbeat"], down, every)
        if "low" in vals:
            row["low_on_downbeat"] = ratio(vals["low"], down, every)
        for name in ("change_1bar", "change_4bar", "change_8bar"):
            if name in vals:
                row[name] = peak_share(vals[name], down)
        out[k] = [row.get(f, 0.0) for f in PHASE_FEATURES]
    return out


def choose_phase(beats: np.ndarray, cv: dict[str, np.ndarray], madmom_downbeats: np.ndarray | None,
                 weights: np.ndarray) -> int:
    """The index (0..3) of the first downbeat in ``beats``: the phase the linear model ranks highest."""
    if len(beats) < 4:
        return 0
    return int(np.argmax(phase_features(beats, cv, madmom_downbeats) @ weights))


# the bundled settings ----------------------------------------------------------------------

@lru_cache(maxsize=1)
def settings() -> dict:
    """The bundled margins and phase weights (fitted by ``eval/fit_reading.py``)."""
    import json
    from importlib.resources import files

    d = json.loads(files("iram").joinpath("weights/reading.json").read_text())
    if tuple(d["phase_features"]) != PHASE_FEATURES:
        raise ModelError("iram/weights/reading.json does not match this iram's beat-phase features; reinstall iram")
    return {**d, "phase_weights": np.asarray(d["phase_weights"], float)}


def choose(beats: np.ndarray, cv: dict[str, np.ndarray], madmom_downbeats: np.ndarray | None,
           params: dict | None = None) -> tuple[np.ndarray, int, dict]:
    """The reading of tracked ``beats`` (s): the beats after the octave and off-beat checks, the
    index of their first downbeat, and what each check decided (``octave``: the period ratio
    taken; ``offbeat``: whether moved; ``phase``: the first downbeat's index)."""
    p = params or settings()
    beats, moved, ratio = check_beats(beats, cv, p)
    first = choose_phase(beats, cv, madmom_downbeats, p["phase_weights"])
    return beats, first, {"octave": ratio, "offbeat": moved, "phase": first}
