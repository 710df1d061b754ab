"""The sim-to-real gap of role models, from one run: synthetic test loops, composed test tracks and
the tracker-module test split, per role ROC-AUC, PR-AUC, F1, accuracy and Pearson r.

Segments are scored on their ground-truth 4-bar intervals, as ``iram analyze`` scores a segment
(so the beat stage does not enter), with each checkpoint's own thresholds; loops use the
checkpoint's loop thresholds where it has them. Masked cells (doubtful roles) are left out.

The random-forest baseline (``iram.baseline``: 92 clip statistics, one forest per role) joins the
table with ``--baseline-train``: fitted on the first 3 s of the synthetic train loops, thresholds
for F1 on the synthetic valid loops (as ``eval/model_table.py``). ``--baseline-modules`` fits a
second forest on the module train split's segments (masked cells left out), thresholds for
accuracy on the module valid split. Neither forest sees a test set before it is scored; the
forests score a segment from the features of its whole 4-bar interval.

Usage: python eval/real_gap.py [--model NAME=PATH ...] [--baseline-train DIR --baseline-valid DIR
       [--baseline-modules]] --loops DIR --composed DIR --modules DIR
       [--out DIR]   (writes real_gap.json and real_gap.md; default ./iram-benchmark)
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from iram.baseline import Baseline, loop_features, segment_features
from iram.data.dataset import load_dataset
from iram.evaluate import best_thresholds, classification_scores
from iram.io import write_text
from iram.model import load
from iram.roles import ROLES
from iram.train import load_segments, predict_clips, predict_segments

METRICS = ("roc_auc", "pr_auc", "f1", "accuracy", "pearson")
SETS = ("loops (synthetic test)", "composed test tracks", "module test split")
SYNTHETIC_RF = "random forest, synthetic loops"
MODULE_RF = "random forest, module train split"


def score_model(path: str, loops, composed, modules) -> dict:
    rm = load(path)
    loop_th = rm.training.get("loop_thresholds", rm.thresholds)
    return dict(zip(SETS, (classification_scores(loops.labels, predict_clips(rm.net, loops), loop_th),
                           classification_scores(composed.labels, predict_segments(rm.net, composed), rm.thresholds),
                           classification_scores(modules.labels, predict_segments(rm.net, modules), rm.thresholds))))


def score_baselines(args, loops, composed, modules, log=print) -> tuple[dict, dict]:
    """The forests of ``--baseline-train`` (and ``--baseline-modules``) on the three sets, and the
    thresholds each was given (chosen on its own valid set)."""
    t0 = time.time()
    test_sets = [(s.labels, x) for s, x in ((loops, loop_features(loops)), (composed, segment_features(composed)),
                                            (modules, segment_features(modules)))]
    log(f"baseline features of the three test sets: {time.time() - t0:.0f} s")
    fits = []
    train, valid = load_dataset(args.baseline_train), load_dataset(args.baseline_valid)
    fits.append((SYNTHETIC_RF, loop_features(train), train.labels, loop_features(valid), valid.labels, "f1"))
    if args.baseline_modules:
        train = load_segments([], 16000, modules=args.modules, split="train")
        valid = load_segments([], 16000, modules=args.modules, split="valid")
        fits.append((MODULE_RF, segment_features(train), train.labels, segment_features(valid), valid.labels, "accuracy"))
    results, thresholds = {}, {}
    for name, x_tr, y_tr, x_va, y_va, criterion in fits:
        forest = Baseline().fit(x_tr, y_tr)
        thresholds[name] = best_thresholds(y_va, forest.predict_proba(x_va), metric=criterion)
        results[name] = {s: classification_scores(y, forest.predict_proba(x), thresholds[name]) for s, (y, x) in zip(SETS, test_sets)}
        log(f"{name}: {len(y_tr)} training examples, thresholds ({criterion}, valid) {thresholds[name]}; {time.time() - t0:.0f} s")
    return results, thresholds


def fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def markdown(results: dict) -> str:
    lines = ["| model | set | " + " | ".join(f"{r} ROC" for r in ROLES) + " | macro ROC-AUC | PR-AUC | F1 | accuracy | Pearson r | voice on when off |",
             "|---|---|" + "---|" * (len(ROLES) + 6)]
    for name, sets in results.items():
        for s, sc in sets.items():
            per = " | ".join(fmt(sc["roles"][r]["roc_auc"]) for r in ROLES)
            lines.append(f"| {name} | {s} | {per} | " + " | ".join(fmt(sc["macro"][k]) for k in METRICS)
                         + f" | {fmt(sc['roles']['voice'].get('false_positive_rate'))} |")
    return "\n".join(lines) + "\n"


def role_markdown(results: dict) -> str:
    """Every role's five scores, one row per model, set and role (n: its unmasked examples)."""
    lines = ["| model | set | role | ROC-AUC | PR-AUC | F1 | accuracy | Pearson r | positives / n |", "|---|---|---|" + "---|" * 6]
    for name, sets in results.items():
        for s, sc in sets.items():
            for r in ROLES:
                v = sc["roles"][r]
                lines.append(f"| {name} | {s} | {r} | " + " | ".join(fmt(v[k]) for k in METRICS) + f" | {v['support']} / {v['n']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=[], help="NAME=PATH (repeatable)")
    ap.add_argument("--baseline-train", help="synthetic train loops: fit the random-forest baseline on them")
    ap.add_argument("--baseline-valid", help="synthetic valid loops: the baseline's thresholds (F1)")
    ap.add_argument("--baseline-modules", action="store_true",
                    help="also fit a forest on the module train split (thresholds for accuracy on its valid split)")
    ap.add_argument("--loops", required=True, help="synthetic test loops (iram data loops --split test)")
    ap.add_argument("--composed", required=True, help="composed test tracks (iram data tracks --split test)")
    ap.add_argument("--modules", required=True, help="rendered modules (iram data modules --out); its test split is scored")
    ap.add_argument("--out", default="iram-benchmark")
    args = ap.parse_args()
    if not args.model and not args.baseline_train:
        ap.error("nothing to score: give --model NAME=PATH and/or --baseline-train DIR")
    if bool(args.baseline_train) != bool(args.baseline_valid) or (args.baseline_modules and not args.baseline_train):
        ap.error("the baseline needs both --baseline-train and --baseline-valid (synthetic loops)")
    t0 = time.time()
    loops = load_dataset(args.loops)
    composed = load_segments([args.composed], 16000)
    modules = load_segments([], 16000, modules=args.modules, split="test")
    results, thresholds, seconds = {}, {}, {"reading the test sets": time.time() - t0}
    for spec in args.model:
        name, path = spec.split("=", 1)
        t = time.time()
        results[name] = score_model(path, loops, composed, modules)
        seconds[name] = time.time() - t
    if args.baseline_train:
        t = time.time()
        forests, thresholds = score_baselines(args, loops, composed, modules)
        results.update(forests)
        seconds["random forests (features, fits, scores)"] = time.time() - t
    seconds["total"] = time.time() - t0
    for name, sets in results.items():
        print(f"{name}: " + ", ".join(f"{s} {sc['macro']['roc_auc']:.3f}/{sc['macro']['accuracy']:.3f}" for s, sc in sets.items()))
    sizes = {"loops": len(loops.labels), "composed_segments": len(composed.labels), "module_segments": len(modules.labels),
             "module_masked_cells": int(np.isnan(modules.labels).sum())}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "real_gap.json", json.dumps({"sizes": sizes, "baseline_thresholds": thresholds, "seconds": seconds,
                                                   "results": results}, indent=1))
    write_text(out / "real_gap.md", markdown(results) + f"\n{sizes}\n\nseconds: {json.dumps(seconds)}\n\n" + role_markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
