"""How far the module-valid score that chooses role models can be trusted: each checkpoint's
macro ROC-AUC on the valid modules' 4-bar segments (as ``iram train --modules`` scores them for
early stopping and the adopt rule), with a 95% bootstrap interval over *modules* (a module's
segments are drawn together), and the same interval for each checkpoint's difference from the first.

A report for reading a choice, not for making one: it reads the valid split only.

Usage: python eval/valid_spread.py --modules DATA/modules --model C=iram/weights/hcnn.pt --model F=F.pt [--boot 1000]
"""
from __future__ import annotations

import argparse

import numpy as np

from iram.evaluate import classification_scores, group_bootstrap
from iram.model import load
from iram.train import load_segments, predict_segments


def macro_roc(labels: np.ndarray, probs: np.ndarray) -> float:
    """Macro ROC-AUC over the roles defined in ``labels`` (roles without both classes are skipped)."""
    v = classification_scores(labels, probs)["macro"]["roc_auc"]
    return float("nan") if v is None else float(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modules", required=True, help="folder of rendered modules (iram data modules --out)")
    ap.add_argument("--model", action="append", required=True, help="NAME=PATH; the first is the reference")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    nets = {name: load(path).net for name, path in (m.split("=", 1) for m in args.model)}
    ref = next(iter(nets))
    seg = load_segments([], nets[ref].cfg.front.sample_rate, modules=args.modules, split="valid")
    probs = {name: predict_segments(net, seg) for name, net in nets.items()}
    track = seg.spans[:, 0]
    draws = group_bootstrap(track, seg.labels, probs, macro_roc, boot=args.boot, seed=args.seed)
    mods = np.unique(track)
    print(f"{len(mods)} valid modules, {len(track)} segments, {args.boot} draws of modules")
    print("model | macro ROC-AUC | 95% over modules | difference from " + ref + " (95%)")
    for name, p in probs.items():
        d = np.asarray(draws[name])
        line = f"{name} | {macro_roc(seg.labels, p):.4f} | {np.nanpercentile(d, 2.5):.3f}-{np.nanpercentile(d, 97.5):.3f}"
        if name != ref:
            diff = d - np.asarray(draws[ref])
            line += f" | {np.nanpercentile(diff, 2.5):+.3f} to {np.nanpercentile(diff, 97.5):+.3f}"
        print(line)


if __name__ == "__main__":
    main()
