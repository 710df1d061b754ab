"""The classifier table: HCNN, the non-harmonic ablation and the classical baseline,
on (a) test loops whose sound sources training never used and (b) the 4-bar
ground-truth segments of composed tracks (also test-split sources).

Usage: python eval/model_table.py --corpus work/corpus --ablation work/cnn-logmel.pt
       [--hcnn PATH (default: bundled)] [--tracks DIR] [--n-tracks 10] [--baseline-train 4000]
Writes eval/results/model_table.json and .md.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from iram.activations import frame_features, score_segments
from iram.annotations import load_set
from iram.choices import MODES
from iram.audio import load as load_audio
from iram.baseline import Baseline, clip_features, loop_features
from iram.data.dataset import load_dataset
from iram.evaluate import best_thresholds, classification_scores
from iram.io import shown_path
from iram.model import load
from iram.roles import ROLES
from iram.train import predict_clips


def composed(tracks_dir: Path):
    truths = load_set("composed", tracks_dir)
    audio = [load_audio(t.audio, rates=(16000,)).at(16000) for t in truths]
    y = np.concatenate([t.roles for t in truths], axis=1).T
    return truths, audio, y


def cnn_segments(model, truths, audio, mode="segment"):
    out = []
    for t, y in zip(truths, audio):
        z, fps = frame_features(model.net, y)
        out.append(score_segments(model.net, z, fps, [tuple(iv) for iv in t.intervals], mode=mode))
    return np.concatenate(out, axis=1).T


def baseline_segments(bl, truths, audio):
    feats = [clip_features(y[int(s * 16000):int(e * 16000)]) for t, y in zip(truths, audio) for s, e in t.intervals]
    return bl.predict_proba(np.stack(feats))


def row(name, scores):
    return {"model": name, **{f"{r}_{k}": scores["roles"][r][k] for r in ROLES for k in ("roc_auc", "pr_auc", "f1", "accuracy")},
            **{f"macro_{k}": scores["macro"][k] for k in ("roc_auc", "pr_auc", "f1", "accuracy")}}


def md_table(rows, title):
    f = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    head = "| model | " + " | ".join(f"{r} ROC / PR / F1" for r in ROLES) + " | macro ROC-AUC | macro PR-AUC | macro F1 | accuracy |"
    lines = [f"**{title}**", "", head, "|" + "---|" * (len(ROLES) + 5)]
    for r in rows:
        cells = [f"{f(r[f'{x}_roc_auc'])} / {f(r[f'{x}_pr_auc'])} / {f(r[f'{x}_f1'])}" for x in ROLES]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + f" | {f(r['macro_roc_auc'])} | {f(r['macro_pr_auc'])} | {f(r['macro_f1'])} | {f(r['macro_accuracy'])} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="work/corpus")
    ap.add_argument("--hcnn", default=None)
    ap.add_argument("--ablation", default="work/cnn-logmel.pt")
    ap.add_argument("--tracks", default=None)
    ap.add_argument("--n-tracks", type=int, default=10)
    ap.add_argument("--baseline-train", type=int, default=4000)
    ap.add_argument("--out", default="eval/results/model_table")
    args = ap.parse_args()
    t0 = time.time()
    corpus = Path(args.corpus)
    tracks = Path(args.tracks) if args.tracks else Path.home() / ".cache/iram" / f"composed-n{args.n_tracks}"
    if not list(tracks.glob("*.truth.json")):
        from iram.data.tracks import make_tracks

        make_tracks(n=args.n_tracks, out=tracks, seed=0, progress=False)
    test = load_dataset(corpus / "test")
    truths, audio, y_seg = composed(tracks)
    results = {"loops": [], "segments": [], "modes": []}
    for name, path in (("HCNN (harmonic front-end)", args.hcnn), ("CNN, log-mel (no harmonic filters)", args.ablation)):
        if path is not None and not Path(path).exists():
            print(f"skipping {name}: {path} not found")
            continue
        m = load(path)
        th = m.thresholds  # for segments: arrangement thresholds where eval/tune_thresholds.py set them
        loop_th = m.training.get("loop_thresholds", th)  # for loops: the thresholds tuned on validation loops
        results["loops"].append(row(name, classification_scores(test.labels, predict_clips(m.net, test), loop_th)))
        results["segments"].append(row(name, classification_scores(y_seg, cnn_segments(m, truths, audio), th)))
        if path is None:
            for mode in MODES:
                s = classification_scores(y_seg, cnn_segments(m, truths, audio, mode), th)
                results["modes"].append({"mode": mode, **s["macro"]})
    # classical baseline: features of the first 3 s of each loop (as the CNNs see), forests per role
    rng = np.random.default_rng(0)
    tr = load_dataset(corpus / "train")
    idx = rng.choice(len(tr.files), size=min(args.baseline_train, len(tr.files)), replace=False)
    bl = Baseline().fit(loop_features(tr, idx), tr.labels[idx])
    va = load_dataset(corpus / "valid")
    th = best_thresholds(va.labels, bl.predict_proba(loop_features(va)))
    name = "Random forest, binary relevance (92 MFCC/chroma/spectral stats)"
    results["loops"].append(row(name, classification_scores(test.labels, bl.predict_proba(loop_features(test)), th)))
    results["segments"].append(row(name, classification_scores(y_seg, baseline_segments(bl, truths, audio), th)))
    results["meta"] = {"test_loops": len(test.files), "composed_tracks": len(truths), "composed_segments": int(len(y_seg)),
                       "tracks_dir": shown_path(tracks), "baseline_train_loops": int(len(idx)), "seconds": time.time() - t0}
    md = md_table(results["loops"], f"(a) {len(test.files)} test loops, sound sources unseen in training")
    md += "\n" + md_table(results["segments"], f"(b) {len(y_seg)} four-bar segments of {len(truths)} composed tracks (test-split sources)")
    if results["modes"]:
        md += "\n**Segment scoring modes (HCNN, composed segments)**\n\n| mode | macro ROC-AUC | macro PR-AUC | macro F1 | accuracy |\n|---|---|---|---|---|\n"
        md += "".join(f"| {r['mode']} | {r['roc_auc']:.3f} | {r['pr_auc']:.3f} | {r['f1']:.3f} | {r['accuracy']:.3f} |\n" for r in results["modes"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(results, indent=1))
    Path(args.out + ".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
