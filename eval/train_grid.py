"""Fit the beat-grid reading scorer of ``iram/beats.py`` and write ``iram/weights/grid.json``.

Trackers confuse a beat grid with its off-beats, with twice or half the tempo and
with the wrong beat of the bar. ``beats.candidates`` lists those readings; a linear
score over ``beats.features`` picks one. The weights are fitted here with a softmax
over each track's readings (the right ones as the target) on composed tracks from the *training* sources, and checked on tracks from the
*validation* sources; the benchmark's test tracks are never used.

    iram data tracks --n 200 --split train --seed 11 --out work/gridtrain
    iram data tracks --n 200 --split train --seed 12 --out work/gridtrain2
    python eval/train_grid.py --train work/gridtrain work/gridtrain2 --valid work/tune work/tune2 --out iram/weights/grid.json

``--cv K`` also reports the accuracy of a K-fold cross-validation over the training and
validation tracks together, grouped by percussion source (no drum source in both the
fitted and the scored folds): the check used to choose between feature sets.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tune_beats import cached_inputs, truth_of


def track_candidates(wav: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """Features of every candidate reading of one track, which are right, and its drum source."""
    from iram import beats

    truth = truth_of(wav)
    d = cached_inputs(wav)
    cache = wav.with_suffix(".base.npy")  # the grid before the reading is chosen (slow: DBN decoding)
    if not cache.exists():
        np.save(cache, beats.base_beats(d["act"], float(d["duration"]))[0])
    base = np.load(cache)
    cv = beats.curves(d["act"], d["low"], d["bands"])
    beat = 60.0 / truth["tempo"]
    feats, right = [], []
    for b, ph, rescaled in beats.candidates(base):
        period = float(np.median(np.diff(b)))
        err = ((b[ph] - truth["first_downbeat"]) / beat + 2) % 4 - 2  # beats off the true bar line
        right.append(abs(period / beat - 1) < 0.02 and abs(err) < 0.15)
        feats.append(beats.features(b, ph, cv, rescaled))
    return np.array(feats).reshape(-1, len(beats.FEATURES)), np.array(right, bool), truth["sources"]["percussion"]


def accuracy(sets, net) -> float:
    """Share of tracks whose top-scored reading is a right one."""
    from iram.beats import score

    return float(np.mean([r[int(np.argmax(score(f, net)))] if len(f) else False for f, r, _ in sets]))


def fit(sets, st: dict, alpha: float) -> np.ndarray:
    """Linear weights trained as a softmax over each track's readings, the right ones
    being the target: the decision made at run time is exactly that argmax."""
    import torch

    data = [(torch.tensor((np.clip(f, st["low"], st["high"]) - st["mean"]) / st["scale"], dtype=torch.float64), torch.tensor(r))
            for f, r, _ in sets if r.any()]
    w = torch.zeros(len(st["mean"]), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = sum(torch.logsumexp(x @ w, 0) - torch.logsumexp((x @ w)[r], 0) for x, r in data) / len(data)
        loss = loss + alpha * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy()


def standardise(sets) -> dict:
    """Clipping range (1st-99th percentile) and standardisation of the features."""
    x = np.concatenate([f for f, _, _ in sets])
    low, high = np.percentile(x, [1, 99], axis=0)
    x = np.clip(x, low, high)
    return {"low": low, "high": high, "mean": x.mean(axis=0), "scale": x.std(axis=0) + 1e-9}


def fit_net(sets, alpha: float) -> dict:
    """Standardisation and fitted weights: the scorer's parameters."""
    st = standardise(sets)
    return {**st, "weights": fit(sets, st, alpha)}


def grouped_cv(sets, k: int, alpha: float) -> float:
    """Accuracy of a k-fold cross-validation whose folds are split by drum source."""
    import zlib

    fold = [zlib.crc32(src.encode()) % k for _, _, src in sets]
    hits = 0.0
    for i in range(k):
        held = [s for s, g in zip(sets, fold) if g == i]
        if held:
            hits += accuracy(held, fit_net([s for s, g in zip(sets, fold) if g != i], alpha)) * len(held)
    return hits / len(sets)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", nargs="+", required=True, help="folders of composed tracks from training sources")
    ap.add_argument("--valid", nargs="+", required=True, help="folders of composed tracks from validation sources")
    ap.add_argument("--out", default=None, help="write the weights here (e.g. iram/weights/grid.json)")
    ap.add_argument("--alpha", type=float, default=1e-3, help="L2 penalty on the standardised weights")
    ap.add_argument("--cv", type=int, default=0, help="also report a grouped K-fold cross-validation")
    args = ap.parse_args()

    from iram import beats
    from iram.data.tracks import refuse_held_out

    refuse_held_out(args.train + args.valid)

    def load(folders):
        return [track_candidates(w) for f in folders for w in sorted(Path(f).glob("track_*.wav"))]

    tr, va = load(args.train), load(args.valid)
    fitted = fit_net(tr, args.alpha)
    net = {"features": list(beats.FEATURES), **{k: v.tolist() for k, v in fitted.items()}}
    report = {
        "train_tracks": len(tr), "valid_tracks": len(va),
        "train_reachable": float(np.mean([r.any() for _, r, _ in tr])), "valid_reachable": float(np.mean([r.any() for _, r, _ in va])),
        "train_accuracy": accuracy(tr, net), "valid_accuracy": accuracy(va, net),
    }
    if args.cv:
        report[f"grouped_cv{args.cv}_accuracy"] = grouped_cv(tr + va, args.cv, args.alpha)
    for k, v in zip(beats.FEATURES, net["weights"]):
        print(f"{k:>20s} {v:+.3f}")
    print(json.dumps(report, indent=1))
    if args.out:
        from iram.io import write_text

        write_text(args.out, json.dumps({
            **net, "fitted_by": "eval/train_grid.py", "train": [str(f) for f in args.train],
            "valid": [str(f) for f in args.valid], "alpha": args.alpha, "report": report}, indent=1))


if __name__ == "__main__":
    main()
