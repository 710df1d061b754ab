"""Loops rendered per second by `iram data loops` (2 workers by default).

Usage: python eval/bench_loops.py [--n 400] [--jobs 2] [--bars 4]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from iram.data.loops import make_loops


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="eval/results/loops_speed.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        s = time.perf_counter()
        make_loops(n=args.n, split="train", out=d, seed=123, jobs=args.jobs, progress=False)
        wall = time.perf_counter() - s
        import pandas as pd

        lab = pd.read_csv(Path(d) / "labels.csv")
    res = {"loops": len(lab), "jobs": args.jobs, "seconds": wall, "loops_per_s": len(lab) / wall,
           "four_bar_equivalents_per_s": float((lab["bars"] / 4).sum() / wall),
           "audio_seconds_per_s": float(lab["duration"].sum() / wall)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
