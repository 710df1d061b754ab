"""Draw the figures and tables of the README and docs/model-card.md.

Usage: python figures/make_figures.py [--corpus work/corpus] [--results eval/results]

The two benchmark figures need ``iram benchmark --set composed --out eval/results`` first: it
writes the scores and the per-track predictions (``predictions-composed/``, not committed).

- figures/loops_by_role.png: spectrograms of single-role stems, three per role (test-split sources)
- figures/corpus.md: examples per role and per combination size in each split
- figures/benchmark_track.png: ground truth and prediction under the spectrogram, one composed track
- figures/role_scores.png: per-role scores of the composed benchmark
- figures/reliability.png: the shipped model's reliability curve per role on the module valid split
  (from the checkpoint: ``metrics["valid_real"]["reliability"]``), with its thresholds
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from iram.roles import COLOURS, ROLES  # noqa: E402

HERE = Path(__file__).resolve().parent


def loops_by_role(out: Path) -> None:
    from iram.data import render, sources
    from iram.data.patterns import random_context
    from iram.plots import spectrogram

    fig, axes = plt.subplots(len(ROLES), 3, figsize=(12, 12), constrained_layout=True)
    rng = np.random.default_rng(7)
    for i, role in enumerate(ROLES):
        srcs = sources.sources_for(role, "test")
        for j in range(3):
            src = srcs[(3 * i + j) % len(srcs)]
            ctx = random_context(rng, bars=2)
            x = render.render_stem(src, ctx, np.random.default_rng(j))
            S, f, t = spectrogram(x, render.SR, n_fft=1024)
            ax = axes[i, j]
            ax.pcolormesh(t, np.sqrt(f[:-1] * f[1:]), S, shading="auto", cmap="magma", rasterized=True)  # band centres
            ax.set_yscale("log")
            ax.set_title(f"{role}: {src.id} ({ctx.genre}, {ctx.bpm:g} BPM)", fontsize=8, color=COLOURS[role])
            ax.tick_params(labelsize=6)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def corpus_table(corpus: Path, out: Path) -> None:
    import pandas as pd

    lines = ["| split | loops | " + " | ".join(ROLES) + " | 1 role | 2 | 3 | 4 | 5 | 1 bar | 2 bars | 4 bars |", "|" + "---|" * 15]
    for split in ("train", "valid", "test"):
        f = corpus / split / "labels.csv"
        if not f.exists():
            continue
        d = pd.read_csv(f)
        sizes = d["n_roles"].value_counts()
        bars = d["bars"].value_counts()
        lines.append(f"| {split} | {len(d)} | " + " | ".join(str(int(d[r].sum())) for r in ROLES) + " | "
                     + " | ".join(str(int(sizes.get(k, 0))) for k in range(1, 6)) + " | "
                     + " | ".join(str(int(bars.get(k, 0))) for k in (1, 2, 4)) + " |")
    out.write_text("\n".join(lines) + "\n")


def benchmark_track(results: Path, out: Path) -> None:
    from iram.result import load_results
    from iram.annotations import load_truth_json
    from iram.benchmark import align
    from iram.plots import plot_analysis

    report = json.loads((results / "composed.json").read_text())
    preds = sorted((results / "predictions-composed").glob("*.iram.json"))
    a = load_results(preds[0])
    truth = load_truth_json(Path(report["dir"]).expanduser() / preds[0].name.replace(".iram.json", ".truth.json"))
    # ground truth drawn on the predicted segment grid (each predicted segment: overlap-weighted truth)
    pi = np.array([[s.start, s.end] for s in a.segments])
    gt = np.nan_to_num(align(pi, truth.intervals, truth.roles))
    plot_analysis(a, out, truth=gt)


def role_scores(results: Path, out: Path) -> None:
    report = json.loads((results / "composed.json").read_text())
    sc = next(iter(report["results"].values()))["roles"]["roles"]
    metrics = ("roc_auc", "pr_auc", "f1", "accuracy")
    fig, ax = plt.subplots(figsize=(9, 3.5), constrained_layout=True)
    w = 0.2
    for k, m in enumerate(metrics):
        vals = [sc[r][m] if sc[r][m] is not None else 0 for r in ROLES]
        ax.bar(np.arange(len(ROLES)) + (k - 1.5) * w, vals, w, label=m)
    ax.set_xticks(np.arange(len(ROLES)), ROLES)
    ax.set_ylim(0, 1)
    ax.legend(ncol=4, fontsize=8)
    ax.set_title("composed benchmark: per-role scores")
    fig.savefig(out, dpi=100)
    plt.close(fig)


def reliability(out: Path) -> None:
    from iram.model import bundled_path, load

    rm = load(bundled_path())
    rel = rm.metrics["valid_real"]["reliability"]
    fig, axes = plt.subplots(1, len(ROLES), figsize=(13, 2.8), constrained_layout=True, sharey=True)
    for ax, role, th in zip(axes, ROLES, rm.thresholds):
        r = rel[role]
        ax.plot([0, 1], [0, 1], color="0.7", lw=1)
        ax.axvline(th, color="0.5", ls=":", lw=1)
        ax.plot(r["predicted"], r["observed"], color=COLOURS[role], lw=1.5)
        ax.scatter(r["predicted"], r["observed"], s=8 + 60 * np.sqrt(np.asarray(r["count"]) / max(r["count"])), color=COLOURS[role])
        ax.set_title(f"{role} ({sum(r['count'])})", fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("predicted", fontsize=8)
    axes[0].set_ylabel("share with the role on", fontsize=8)
    fig.suptitle(f"{rm.name} {rm.version}: reliability on the module valid split (dotted: threshold; dot size: segments)", fontsize=9)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="work/corpus")
    ap.add_argument("--results", default="eval/results")
    args = ap.parse_args()
    reliability(HERE / "reliability.png")
    loops_by_role(HERE / "loops_by_role.png")
    corpus_table(Path(args.corpus), HERE / "corpus.md")
    results = Path(args.results)
    if (results / "predictions-composed").is_dir():
        benchmark_track(results, HERE / "benchmark_track.png")
        role_scores(results, HERE / "role_scores.png")


if __name__ == "__main__":
    main()
