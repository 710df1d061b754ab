"""Real recorded voices over real instrumentals: training material for the voice role.

Each example is one 4-bar segment of a rendered tracker module (``iram data modules``) whose
voice role is off in the truth (an instrumental), with a recorded speaker of the same split
(:func:`iram.data.sources.recorded_voices`: spoken phrases or re-pitched chops, as
``iram data loops`` renders them) laid over it at the module's tempo, from the segment's
downbeat. The truth is the module's, with voice on. Output: ``NAME.wav`` + ``NAME.truth.json``
per example, the annotated-track format ``iram train --tracks`` reads.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..roles import ROLES

VOICE_DB = (-12.0, 0.0)  # voice RMS against the instrumental's, drawn per example


def instrumental_segments(modules: str | Path, split: str) -> list[tuple]:
    """(truth, segment index) of every segment of ``split`` whose voice is known to be off."""
    from .modules import load_set

    return [(t, j) for t in load_set(modules, split=split) for j in range(t.roles.shape[1])
            if t.roles[ROLES.index("voice"), j] == 0]


def at_rate(x: np.ndarray, sr: int, to: int) -> np.ndarray:
    """``x`` at ``sr`` resampled to ``to`` (the module's rate: stems render at 16 kHz, mixes at 44.1 kHz)."""
    import soxr

    return x if sr == to else soxr.resample(x, sr, to)


def make_voiceovers(*, modules: str | Path, split: str, n: int, out: str | Path, seed: int = 0) -> Path:
    """Write ``n`` voice-over examples from ``split`` of the modules rendered in ``modules`` into ``out``."""
    import soundfile as sf

    from ..io import atomic_path, output_dir, write_text
    from . import patterns as pt
    from .render import SR as RENDER_SR
    from .render import render_stem
    from .sources import SPLITS, VOICE_PACKAGES, sources_for

    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose train, valid or test")
    if n <= 0:
        raise DataError(f"--n must be a positive number of examples, got {n}")
    voices = [s for s in sources_for("voice", split) if s.kind == "recorded"]
    if not voices:
        raise DataError(f"no recorded voices found; install Debian packages {VOICE_PACKAGES}")
    segs = instrumental_segments(modules, split)
    if not segs:
        raise DataError(f"{modules}: no instrumental 4-bar segment in split {split!r}; render with 'iram data modules --out {modules}'")
    out = output_dir(out, option="--out", error=DataError)
    rng = np.random.default_rng(seed)
    for k in range(n):
        t, j = segs[int(rng.integers(len(segs)))]
        s, e = (float(v) for v in t.intervals[j])
        info = sf.info(str(t.audio))
        x, _ = sf.read(str(t.audio), start=int(s * info.samplerate), stop=int(e * info.samplerate), dtype="float32", always_2d=True)
        x = x.mean(axis=1)
        bpm = 4 * 4 * 60.0 / (e - s)  # four 4/4 bars: the segment's own tempo
        ctx = pt.random_context(rng, bars=4)
        ctx = pt.Context(ctx.genre, bpm, ctx.tonic, ctx.mode, 4, ctx.progression, 0.0)
        v = np.zeros(len(x))
        while not np.any(v):  # a render can miss the window: draw again
            v = at_rate(render_stem(voices[int(rng.integers(len(voices)))], ctx, rng), RENDER_SR, info.samplerate)[: len(x)]
            v = np.pad(v, (0, len(x) - len(v)))
        rms_x, rms_v = float(np.sqrt(np.mean(x ** 2))), float(np.sqrt(np.mean(v ** 2)))
        y = x + v * (max(rms_x, 1e-3) / rms_v) * 10 ** (rng.uniform(*VOICE_DB) / 20)
        y = (y / max(1.0, float(np.abs(y).max()) / 0.99)).astype(np.float32)
        labels = np.nan_to_num(t.roles[:, j], nan=-1.0)
        labels[ROLES.index("voice")] = 1.0
        name = f"voiceover_{k:05d}"
        with atomic_path(out / f"{name}.wav") as tmp:
            sf.write(tmp, y, info.samplerate, subtype="PCM_16", format="WAV")
        truth = {"roles": list(ROLES), "segments": [{"start": 0.0, "end": round(len(y) / info.samplerate, 6)}],
                 "activations": [[None if v_ < 0 else float(v_)] for v_ in labels], "source": {"module": t.name, "segment": j}}
        write_text(out / f"{name}.truth.json", json.dumps(truth))
    return out
