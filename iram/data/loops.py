"""Multi-role loops: single-role stems matched in tempo and key, mixed with effects.

Each *context* (genre, tempo, key, progression, length) gets one stem per role,
each from a random source of the split; then several mixes are drawn from it,
one per combination size 1..5, so the corpus is balanced over roles and sizes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..roles import ROLES
from . import render, require_train_packages
from .patterns import Context, random_context
from .sources import Source, prepare, sources_for

SR = render.SR
MIXES_PER_CONTEXT = 5
LABEL_COLUMNS = ("file", *ROLES, "n_roles", "tempo", "key", "duration", "bars", "genre", "split", "sources")


def stem_effects(x: np.ndarray, role: str, ctx: Context, rng: np.random.Generator) -> np.ndarray:
    """Per-stem effects from pedalboard, chosen at random; returns float32 mono."""
    import pedalboard as pb

    beat = 60.0 / ctx.bpm
    x = x.astype(np.float32)
    chain = []
    if rng.random() < 0.3:
        chain.append(pb.Distortion(drive_db=float(rng.uniform(3, 18))))
    if rng.random() < 0.2 and role in ("chord", "melody", "voice"):
        chain.append(pb.Chorus(rate_hz=float(rng.uniform(0.3, 2)), mix=0.4))
    if rng.random() < 0.15:
        chain.append(pb.Phaser(rate_hz=float(rng.uniform(0.2, 1.5)), mix=0.4))
    if rng.random() < 0.3:
        chain.append(pb.Delay(delay_seconds=beat * float(rng.choice([0.5, 0.75, 1.0])), feedback=float(rng.uniform(0.1, 0.45)), mix=float(rng.uniform(0.1, 0.35))))
    if rng.random() < 0.45:
        chain.append(pb.Reverb(room_size=float(rng.uniform(0.2, 0.9)), wet_level=float(rng.uniform(0.05, 0.35)), dry_level=0.8))
    if role not in ("bass", "percussion") and rng.random() < 0.3:
        chain.append(pb.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(80, 300))))
    if chain:
        x = pb.Pedalboard(chain)(x, SR)
    if rng.random() < 0.2:  # filter sweep: a low-pass opened (or closed) over the loop, block by block
        lp = pb.LowpassFilter(cutoff_frequency_hz=20000)
        lo, hi = float(rng.uniform(300, 1200)), float(rng.uniform(5000, 7900))
        f = np.geomspace(lo, hi, num=max(2, len(x) // 1024 + 1))
        if rng.random() < 0.5:
            f = f[::-1]
        y = np.empty_like(x)
        for k, i in enumerate(range(0, len(x), 1024)):
            lp.cutoff_frequency_hz = float(f[k])
            y[i:i + 1024] = lp(x[i:i + 1024], SR, reset=False)
        x = y
    if role != "percussion" and rng.random() < 0.25:  # sidechain pumping on every beat
        t = (np.arange(len(x)) / SR) % beat
        x = x * (1 - float(rng.uniform(0.3, 0.7)) * np.exp(-t / (0.25 * beat))).astype(np.float32)
    return x


def mix(stems: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Stereo mix (shape (n, 2)) of loudness-matched stems with random gain and pan, limited."""
    import pedalboard as pb

    n = len(next(iter(stems.values())))
    out = np.zeros((n, 2), np.float32)
    for role, x in stems.items():
        rms = float(np.sqrt(np.mean(x ** 2))) + 1e-9
        g = 0.1 / rms * 10 ** (rng.uniform(-7, 3) / 20)
        pan = 0.0 if role in ("bass", "percussion") and rng.random() < 0.7 else float(rng.uniform(-0.6, 0.6))
        theta = (pan + 1) * np.pi / 4
        out[:, 0] += g * np.cos(theta) * x
        out[:, 1] += g * np.sin(theta) * x
    level = 10 ** (rng.uniform(-16, -9) / 20)
    out *= level / (np.sqrt(np.mean(out ** 2)) + 1e-9)
    out = pb.Limiter(threshold_db=-1.0, release_ms=100.0)(out.T.copy(), SR).T
    peak = np.abs(out).max()
    return out * (0.98 / peak) if peak > 0.98 else out


@dataclass(frozen=True)
class Job:
    index: int  # context index
    split: str
    seed: int
    out: str
    mixes: int = MIXES_PER_CONTEXT  # the last context of a run writes only what ``n`` still needs


def _pick(rng: np.random.Generator, srcs: list[Source]) -> Source:
    return srcs[int(rng.integers(len(srcs)))]


def render_context(job: Job) -> list[dict]:
    """Render the stems of one context and write its mixes; return their label rows."""
    import soundfile as sf

    rng = np.random.default_rng([job.seed, job.index])
    ctx = random_context(rng)
    stems, used = {}, {}
    for role in ROLES:
        src = _pick(rng, sources_for(role, job.split))
        x = render.render_stem(src, ctx, np.random.default_rng([job.seed, job.index, ROLES.index(role)]))
        if np.sqrt(np.mean(x ** 2)) < 1e-4:  # a silent render (rare): try another source once
            src = _pick(rng, sources_for(role, job.split))
            x = render.render_stem(src, ctx, np.random.default_rng([job.seed, job.index, 10 + ROLES.index(role)]))
        stems[role] = stem_effects(x, role, ctx, rng)
        used[role] = src.id
    rows = []
    for size in range(1, job.mixes + 1):
        roles = sorted(rng.choice(len(ROLES), size=size, replace=False))
        chosen = {ROLES[r]: stems[ROLES[r]] for r in roles}
        audio = mix(chosen, rng)
        name = f"loop_{job.index:06d}_{size}.flac"
        sf.write(os.path.join(job.out, name), audio, SR, subtype="PCM_16")
        rows.append({"file": name, **{r: int(r in chosen) for r in ROLES}, "n_roles": size, "tempo": ctx.bpm,
                     "key": ctx.key, "duration": round(len(audio) / SR, 4), "bars": ctx.bars, "genre": ctx.genre,
                     "split": job.split, "sources": ";".join(f"{r}={used[r]}" for r in chosen)})
    return rows


def make_loops(*, n: int, split: str, out: str | Path, seed: int = 0, jobs: int = 1, progress: bool = True) -> Path:
    """Write ``n`` mixed loops and ``labels.csv`` into ``out``: whole contexts of
    MIXES_PER_CONTEXT mixes (1..5 roles), the last one cut short when ``n`` is not a multiple.

    The same ``seed`` and ``split`` give identical files whatever ``jobs`` is.
    """
    require_train_packages()
    import pandas as pd
    from tqdm import tqdm

    out = prepare(n, split, out, what="loops")
    n_ctx = -(-n // MIXES_PER_CONTEXT)
    work = [Job(i, split, seed, str(out), min(MIXES_PER_CONTEXT, n - i * MIXES_PER_CONTEXT)) for i in range(n_ctx)]
    rows: list[dict] = []
    bar = tqdm(total=n, desc=f"loops ({split})", unit="loop", disable=not progress)
    if jobs > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(jobs) as pool:
            for r in pool.imap(render_context, work, chunksize=4):
                rows += r
                bar.update(len(r))
    else:
        for j in work:
            r = render_context(j)
            rows += r
            bar.update(len(r))
    bar.close()
    from ..io import write_text

    write_text(out / "labels.csv", pd.DataFrame(rows, columns=list(LABEL_COLUMNS)).to_csv(index=False))
    return out
