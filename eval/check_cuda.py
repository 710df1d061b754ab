"""On a machine with a CUDA GPU: does iram give the same answers there as on the CPU,
and does training run there?

1. The bundled model scores the bundled demo's 4-bar segments on CPU and on CUDA
   (same audio, same spans: a grid at the demo's annotated tempo); prints the
   largest difference in probability and in on/off decisions, and the times.
2. With madmom importable: the whole `analyze()` on the demo with device cpu and
   cuda; the IRAM matrices are compared the same way.
3. With --data/--valid (and optionally --tracks/--valid-tracks): `train()` on CUDA
   for a few steps, starting from the bundled checkpoint; the checkpoint it writes
   must load on the CPU. Prints seconds per step.

Usage: python eval/check_cuda.py [--data DIR --valid DIR [--tracks DIR] [--valid-tracks DIR]] [--out results.json]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import time
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch


def timed(fn, *a, **k):
    t = time.perf_counter()
    out = fn(*a, **k)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def compare(name: str, p_cpu: np.ndarray, p_cuda: np.ndarray, thresholds) -> dict:
    th = np.asarray(thresholds)[:, None]
    r = {"max_abs_diff": float(np.abs(p_cpu - p_cuda).max()),
         "decisions_differing": int(((p_cpu >= th) != (p_cuda >= th)).sum()), "cells": int(p_cpu.size)}
    print(f"{name}: max |p_cpu - p_cuda| = {r['max_abs_diff']:.2e}, on/off differing in {r['decisions_differing']} of {r['cells']} cells")
    return r


def main() -> None:
    from iram.activations import frame_features, score_segments
    from iram.audio import load as load_audio
    from iram.model import load

    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--valid")
    ap.add_argument("--tracks")
    ap.add_argument("--valid-tracks")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--out")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("check_cuda: no CUDA GPU here; run this on a machine with one")
    res = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    print(res)

    demo = Path(str(files("iram").joinpath("demo/iram-demo.flac")))
    truth = json.loads(demo.with_name("iram-demo.truth.json").read_text())
    spans = [(s["start"], s["end"]) for s in truth["segments"]]
    y = load_audio(demo, rates=(16000,)).at(16000)
    probs, secs = {}, {}
    for dev in ("cpu", "cuda"):
        m = load(device=dev)
        timed(frame_features, m.net, y)  # warm-up
        (z, fps), secs[dev] = timed(frame_features, m.net, y)
        probs[dev] = score_segments(m.net, z, fps, spans)
    print(f"demo ({len(y) / 16000:.0f} s) conv features: cpu {secs['cpu']:.3f} s, cuda {secs['cuda']:.3f} s")
    res["scoring"] = {**compare("segment scores", probs["cpu"], probs["cuda"], m.thresholds), "seconds": secs}

    if importlib.util.find_spec("madmom") is None:
        print("madmom not importable here: whole-analysis comparison skipped")
    else:
        from iram.analyze import analyze

        a = {dev: timed(analyze, demo, device=dev) for dev in ("cpu", "cuda")}
        same_grid = np.allclose(a["cpu"][0].downbeats, a["cuda"][0].downbeats)
        print(f"analyze(): cpu {a['cpu'][1]:.1f} s, cuda {a['cuda'][1]:.1f} s; same downbeats: {same_grid}")
        res["analyze"] = {**compare("analyze() IRAM", a["cpu"][0].iram, a["cuda"][0].iram, m.thresholds),
                          "same_downbeats": bool(same_grid), "seconds": {k: v[1] for k, v in a.items()}}

    if args.data and args.valid:
        import tempfile

        from iram.model import bundled_path
        from iram.train import TrainConfig, train

        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "ft.pt"
            cfg = TrainConfig(epochs=2, steps_per_epoch=args.steps // 2, lr=3e-4)
            _, sec = timed(train, [args.data], args.valid, out, cfg=cfg, device="cuda", init=bundled_path(),
                           tracks=[args.tracks] if args.tracks else None,
                           valid_tracks=[args.valid_tracks] if args.valid_tracks else None, progress=False)
            back = load(out, device="cpu")
            h = back.training["history"]
            print(f"train on cuda: {args.steps} steps in {h[-1]['minutes'] * 60:.1f} s "
                  f"({h[-1]['minutes'] * 60 / args.steps:.3f} s/step, validation included); checkpoint loads on cpu: "
                  f"device recorded {back.training['device']!r}")
            res["train"] = {"steps": args.steps, "seconds": h[-1]["minutes"] * 60, "history": h,
                            "device": back.training["device"], "segments": back.training.get("n_train_segments")}
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
