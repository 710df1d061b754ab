"""Out-of-fold role scores of training recipes run with ``iram train --fold K/N``: every train
module's 4-bar segments scored by the model of the fold that held its package out, pooled over
folds; macro and per-role ROC-AUC with 95% bootstrap intervals over packages (a package's modules
are drawn together), and each recipe's difference from the first.

A larger real validation than the module valid split (whose voiced segments are one module): for
choosing between recipes, never a test score.

Usage: python eval/folds.py --modules DATA/modules --recipe C=C-1.pt,C-2.pt,C-3.pt --recipe X=X-1.pt,X-2.pt,X-3.pt
[--context 0.5]  (the first recipe once more, each segment ranked against its own track: ``in_context``)
"""
from __future__ import annotations

import argparse

import numpy as np

from iram.data.modules import read_table
from iram.evaluate import classification_scores, group_bootstrap
from iram.model import load
from iram.roles import ROLES
from iram.train import load_segments, predict_segments


def out_of_fold(modules: str, paths: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labels (n, 6), probabilities (n, 6) and module slug of every held-out segment of the fold
    checkpoints ``paths``, which must hold out disjoint folds."""
    labels, probs, slugs, seen = [], [], [], set()
    for path in paths:
        rm = load(path)
        fold = rm.training.get("fold")
        if not fold:
            raise SystemExit(f"{path}: not a fold checkpoint (train it with 'iram train --fold K/N')")
        held = frozenset(fold["held_out"])
        if held & seen:
            raise SystemExit(f"{path}: its held-out modules overlap another checkpoint's")
        seen |= held
        seg = load_segments([], rm.sample_rate, modules=modules, split="train", only=held)
        labels.append(seg.labels)
        probs.append(predict_segments(rm.net, seg))
        slugs += [seg.names[k] for k in seg.spans[:, 0]]
    return np.concatenate(labels), np.concatenate(probs), slugs


def in_context(probs: np.ndarray, slugs: list[str], a: float) -> np.ndarray:
    """Each segment's logit moved away from its module's mean logit for the role by a share ``a``:
    l + a (l - mean). It ranks a segment against the rest of its own track."""
    from scipy.special import expit, logit

    lg = logit(np.clip(probs, 1e-6, 1 - 1e-6))
    names = np.array(slugs)
    for s in set(slugs):
        rows = names == s
        lg[rows] += a * (lg[rows] - lg[rows].mean(axis=0))
    return expit(lg)


def roc(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Macro ROC-AUC, then each role's (NaN where a role lacks a class)."""
    sc = classification_scores(labels, probs)
    per = [sc["roles"][r]["roc_auc"] for r in ROLES]
    return np.array([sc["macro"]["roc_auc"], *[np.nan if v is None else v for v in per]], float)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modules", required=True, help="folder of rendered modules (iram data modules --out)")
    ap.add_argument("--recipe", action="append", required=True, help="NAME=FOLD1.pt,FOLD2.pt,...; the first is the reference")
    ap.add_argument("--context", type=float, action="append", default=[],
                    help="also score the first recipe with each segment's logit moved from its module's mean by this share")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    package = {e.slug: e.package for e in read_table()}
    runs = {}
    for spec in args.recipe:
        name, paths = spec.split("=", 1)
        runs[name] = out_of_fold(args.modules, paths.split(","))
    ref = next(iter(runs))
    slugs = runs[ref][2]
    for a in args.context:
        runs[f"{ref} in context {a:g}"] = (runs[ref][0], in_context(runs[ref][1], slugs, a), slugs)
    for name, (_, _, s) in runs.items():
        if s != slugs:
            raise SystemExit(f"{name}: its folds score other segments than {ref}'s; run both with the same --fold N")
    pk = np.array([package[s] for s in slugs])
    draws = group_bootstrap(pk, runs[ref][0], {name: p for name, (_, p, _) in runs.items()}, roc, boot=args.boot, seed=args.seed)
    y = runs[ref][0]
    print(f"{len(slugs)} segments of {len(set(slugs))} train modules in {len(set(pk))} packages, out of fold; "
          f"positives per role: " + ", ".join(f"{r} {int(np.nansum(y[:, j] == 1))}" for j, r in enumerate(ROLES)))
    print("| recipe | macro ROC-AUC (95% over packages) | " + " | ".join(ROLES) + f" | macro difference from {ref} (95%) |")
    print("|---|---|" + "---|" * len(ROLES) + "---|")
    for name, (y, p, _) in runs.items():
        v, d = roc(y, p), np.asarray(draws[name])
        lo, hi = np.nanpercentile(d[:, 0], [2.5, 97.5])
        line = f"| {name} | {v[0]:.3f} ({lo:.3f}-{hi:.3f}) | " + " | ".join(f"{x:.3f}" for x in v[1:])
        if name == ref:
            line += " | – |"
        else:
            diff = d[:, 0] - np.asarray(draws[ref])[:, 0]
            line += f" | {v[0] - roc(*runs[ref][:2])[0]:+.3f} ({np.nanpercentile(diff, 2.5):+.3f} to {np.nanpercentile(diff, 97.5):+.3f}) |"
        print(line)


if __name__ == "__main__":
    main()
