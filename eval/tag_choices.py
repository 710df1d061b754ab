"""The choices inside ``iram tag``, made on *validation* loops (never test):
how a loop is scored (whole-file pooling, first window, mean of windows), whether
the checkpoint's loop thresholds suit that scoring, how short loops are filled
(repeated or padded), and the beat-activation strength under which a file counts
as having no pulse. Also tempo and bar-count accuracy against the loops' labels.

Usage: python eval/tag_choices.py --loops work/loops-valid [--n 300]
       (loops made with: iram data loops --split valid --n 600 --seed 0 --out work/loops-valid)
Writes eval/results/tag_choices.json and prints a summary.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from tqdm import tqdm

    from iram import tagging
    from iram.audio import load as load_audio
    from iram.data.dataset import read_labels
    from iram.evaluate import best_thresholds, classification_scores
    from iram.model import load

    ap = argparse.ArgumentParser()
    ap.add_argument("--loops", default="work/loops-valid")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--out", default="eval/results/tag_choices.json")
    args = ap.parse_args()
    folder = Path(args.loops)
    df = read_labels(folder).iloc[: args.n]
    if set(df["split"]) != {"valid"}:
        raise SystemExit(f"{folder}: choices are made on validation loops only; this folder holds {set(df['split'])}")
    model = load()
    n_win = int(model.window * tagging.MODEL_SR)
    rows = {m: [] for m in tagging.MODES}
    padded, tiled, pulses = [], [], []
    t0 = time.time()
    for f in tqdm(df["file"], desc="valid loops", unit="loop"):
        au = load_audio(folder / f, rates=(tagging.BEAT_SR, tagging.MODEL_SR))
        y16 = au.at(tagging.MODEL_SR)
        pulses.append(tagging.pulse(au.at(tagging.BEAT_SR), y16, au.duration))
        x, _ = tagging.fill_window(y16, n_win, loop=True)
        for m in tagging.MODES:
            rows[m].append(tagging.score(model.net, x, mode=m))
        if len(y16) < n_win:
            padded.append(tagging.score(model.net, tagging.fill_window(y16, n_win, loop=False)[0]))
            tiled.append(rows["whole"][-1])
    y = df[list(tagging.ROLES)].to_numpy(float)
    short = (df["duration"] < model.window).to_numpy()
    th = tagging.loop_thresholds(model)
    res = {"n": len(df), "loop_thresholds": list(th), "modes": {}, "seconds": time.time() - t0}
    for m, p in rows.items():
        p = np.array(p)
        best = best_thresholds(y, p)
        res["modes"][m] = {"stored_thresholds": classification_scores(y, p, th)["macro"],
                           "best_thresholds": best, "at_best": classification_scores(y, p, best)["macro"]}
    if padded:
        res["short_loops"] = {"n": int(short.sum()),
                              "tiled": classification_scores(y[short], np.array(tiled), th)["macro"],
                              "padded": classification_scores(y[short], np.array(padded), th)["macro"]}
    bpm = np.array([b for b, _ in pulses])
    strength = np.array([s for _, s in pulses])
    res["strength_quantiles"] = {f"q{q}": float(np.quantile(strength, q / 100)) for q in (5, 10, 25, 50, 75)}
    res["strength_by_percussion"] = {str(k): float(np.median(strength[y[:, 0] == k])) for k in (0, 1)}
    for cut in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3):
        keep = (strength >= cut) & (bpm > 0)
        fitted = [tagging.fit_bars(b, d) for b, d in zip(bpm[keep], df["duration"][keep])]
        est = np.array([b for b, _ in fitted])
        ref = df["tempo"].to_numpy(float)[keep]
        ratio = est / ref
        acc1 = np.abs(ratio - 1) <= 0.04
        acc2 = acc1 | (np.abs(ratio / 2 - 1) <= 0.04) | (np.abs(ratio * 2 - 1) <= 0.04)
        bars_ok = np.array([b for _, b in fitted]) == df["bars"].to_numpy(float)[keep]
        res.setdefault("tempo", []).append({"strength_min": cut, "share_with_tempo": float(keep.mean()),
                                            "acc1": float(acc1.mean()), "acc2": float(acc2.mean()),
                                            "bars_exact": float(bars_ok.mean())})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
