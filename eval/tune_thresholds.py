"""Per-role thresholds for full arrangements, chosen on composed tracks from the
*validation* sources, written into a checkpoint.

The thresholds that come out of `iram train` are tuned on loops; in full tracks
(reverb tails, risers under everything) fx in particular fires too often at the
loop threshold. This picks, per role, the best threshold on the 4-bar segments
of validation-source composed tracks: by accuracy (the default; the on/off
decisions an IRAM shows) or by F1 (``--criterion f1``).

Usage: python eval/tune_thresholds.py --model iram/weights/hcnn.pt --out iram/weights/hcnn.pt
       [--tracks work/tune work/tune2 work/tune3] [--criterion accuracy|f1]
       (tracks made with: iram data tracks --n 12 --split valid --seed 100 --out work/tune;
        ... --n 30 --seed 101 --out work/tune2; ... --n 60 --seed 102 --out work/tune3)
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    from iram.analyze import analyze
    from iram.annotations import load_set
    from iram.benchmark import align
    from iram.data.tracks import refuse_held_out
    from iram.evaluate import best_thresholds, classification_scores
    from iram.model import load, save

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--tracks", nargs="+", default=["work/tune"])
    ap.add_argument("--criterion", choices=("accuracy", "f1"), default="accuracy")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    folders = [Path(f) for f in args.tracks]
    if not list(folders[0].glob("*.truth.json")):
        from iram.data.tracks import make_tracks

        make_tracks(n=12, out=folders[0], seed=100, split="valid", progress=False)
    refuse_held_out(folders)
    model = load(args.model)
    ys, ps = [], []
    for t in (t for f in folders for t in load_set("composed", f)):
        a = analyze(t.audio, model=model)
        ys.append(t.roles)
        ps.append(align(t.intervals, np.array([[s.start, s.end] for s in a.segments]), a.iram))
    y, p = np.concatenate(ys, axis=1).T, np.concatenate(ps, axis=1).T
    th = best_thresholds(y, p, metric=args.criterion)
    loop_th = model.training.get("loop_thresholds", model.thresholds)  # a re-tuned checkpoint keeps its loop thresholds
    before = classification_scores(y, p, loop_th)["macro"]
    after = classification_scores(y, p, th)["macro"]
    print(f"loop thresholds {np.round(loop_th, 2)}: accuracy {before['accuracy']:.3f}, F1 {before['f1']:.3f}")
    print(f"arrangement thresholds {np.round(th, 2)}: accuracy {after['accuracy']:.3f}, F1 {after['f1']:.3f}")
    training = dict(model.training, loop_thresholds=[float(v) for v in loop_th],
                    thresholds=f"best {args.criterion} per role on {len(y)} segments of {len(ys)} composed tracks "
                               f"from validation sources ({', '.join(map(str, folders))})")
    save(args.out, model.net, thresholds=th, name=model.name, version=model.version, training=training, metrics=model.metrics)


if __name__ == "__main__":
    main()
