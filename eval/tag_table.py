"""The ``iram tag`` table: per-role and macro ROC-AUC, PR-AUC and F1 of the whole tag
pipeline (:func:`iram.tagging.tag_files`: decode, beat stage, tile or pad, score,
loop thresholds) on held-out loops, next to the published loop-tagging figures.

(a) synthetic test loops (``iram data loops --split test``: sound sources never used
    in training or validation);
(b) loops cut from the real-music test split (tracker modules rendered to
    ``DIR/<slug>/mix.flac`` with ``truth.json``: 4-bar segments and per-role truth):
    every 4-bar truth segment that lasts at least 90% of the song's median segment
    (partial ones at the ends left out), cut from the mix at its truth boundaries
    (sample-exact, no fades) into a 16-bit WAV loop; a role whose truth is masked
    (null: a doubtful stem) in a segment leaves that loop out of that role's scores.

Usage: python eval/tag_table.py --loops work/loops-test [--n 1000] [--modules work/modules/test]
       (loops made with: iram data loops --split test --n 1500 --seed 0 --out work/loops-test)
Writes eval/results/tag_table.json and .md.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from model_table import md_table, row

PUBLISHED = (  # figures on the Freesound Loop Dataset (real loops), as the issue gives them: macro only
    ("Published: HCNN on FSLD (Ching et al. 2020)", {"roc_auc": 0.8606, "pr_auc": 0.586}),
    ("Published: follow-up on FSLD, mean per-role PR-AUC", {"pr_auc": 0.755}),
)


def published_row(name: str, macro: dict) -> dict:
    from iram.roles import ROLES

    out = {"model": name, **{f"{r}_{k}": None for r in ROLES for k in ("roc_auc", "pr_auc", "f1", "accuracy")}}
    out.update({f"macro_{k}": macro.get(k) for k in ("roc_auc", "pr_auc", "f1", "accuracy")})
    return out


def run_tags(files: list[Path], jobs: int, deadline: float = float("inf")) -> tuple[np.ndarray, list, list[str]]:
    """Probabilities (n, 6), the LoopTags, and the errors, of the tag pipeline on ``files``
    (on the first n of them, when time.time() passes ``deadline``)."""
    from tqdm import tqdm

    from iram.errors import IramError
    from iram.tagging import tag_files

    probs, tags, errors = [], [], []
    for p, t in tqdm(tag_files(files, jobs=jobs), total=len(files), unit="loop"):
        if isinstance(t, IramError):
            errors.append(str(t))
            probs.append(np.full(6, np.nan))
            tags.append(None)
        else:
            probs.append(np.array(t.probabilities))
            tags.append(t)
        if time.time() > deadline:
            break
    return np.array(probs), tags, errors


def tempo_scores(tags: list, ref_bpm: np.ndarray, ref_bars: np.ndarray | None = None) -> dict:
    """Share of files given a tempo; of those, tempo within 4% (acc1), also at double or half (acc2), bars exact."""
    ok = [(t.bpm, t.bars, r, b) for t, r, b in zip(tags, ref_bpm, ref_bars if ref_bars is not None else [None] * len(tags))
          if t is not None and t.bpm is not None]
    if not ok:
        return {"share_with_tempo": 0.0}
    est = np.array([o[0] for o in ok])
    ref = np.array([o[2] for o in ok], float)
    ratio = est / ref
    acc1 = np.abs(ratio - 1) <= 0.04
    acc2 = acc1 | (np.abs(ratio / 2 - 1) <= 0.04) | (np.abs(ratio * 2 - 1) <= 0.04)
    out = {"share_with_tempo": len(ok) / len(tags), "acc1": float(acc1.mean()), "acc2": float(acc2.mean())}
    if ref_bars is not None:
        out["bars_exact"] = float(np.mean([o[1] == o[3] for o in ok]))
    return out


def synthetic(folder: Path, n: int | None, jobs: int, deadline: float) -> tuple[dict, dict]:
    from iram.data.dataset import read_labels
    from iram.evaluate import classification_scores
    from iram.model import load
    from iram.roles import ROLES
    from iram.tagging import loop_thresholds

    df = read_labels(folder)
    if set(df["split"]) != {"test"}:
        raise SystemExit(f"{folder}: this table is for test-split loops; the folder holds {set(df['split'])}")
    df = df.iloc[:n] if n else df
    p, tags, errors = run_tags([folder / f for f in df["file"]], jobs, deadline)
    df = df.iloc[: len(p)]  # the loops done before the deadline: a prefix, in the generator's random order
    if errors:
        raise SystemExit(f"{len(errors)} test loops failed, e.g. {errors[0]}")
    y = df[list(ROLES)].to_numpy(float)
    scores = classification_scores(y, p, loop_thresholds(load()))
    fills = {k: int(sum(t.fill == k for t in tags)) for k in ("none", "tiled", "padded")}
    meta = {"n": len(df), "fills": fills, "tempo": tempo_scores(tags, df["tempo"].to_numpy(float), df["bars"].to_numpy(float)),
            "duration_s": [float(df["duration"].min()), float(df["duration"].median()), float(df["duration"].max())]}
    return scores, meta


def module_loops(root: Path, out: Path) -> tuple[list[Path], np.ndarray, list[float]]:
    """Cut every full 4-bar truth segment of each ``root/<slug>/mix.flac`` into a WAV in
    ``out``; return the files, their (n, 6) truth (NaN where the truth masks a role:
    ``active`` null, a doubtful stem) and the tempo of their song."""
    import soundfile as sf

    from iram.roles import ROLES

    files, ys, bpms = [], [], []
    for truth_path in sorted(root.glob("*/truth.json")):
        truth = json.loads(truth_path.read_text())
        x, sr = sf.read(str(truth_path.parent / "mix.flac"), dtype="float32", always_2d=True)
        full = np.median([s["end"] - s["start"] for s in truth["segments"]])
        for k, s in enumerate(truth["segments"]):
            if s["end"] - s["start"] < 0.9 * full:
                continue
            f = out / f"{truth_path.parent.name}_{k:03d}.wav"
            sf.write(f, x[int(round(s["start"] * sr)):int(round(s["end"] * sr))], sr, subtype="PCM_16")
            files.append(f)
            ys.append([np.nan if s["active"].get(r) is None else float(bool(s["active"][r])) for r in ROLES])
            bpms.append(float(truth.get("bpm", np.nan)))
    return files, np.array(ys), bpms


def modules(root: Path, jobs: int) -> tuple[dict, dict] | None:
    from iram.evaluate import classification_scores
    from iram.model import load
    from iram.tagging import loop_thresholds

    with tempfile.TemporaryDirectory() as d:
        files, y, bpms = module_loops(root, Path(d))
        if not files:
            return None
        p, tags, errors = run_tags(files, jobs)
    keep = ~np.isnan(p).any(axis=1)
    scores = classification_scores(y[keep], p[keep], loop_thresholds(load()))  # leaves masked (NaN) cells out
    meta = {"n": int(keep.sum()), "songs": len({f.name.rsplit("_", 1)[0] for f in files}), "failed": len(errors),
            "masked_cells": int(np.isnan(y[keep]).sum()),
            "tempo": tempo_scores([t for t, k in zip(tags, keep) if k], np.array(bpms)[keep])}
    return scores, meta


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loops", default="work/loops-test")
    ap.add_argument("--n", type=int, default=None, help="first N loops only")
    ap.add_argument("--modules", default=None, help="folder of real-music test songs (<slug>/mix.flac + truth.json)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--max-minutes", type=float, default=float("inf"), help="stop the synthetic loops after this long (a prefix is scored)")
    ap.add_argument("--modules-only", action="store_true", help="redo only the module row, keeping the synthetic one in --out")
    ap.add_argument("--out", default="eval/results/tag_table")
    args = ap.parse_args()
    t0 = time.time()
    load = os.getloadavg()
    res = {"rows": [], "meta": {}}
    if args.modules_only:  # keep the synthetic row of the last full run
        old = json.loads(Path(args.out + ".json").read_text())
        res["rows"].append(old["rows"][0])
        res["meta"]["synthetic"] = old["meta"]["synthetic"]
    else:
        scores, meta = synthetic(Path(args.loops), args.n, args.jobs, t0 + 60 * args.max_minutes)
        res["rows"].append(row(f"iram tag (HCNN, loop thresholds): {meta['n']} synthetic test loops", scores))
        res["meta"]["synthetic"] = {**meta, "scores": scores}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(res, indent=1))  # kept should the second row fail
    got = modules(Path(args.modules), args.jobs) if args.modules else None
    if got is None:
        res["meta"]["modules"] = "pending: no song in --modules yet"
    else:
        scores, meta = got
        res["rows"].append(row(f"iram tag: {meta['n']} four-bar loops cut from {meta['songs']} real-music test songs", scores))
        res["meta"]["modules"] = {**meta, "scores": scores}
    res["rows"] += [published_row(name, m) for name, m in PUBLISHED]
    res["meta"].update({"seconds": time.time() - t0, "load_before": load, "load_after": os.getloadavg()})
    md = md_table(res["rows"], "iram tag on held-out loops, next to published loop-tagging figures (FSLD: real loops, other data)")
    Path(args.out + ".json").write_text(json.dumps(res, indent=1))
    Path(args.out + ".md").write_text(md)
    print(md)
    print(json.dumps({k: v for k, v in res["meta"].items()}, indent=1, default=str)[:3000])


if __name__ == "__main__":
    main()
