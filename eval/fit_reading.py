"""Fit the settings of the beat reading (``iram/beats/reading.py``) and write ``iram/weights/reading.json``.

The off-beat and octave margins, the weights of low-band onsets and of madmom's bars
(downbeat activation) and whether the start check runs are chosen on a small grid
for the best mean beat F-measure on the *validation* modules (real music decides; ties: all validation
folders, then the training folders, then
the larger margins, which keep madmom's reading more often); the bar-phase weights are then fitted as a softmax over
the four phases of each training track whose chosen beats are right (non-negative, an L2
penalty keeping them small); the validation folders score them. Folders: train and valid modules
(``<slug>/mix.flac`` + ``truth.json``) and composed tracks from the training or validation
sources; never a test split (refused).

    iram data tracks --n 24 --split train --seed 31 --out work/ctrain
    iram data tracks --n 16 --split valid --seed 21 --out work/cvalid
    python eval/fit_reading.py --train DATA/modules/train work/ctrain --valid DATA/modules/valid work/cvalid \\
        --out iram/weights/reading.json
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import mir_eval
import numpy as np

from tune_beats import cached_inputs, refuse_held_out, track_files

OCTAVE_MARGINS = (0.0, 0.1, 0.2)
OFFBEAT_MARGINS = (0.2, 0.4, 0.8)
LOW_WEIGHTS = (0.5, 1.0)
BAR_WEIGHTS = (2.0, 4.0, 8.0, 16.0)
START_CHECKS = (False, True)
START_WEIGHT_MAX = 1.0  # the start_downbeat phase weight's bound: unbounded (1.97) it outvotes the rest on a
# 2-beat drum pickup (tests/test_beats.py's bar-phase trap); valid downbeat F is 0.925 for any bound from 0.75 up
SETTINGS = ("octave_margin", "offbeat_margin", "low_weight", "bar_weight", "start_check")


def load(folders) -> list[dict]:
    """Per track: its name, the evidence curves, the beats before the reading, madmom's
    downbeats and the truth."""
    from iram.beats import curves, grid

    out = []
    for audio_path, truth_path in track_files(folders):
        d = cached_inputs(audio_path)
        dec = d["decoded"]
        if len(dec) < 8:
            continue
        cv = curves.evidence(d["act"], d["low"], d["bands"])
        g = grid.fixed_grid(dec[:, 0], curves.beat_activation(d["act"]), float(d["duration"]))
        truth = json.loads(truth_path.read_text())
        out.append({"name": str(audio_path), "cv": cv, "base": dec[:, 0] if g is None else g,
                    "madmom_downbeats": dec[dec[:, 1] == 1, 0], "duration": float(d["duration"]),
                    "phrases": np.array([s["start"] for s in truth["segments"]], float),
                    "beats": np.array(truth["beats"], float), "downbeats": np.array(truth["downbeats"], float)})
    return out


def chosen_beats(t: dict, p: dict) -> np.ndarray:
    from iram.beats import reading

    return reading.check_beats(t["base"], t["cv"], p)[0]


def beat_f(t: dict, beats: np.ndarray) -> float:
    return mir_eval.beat.f_measure(mir_eval.beat.trim_beats(t["beats"]), mir_eval.beat.trim_beats(beats))


def fit_margins(train: list[dict], valid: list[dict]) -> tuple[dict, float, float]:
    """The grid point with the best mean beat F on the real music of ``valid`` (the modules: real
    music decides), ties broken by all of ``valid``, then by ``train``, then by the larger margins
    (which keep madmom's reading more often); and its train and valid beat F."""
    real = [t for t in valid if t["name"].endswith("mix.flac")] or valid
    best = None
    for values in itertools.product(OCTAVE_MARGINS, OFFBEAT_MARGINS, LOW_WEIGHTS, BAR_WEIGHTS, START_CHECKS):
        p = dict(zip(SETTINGS, values))
        f_tr, f_va, f_re = (float(np.mean([beat_f(t, chosen_beats(t, p)) for t in ts])) for ts in (train, valid, real))
        key = (round(f_re, 3), round(f_va, 3), round(f_tr, 3), p["octave_margin"] + p["offbeat_margin"])
        if best is None or key > best[0]:
            best = (key, p, f_tr, f_va)
    return best[1], best[2], best[3]


def phase_examples(tracks: list[dict], p: dict) -> list[tuple[np.ndarray, int]]:
    """(features (4, F), right phase) of each track whose chosen beats hold the true downbeats."""
    from iram.beats import reading

    out = []
    for t in tracks:
        b = max([chosen_beats(t, p)] + [g for _, g in reading.octave_readings(t["base"])], key=lambda g: beat_f(t, g))
        if beat_f(t, b) < 0.9:  # the phase is learnt on right beats: the best reading on offer, as if the
            continue            # octave and off-beat checks had found it
        downs = t["downbeats"][(t["downbeats"] > b[0] + 0.1) & (t["downbeats"] < b[-1] - 0.1)]
        if len(downs) < 4:
            continue
        gap = np.abs(downs[:, None] - b[None, :])
        hits = np.bincount(gap.argmin(axis=1)[gap.min(axis=1) < 0.07] % 4, minlength=4)
        if hits.max() < 0.8 * len(downs):
            continue
        out.append((reading.phase_features(b, t["cv"], t["madmom_downbeats"]), int(np.argmax(hits))))
    return out


def fit_phase(examples, alpha: float) -> np.ndarray:
    """Non-negative weights of a softmax over the four phases (cross-entropy + alpha * |w|^2); the
    start's at most START_WEIGHT_MAX: a song may open with a pickup."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    x = np.stack([f for f, _ in examples])
    y = np.array([k for _, k in examples])

    def loss(w):
        s = x @ w
        return float(np.mean(logsumexp(s, axis=1) - s[np.arange(len(y)), y]) + alpha * w @ w)

    # each feature is built to be larger on the true downbeat: a negative weight would learn a
    # habit of the training material (madmom's downbeats are often wrong on composed tracks)
    from iram.beats.reading import PHASE_FEATURES

    bounds = [(0, START_WEIGHT_MAX if f == "start_downbeat" else None) for f in PHASE_FEATURES]
    return minimize(loss, np.zeros(x.shape[2]), method="L-BFGS-B", bounds=bounds).x


def scores(tracks: list[dict], p: dict) -> dict:
    """Mean beat F, downbeat F and tempo within 4% of the full reading and of madmom's DBN."""
    from iram.beats import reading

    rows = []
    for t in tracks:
        b, first, _ = reading.choose(t["base"], t["cv"], t["madmom_downbeats"], p)
        tempo = 60.0 / float(np.median(np.diff(t["beats"])))
        rows.append([beat_f(t, b), mir_eval.beat.f_measure(mir_eval.beat.trim_beats(t["downbeats"]),
                                                           mir_eval.beat.trim_beats(b[first::4])),
                     abs(reading.bpm_of(b) / tempo - 1) < 0.04])
    r = np.mean(rows, axis=0)
    return {"tracks": len(tracks), "beat_f": round(float(r[0]), 4), "downbeat_f": round(float(r[1]), 4),
            "tempo_4pc": round(float(r[2]), 4)}


def phrase_scores(tracks: list[dict], p: dict, weights=(0.0, 0.05, 0.1, 0.2, 0.3, 1.0)) -> dict:
    """The share of tracks whose 4-bar phrase grid (:func:`iram.segments.choose_offset` on the
    chosen downbeats) is the true one, for each weight of the music's start against the novelty
    share (``iram.segments.START_WEIGHT``; 1.0: the start alone)."""
    from iram import segments
    from iram.beats import FPS, reading

    out = {}
    for w in weights:
        segments.START_WEIGHT = w
        hits = []
        for t in tracks:
            b, first, _ = reading.choose(t["base"], t["cv"], t["madmom_downbeats"], p)
            segs = segments.make_segments(b[first::4], t["duration"], segments.choose_offset(b[first::4], t["cv"]["bands"], t["duration"], FPS))
            starts = np.array([s.start for s in segs if not s.partial])
            grid0, seg = t["phrases"][0], 4 * float(np.median(np.diff(t["downbeats"])))
            hits.append(len(starts) > 0 and np.mean(np.abs(((starts - grid0) / seg + 0.5) % 1 - 0.5) * seg < 0.1) >= 0.9)
        out[w] = round(float(np.mean(hits)), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", nargs="+", required=True, help="train modules and training-source composed tracks")
    ap.add_argument("--valid", nargs="+", required=True, help="valid modules and validation-source composed tracks")
    ap.add_argument("--alpha", type=float, default=0.01, help="L2 penalty on the phase weights")
    ap.add_argument("--out", help="write the settings here (e.g. iram/weights/reading.json)")
    args = ap.parse_args()
    from iram.beats import reading

    refuse_held_out(args.train + args.valid)
    tr, va = load(args.train), load(args.valid)
    p, f_tr, f_va = fit_margins(tr, va)
    print(f"margins {p}: train beat F {f_tr:.4f}, valid {f_va:.4f}")
    ex = phase_examples(tr, p)
    p["phase_weights"] = fit_phase(ex, args.alpha)
    for k, w in zip(reading.PHASE_FEATURES, p["phase_weights"]):
        print(f"{k:>18s} {w:+.3f}")
    report = {"phase_examples": len(ex), "train": scores(tr, p), "valid": scores(va, p)}
    for name, ts in (("train", tr), ("valid", va)):
        report[name]["phrase_grid_by_start_weight"] = phrase_scores(ts, p)
    print(json.dumps(report, indent=1))
    if args.out:
        from iram.io import write_text

        write_text(args.out, json.dumps({
            "phase_features": list(reading.PHASE_FEATURES), "phase_weights": [round(float(w), 4) for w in p["phase_weights"]],
            **{k: p[k] for k in SETTINGS}, "alpha": args.alpha,
            "fitted_by": "eval/fit_reading.py", "train": [Path(f).name for f in args.train],
            "valid": [Path(f).name for f in args.valid], "report": report}, indent=1) + "\n")


if __name__ == "__main__":
    main()
