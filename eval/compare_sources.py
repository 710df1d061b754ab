"""Where two classifiers differ on a loop split: the macro ROC-AUC difference with a
paired bootstrap interval over loops, and each role's ROC-AUC per sound source
(that source's loops as positives against all loops without the role).

A diagnostic for reports; nothing is chosen with it.

Usage: python eval/compare_sources.py --split work/corpus/test --a iram/weights/hcnn.pt --b work/ft/cnn-logmel-ft-tuned2.pt
       [--boot 1000]
"""
from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import roc_auc_score

from iram.data.dataset import load_dataset
from iram.model import load
from iram.roles import ROLES
from iram.train import predict_clips


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", required=True, help="dataset folder written by 'iram data loops' (labels.csv with a sources column)")
    ap.add_argument("--a", required=True, help="first checkpoint")
    ap.add_argument("--b", required=True, help="second checkpoint")
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap resamples")
    args = ap.parse_args()
    ds = load_dataset(args.split)
    y = ds.labels
    pa, pb = (predict_clips(load(m).net, ds) for m in (args.a, args.b))
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(args.boot):
        i = rng.integers(0, len(y), len(y))
        diffs.append(roc_auc_score(y[i], pa[i], average="macro") - roc_auc_score(y[i], pb[i], average="macro"))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    ra, rb = roc_auc_score(y, pa, average="macro"), roc_auc_score(y, pb, average="macro")
    print(f"macro ROC-AUC: a {ra:.4f}, b {rb:.4f}, a - b {ra - rb:+.4f} (95% bootstrap over loops {lo:+.4f} .. {hi:+.4f})")
    sources = [str(s).split(";") for s in ds.table["sources"].fillna("")]
    for r, role in enumerate(ROLES):
        neg = y[:, r] == 0
        names = sorted({s.split("=", 1)[1] for row in sources for s in row if s.startswith(role + "=")})
        cells = []
        for name in names:
            pos = np.array([f"{role}={name}" in row for row in sources])
            keep = pos | neg
            cells.append(f"{name} ({pos.sum()}) {roc_auc_score(y[keep, r], pa[keep, r]):.3f}/{roc_auc_score(y[keep, r], pb[keep, r]):.3f}")
        print(f"{role} (a/b): " + "; ".join(cells))


if __name__ == "__main__":
    main()
