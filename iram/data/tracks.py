"""Composed tracks: full arrangements built from single-role loops, with exact ground truth.

Sections of 8/16/32 bars (intro, build-up, drop, breakdown, outro); roles enter
and leave on 4-bar boundaries; an optional pickup or silence before the first
downbeat. Each track is written as ``track_NNN.wav`` beside ``track_NNN.truth.json``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..roles import ROLES
from . import render, require_train_packages
from .loops import stem_effects
from .patterns import random_context
from .sources import prepare, sources_for, split_of

SR = render.SR
OUT_SR = 44100

# section label -> roles that may play (each drawn with a probability), bars
PLANS = {
    "intro": ({"percussion": 0.6, "chord": 0.5, "fx": 0.6, "melody": 0.2}, (8, 16)),
    "build-up": ({"percussion": 0.5, "chord": 0.6, "melody": 0.5, "voice": 0.4, "fx": 1.0}, (8,)),
    "drop": ({"percussion": 1.0, "bass": 1.0, "melody": 0.6, "chord": 0.4, "voice": 0.4, "fx": 0.1}, (16, 32)),
    "breakdown": ({"chord": 0.9, "melody": 0.5, "voice": 0.6, "fx": 0.5}, (16,)),
    "outro": ({"percussion": 1.0, "bass": 0.4, "fx": 0.3}, (8, 16)),
}
ORDER = ["intro", "build-up", "drop", "breakdown", "build-up", "drop", "outro"]


def arrangement(rng: np.random.Generator, bar_seconds: float) -> list[tuple[str, int, list[set[str]]]]:
    """Sections as (label, bars, active roles per 4-bar segment), 2 to 6 minutes long."""
    order = list(ORDER)
    if rng.random() < 0.4:
        order = order[:3] + ["outro"]  # a short radio edit
    out = []
    for label in order:
        probs, lengths = PLANS[label]
        bars = int(rng.choice(lengths))
        roles = {r for r, p in probs.items() if rng.random() < p}
        if not roles:
            roles = {max(probs, key=probs.get)}
        segs = []
        for k in range(bars // 4):
            s = set(roles)
            if label == "intro" and k < bars // 8 and "percussion" in s and len(s) > 1 and rng.random() < 0.5:
                s.discard("percussion")  # drums enter half-way through the intro
            if label == "build-up" and k == bars // 4 - 1:
                s.add("fx")
            segs.append(s)
        out.append((label, bars, segs))
    total = sum(b for _, b, _ in out) * bar_seconds
    while total > 360 and len(out) > 3:  # too long: shorten the longest section
        i = max(range(len(out)), key=lambda j: out[j][1])
        label, bars, segs = out[i]
        out[i] = (label, bars // 2, segs[: bars // 8])
        total = sum(b for _, b, _ in out) * bar_seconds
    while total < 120:  # too short: repeat the drop
        d = next(s for s in out if s[0] == "drop")
        out.insert(len(out) - 1, d)
        total = sum(b for _, b, _ in out) * bar_seconds
    return out


def compose(index: int, *, seed: int = 0, split: str = "test", genre: str | None = None, plan=None,
            kinds: tuple[str, ...] | None = None) -> tuple[np.ndarray, dict]:
    """One track: stereo audio at OUT_SR (shape (n, 2)) and its ground truth.
    ``plan`` (sections as in :func:`arrangement`) and ``kinds`` (allowed source
    kinds) fix what is otherwise drawn at random."""
    import pedalboard as pb
    import soxr

    rng = np.random.default_rng([seed, index, 7])
    ctx = random_context(rng, bars=4, genre=genre)
    bar = 4 * 60.0 / ctx.bpm
    seg_n = render.loop_samples(ctx)  # samples in 4 bars
    plan = plan or arrangement(rng, bar)
    stems, used = {}, {}
    for r, role in enumerate(ROLES):
        srcs = [s for s in sources_for(role, split) if kinds is None or s.kind in kinds]
        src = srcs[int(rng.integers(len(srcs)))]
        x = render.render_stem(src, ctx, np.random.default_rng([seed, index, r]))
        stems[role] = stem_effects(x, role, ctx, rng)
        stems[role] *= 0.1 * 10 ** (rng.uniform(-5, 2) / 20) / (np.sqrt(np.mean(stems[role] ** 2)) + 1e-9)
        used[role] = src.id
    # lead-in: silence, or a pickup bar of drums or fx before the first downbeat
    lead = str(rng.choice(["none", "silence", "pickup"]))
    lead_n = {"none": 0, "silence": int(rng.uniform(0.2, 2.0) * SR), "pickup": int(round(bar * SR))}[lead]
    segments = [s for _, _, segs in plan for s in segs]
    n = lead_n + seg_n * len(segments) + int(2 * SR)
    out = np.zeros(n, np.float32)
    fade = int(0.005 * SR)
    ramp = np.ones(seg_n, np.float32)
    ramp[:fade] = np.linspace(0, 1, fade)
    ramp[-fade:] = np.linspace(1, 0, fade)
    for k, active in enumerate(segments):
        i0 = lead_n + k * seg_n
        for role in active:
            out[i0:i0 + seg_n] += stems[role][:seg_n] * ramp
    if lead == "pickup":
        role = "percussion" if rng.random() < 0.6 else "fx"
        out[:lead_n] += stems[role][seg_n - lead_n:seg_n]
    out = pb.Limiter(threshold_db=-1.0)(out[None, :], SR)[0]
    out *= 0.9 / max(np.abs(out).max(), 1e-6)
    stereo = soxr.resample(np.stack([out, out], axis=1), SR, OUT_SR).astype(np.float32)
    t0 = lead_n / SR
    seg_s = seg_n / SR
    beat = seg_s / 16
    n_beats_before = int(np.floor(t0 / beat + 1e-6))
    beats = [t0 + i * beat for i in range(-n_beats_before, 16 * len(segments) + 1)]
    truth = {
        "roles": list(ROLES), "tempo": ctx.bpm, "key": ctx.key, "genre": ctx.genre, "first_downbeat": t0,
        "duration": len(stereo) / OUT_SR, "lead_in": lead, "sources": used,
        "beats": [round(b, 5) for b in beats if b >= 0],
        "downbeats": [round(t0 + i * bar, 5) for i in range(4 * len(segments) + 1)],
        "segments": [{"start": round(t0 + k * seg_s, 5), "end": round(t0 + (k + 1) * seg_s, 5), "bars": [4 * k + 1, 4 * k + 4]}
                     for k in range(len(segments))],
        "activations": [[int(role in s) for s in segments] for role in ROLES],
        "sections": [],
    }
    k = 0
    for label, bars, segs in plan:
        truth["sections"].append({"label": label, "start": round(t0 + k * seg_s, 5), "end": round(t0 + (k + len(segs)) * seg_s, 5)})
        k += len(segs)
    return stereo, truth


def save_track(audio: np.ndarray, truth: dict, path: Path) -> Path:
    """Write a composed track (16-bit, format from the suffix) and NAME.truth.json beside it."""
    import soundfile as sf

    from ..io import atomic_path, write_text

    fmt = {".wav": "WAV", ".flac": "FLAC"}[path.suffix.lower()]
    with atomic_path(path) as tmp:
        sf.write(str(tmp), audio, OUT_SR, subtype="PCM_16", format=fmt)
    write_text(path.with_suffix(".truth.json"), json.dumps(truth, indent=1))
    return path


def _one(args):
    index, seed, split, out = args
    audio, truth = compose(index, seed=seed, split=split)
    save_track(audio, truth, Path(out) / f"track_{index:03d}.wav")
    return index


def make_tracks(*, n: int, out: str | Path, seed: int = 0, split: str = "test", jobs: int = 1, progress: bool = True) -> Path:
    """Write ``n`` composed tracks with ground truth into ``out`` (test-split sources by default)."""
    require_train_packages()
    from tqdm import tqdm

    out = prepare(n, split, out, what="tracks")
    work = [(i, seed, split, str(out)) for i in range(n)]
    if jobs > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(jobs) as pool:
            list(tqdm(pool.imap(_one, work), total=n, desc="tracks", disable=not progress))
    else:
        for w in tqdm(work, desc="tracks", disable=not progress):
            _one(w)
    return out


# The bundled demo: one minute of house from sources that are CC0 (Sonic Pi's one-shot
# samples; not its breakbeat loops, which are cut from records) or synthesised by iram
# itself, so the audio can be given away under CC0.
DEMO_KINDS = ("synth", "sample", "spkit", "formant")
DEMO_PLAN = [
    ("intro", 8, [{"percussion", "chord"}, {"percussion", "chord", "fx"}]),
    ("build-up", 8, [{"chord", "melody"}, {"chord", "melody", "fx"}]),
    ("drop", 16, [{"percussion", "bass", "melody", "voice"}] * 4),
]


def refuse_held_out(folders: list[str | Path]) -> None:
    """Raise :class:`~iram.errors.DataError` if a composed track in ``folders`` was made from
    test-split sources: nothing may be trained, fitted or tuned on them."""
    held_out = {sid for sid, split in split_of().items() if split == "test"}
    for p in (p for f in folders for p in sorted(Path(f).glob("*.truth.json"))):
        if set(json.loads(p.read_text()).get("sources", {}).values()) & held_out:
            raise DataError(f"{p}: made from test-split sources; tune only on tracks made with --split valid (or train)")


def make_demo(out: str | Path, *, seed: int = 2) -> Path:
    """Write the demo track (mono FLAC) and its ground truth beside it."""
    require_train_packages()
    audio, truth = compose(0, seed=seed, split="test", genre="house", plan=DEMO_PLAN, kinds=DEMO_KINDS)
    return save_track(audio[:, 0], truth, Path(out))
