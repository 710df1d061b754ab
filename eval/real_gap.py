"""The sim-to-real gap of role models, from one run: synthetic test loops, composed test tracks and
the tracker-module test split, per role ROC-AUC, PR-AUC, F1, accuracy and Pearson r.

Segments are scored on their ground-truth 4-bar intervals, as ``iram analyze`` scores a segment
(so the beat stage does not enter), with each checkpoint's own thresholds; loops use the
checkpoint's loop thresholds where it has them. Masked cells (doubtful roles) are left out.

Usage: python eval/real_gap.py --model NAME=PATH [--model ...] --loops DIR --composed DIR --modules DIR
       [--out DIR]   (writes real_gap.json and real_gap.md; default ./iram-benchmark)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from iram.data.dataset import load_dataset
from iram.evaluate import classification_scores
from iram.io import write_text
from iram.model import load
from iram.roles import ROLES
from iram.train import load_segments, predict_clips, predict_segments

METRICS = ("roc_auc", "pr_auc", "f1", "accuracy", "pearson")


def score_model(path: str, loops, composed, modules) -> dict:
    rm = load(path)
    loop_th = rm.training.get("loop_thresholds", rm.thresholds)
    return {"loops (synthetic test)": classification_scores(loops.labels, predict_clips(rm.net, loops), loop_th),
            "composed test tracks": classification_scores(composed.labels, predict_segments(rm.net, composed), rm.thresholds),
            "module test split": classification_scores(modules.labels, predict_segments(rm.net, modules), rm.thresholds)}


def markdown(results: dict) -> str:
    fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    lines = ["| model | set | " + " | ".join(f"{r} ROC" for r in ROLES) + " | macro ROC-AUC | PR-AUC | F1 | accuracy | Pearson r |",
             "|---|---|" + "---|" * (len(ROLES) + 5)]
    for name, sets in results.items():
        for s, sc in sets.items():
            per = " | ".join(fmt(sc["roles"][r]["roc_auc"]) for r in ROLES)
            lines.append(f"| {name} | {s} | {per} | " + " | ".join(fmt(sc["macro"][k]) for k in METRICS) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, help="NAME=PATH (repeatable)")
    ap.add_argument("--loops", required=True, help="synthetic test loops (iram data loops --split test)")
    ap.add_argument("--composed", required=True, help="composed test tracks (iram data tracks --split test)")
    ap.add_argument("--modules", required=True, help="rendered modules (iram data modules --out); its test split is scored")
    ap.add_argument("--out", default="iram-benchmark")
    args = ap.parse_args()
    loops = load_dataset(args.loops)
    composed = load_segments([args.composed], 16000)
    modules = load_segments([], 16000, modules=args.modules, split="test")
    results = {}
    for spec in args.model:
        name, path = spec.split("=", 1)
        results[name] = score_model(path, loops, composed, modules)
        print(f"{name}: " + ", ".join(f"{s} {sc['macro']['roc_auc']:.3f}/{sc['macro']['accuracy']:.3f}" for s, sc in results[name].items()))
    sizes = {"loops": len(loops.labels), "composed_segments": len(composed.labels), "module_segments": len(modules.labels),
             "module_masked_cells": int(np.isnan(modules.labels).sum())}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "real_gap.json", json.dumps({"sizes": sizes, "results": results}, indent=1))
    write_text(out / "real_gap.md", markdown(results) + f"\n{sizes}\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
