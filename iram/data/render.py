"""Render one single-role stem: a seamless loop of ``ctx.bars`` bars from one source."""
from __future__ import annotations

import re
import subprocess
from functools import lru_cache

import numpy as np

from . import patterns as pt
from . import synth
from .patterns import Context, Note
from .sources import BREAKS, SP_KITS, Source, hydrogen_kit, recorded_voices, samples_dir, soundfont_path

SR = 16000
GM_DRUM_NOTES = {pt.KICK: (36, 35), pt.SNARE: (38, 40), pt.CLAP: (39,), pt.HAT: (42, 44), pt.OPEN: (46,),
                 pt.TOM: (45, 47, 50), pt.CYMBAL: (49, 51, 57), pt.PERC: (56, 75, 37, 70)}
FALLBACK = {pt.KICK: pt.TOM, pt.CLAP: pt.SNARE, pt.OPEN: pt.HAT, pt.CYMBAL: pt.OPEN, pt.PERC: pt.TOM, pt.TOM: pt.SNARE, pt.SNARE: pt.CLAP,
            pt.HAT: pt.PERC}


def loop_samples(ctx: Context, sr: int = SR) -> int:
    return int(round(ctx.beats * 60.0 / ctx.bpm * sr))


# --- audio material ---------------------------------------------------------
@lru_cache(maxsize=512)
def load_sample(path: str, sr: int = SR) -> np.ndarray:
    import soundfile as sf
    import soxr

    x, r = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if r != sr:
        x = soxr.resample(x, r, sr)
    peak = np.abs(x).max()
    return (x / peak if peak > 0 else x).astype(np.float32)


def trimmed(x: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """``x`` without the leading and trailing samples quieter than ``floor``."""
    nz = np.flatnonzero(np.abs(x) > floor)
    return x[nz[0]:nz[-1] + 1] if len(nz) else x


def sonic_pi(name: str) -> np.ndarray:
    return load_sample(str(samples_dir() / f"{name}.flac"))


@lru_cache(maxsize=256)
def espeak(voice: str, text: str, pitch: int, speed: int, sr: int = SR) -> np.ndarray:
    import io

    import soundfile as sf
    import soxr

    wav = subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "--stdout", text],
                         capture_output=True, check=True).stdout
    x, r = sf.read(io.BytesIO(wav), dtype="float32")
    x = trimmed(soxr.resample(x, r, sr) if r != sr else x)
    return x / max(np.abs(x).max(), 1e-6)


def repitch(x: np.ndarray, semitones: float) -> np.ndarray:
    """Resample ``x`` so it sounds ``semitones`` higher (and shorter)."""
    ratio = 2.0 ** (semitones / 12)
    m = int(len(x) / ratio)
    idx = np.arange(m) * ratio
    idx = idx[idx < len(x) - 1]
    return np.interp(idx, np.arange(len(x)), x)


def place(out: np.ndarray, x: np.ndarray, i0: int, gain: float = 1.0, fade: int = 64) -> None:
    if i0 >= len(out) or len(x) == 0:
        return
    m = min(len(x), len(out) - i0)
    y = x[:m] * gain
    if m > 2 * fade:
        y = y.copy()
        y[-fade:] *= np.linspace(1, 0, fade)
    out[i0:i0 + m] += y


def _time(ctx: Context, beat: float) -> int:
    return int(ctx.seconds(beat) * SR)


# --- FluidSynth ----------------------------------------------------------------
def _write_float(fs, n: int) -> np.ndarray:
    """n stereo frames as float32 (n, 2). FluidSynth's 16-bit output adds dither
    from a process-wide random table, which would make renders depend on the
    process; float output has none, so the same seed gives the same file."""
    import ctypes

    import fluidsynth

    buf = np.zeros(2 * n, np.float32)
    f = fluidsynth._fl.fluid_synth_write_float
    f.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    ptr = buf.ctypes.data
    f(fs.synth, n, ptr, 0, 2, ptr, 1, 2)
    return buf.reshape(-1, 2)


def fluid(notes: list[Note], ctx: Context, n: int, *, program: int, bank: int = 0, channel: int = 0) -> np.ndarray:
    """Render notes through a fresh FluidSynth (reverb and chorus off) at SR."""
    import fluidsynth

    fs = fluidsynth.Synth(samplerate=float(SR), gain=0.6, **{"synth.reverb.active": 0, "synth.chorus.active": 0})
    try:
        sfid = fs.sfload(str(soundfont_path()))
        fs.program_select(channel, sfid, bank, program)
        events = []
        for nt in notes:
            on = _time(ctx, nt.start)
            off = _time(ctx, nt.start + nt.dur)
            v = int(np.clip(nt.vel * 127, 1, 127))
            events += [(on, 1, nt.pitch, v), (max(off, on + 1), 0, nt.pitch, 0)]
        events.sort(key=lambda e: (e[0], e[1]))
        chunks, pos = [], 0
        for t, kind, p, v in events:
            t = min(t, n)
            if t > pos:
                chunks.append(_write_float(fs, t - pos))
                pos = t
            if kind:
                fs.noteon(channel, p, v)
            else:
                fs.noteoff(channel, p)
        if n > pos:
            chunks.append(_write_float(fs, n - pos))
    finally:
        fs.delete()
    return np.concatenate(chunks).mean(axis=1)[:n]


# --- per-kind renderers ---------------------------------------------------------
def _pitched_part(role: str, ctx: Context, rng: np.random.Generator) -> list[Note]:
    if role == "bass":
        return pt.bass_part(ctx, rng)
    if role == "chord":
        return pt.chord_part(ctx, rng)
    if role in ("melody", "voice"):
        return pt.melody_part(ctx, rng)
    if role == "percussion":  # tuned percussion: the drum rhythm on chord tones
        ps = pt.chord_pitches(ctx, 0, octave_c=48)
        return [Note(d.start, d.dur, ps[d.pitch % 3] + (12 if d.pitch > 2 else 0), d.vel) for d in pt.drum_part(ctx, rng)]
    if role == "fx":  # long held notes: GM fx programs are textures
        return [Note(b * 4, 4.0, int(rng.integers(48, 72)), 0.8) for b in range(ctx.bars)]
    raise ValueError(role)


def _drum_kit_samples(src: Source) -> dict[int, list[np.ndarray]]:
    if src.kind == "kit":
        files = hydrogen_kit(src.ref)
        named = {pt.DRUMS.index(cat): [load_sample(str(f)) for f in fs[:3]] for cat, fs in files.items()}
    else:
        named = {pt.DRUMS.index(cat): [sonic_pi(s) for s in names] for cat, names in SP_KITS[src.ref].items()}
    return named


def _drums_from_samples(kit: dict[int, list[np.ndarray]], notes: list[Note], ctx, n, rng) -> np.ndarray:
    out = np.zeros(n)
    choice = {c: v[int(rng.integers(len(v)))] for c, v in kit.items()}
    for nt in notes:
        cat, hops = nt.pitch, 0
        while cat not in choice and hops < 8:
            cat, hops = FALLBACK[cat], hops + 1
        hit = choice[cat] if cat in choice else next(iter(choice.values()))
        place(out, hit[: int(0.8 * SR)], _time(ctx, nt.start), nt.vel)
    return out


def _break(src: Source, ctx: Context, n: int, rng: np.random.Generator) -> np.ndarray:
    x = sonic_pi(src.ref)
    dur = len(x) / SR
    # stretched over whole bars so that its beats land on ours (or on every other one, or
    # twice as often): of its beat count times 2**k, the whole bars whose tempo is nearest ours
    counts = [c for c in BREAKS[src.ref] * 2.0 ** np.arange(-3, 5) if c % 4 == 0 and 4 <= c <= 32]
    beats = min(counts, key=lambda b: abs(np.log(60 * b / dur / ctx.bpm)))
    target = int(round(beats * 60 / ctx.bpm * SR))
    y = np.interp(np.linspace(0, len(x) - 1, target), np.arange(len(x)), x)
    reps = int(np.ceil(n / len(y)))
    return np.tile(y, reps)[:n]


def base_pitch(name: str) -> int:
    """MIDI pitch a Sonic Pi sample is named after: ``bass_hit_c`` -> C2 (36),
    ``tbd_highkey_c4`` -> C4 (60); names without a note count as C4."""
    m = re.search(r"_([a-g])(\d?)$", name)
    if not m:
        return 60
    note = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}[m.group(1)]
    return note + (12 * (int(m.group(2)) + 1) if m.group(2) else 36)


def _sampler(src: Source, ctx: Context, n: int, rng: np.random.Generator) -> np.ndarray:
    x = sonic_pi(src.ref)
    out = np.zeros(n)
    base = base_pitch(src.ref)
    role = src.role
    if role == "fx":
        bar = int(4 * 60 / ctx.bpm * SR)
        y = x[::-1] if rng.random() < 0.3 else x
        if len(y) >= bar:  # a texture: loop it from a random point
            start = int(rng.integers(0, max(1, len(y) - n))) if len(y) > n else 0
            return np.resize(y[start:], n)
        for i in range(0, n, bar if rng.random() < 0.5 else bar // 2):
            place(out, y, i)
        return out
    if role == "chord":
        for b in range(ctx.bars):
            root = pt.degree_pitch(ctx, ctx.chord_root(b), 48)
            place(out, repitch(x, root - base - 12 * round((root - base) / 12))[: int(4 * 60 / ctx.bpm * SR)], _time(ctx, 4 * b))
        return out
    notes = pt.bass_part(ctx, rng) if role == "bass" else pt.melody_part(ctx, rng)
    for nt in notes:
        semis = nt.pitch - base
        semis -= 12 * round(semis / 12) if role != "bass" else 12 * round(semis / 24)
        seg = repitch(x, semis)[: max(1, int(nt.dur * 60 / ctx.bpm * SR))]
        place(out, seg, _time(ctx, nt.start), nt.vel, fade=256)
    return out


def _voice(phrase, ctx: Context, n: int, rng: np.random.Generator) -> np.ndarray:
    """Spoken phrases (one every bar or two) or vocal chops re-pitched to a melody;
    ``phrase()`` draws one utterance (mono float, SR, trimmed)."""
    out = np.zeros(n)
    if rng.random() < 0.5:
        every = int(rng.choice([1, 2])) if ctx.bars > 1 else 1
        for b in range(0, ctx.bars, every):
            x = phrase()
            place(out, x[: int(every * 4 * 60 / ctx.bpm * SR)], _time(ctx, 4 * b + float(rng.choice([0, 0.5, 1]))))
        return out
    x = phrase()
    notes = pt.melody_part(ctx, rng)
    ref = notes[0].pitch if notes else 72
    for nt in notes:
        i = int(rng.integers(0, max(1, len(x) - SR // 4)))
        seg = repitch(x[i:i + SR], (nt.pitch - ref) % 12 - 5)[: max(1, int(nt.dur * 60 / ctx.bpm * SR))]
        place(out, seg, _time(ctx, nt.start), nt.vel, fade=128)
    return out


def _espeak(src: Source, ctx: Context, n: int, rng: np.random.Generator) -> np.ndarray:
    pitch = int(rng.choice([20, 40, 50, 60, 80]))
    speed = int(rng.choice([130, 160, 190]))
    return _voice(lambda: espeak(src.ref, str(rng.choice(pt.SPEECH)), pitch, speed), ctx, n, rng)


def _recorded(src: Source, ctx: Context, n: int, rng: np.random.Generator) -> np.ndarray:
    files = recorded_voices()[src.ref]
    return _voice(lambda: trimmed(load_sample(str(files[int(rng.integers(len(files)))]))), ctx, n, rng)


def render_stem(src: Source, ctx: Context, rng: np.random.Generator) -> np.ndarray:
    """A seamless loop (float64, mono, SR) of ``src`` playing its role in ``ctx``.

    One extra bar is rendered and its tail folded onto the start, so the loop
    wraps without a click and release tails are not lost.
    """
    n = loop_samples(ctx)
    total = n + int(4 * 60 / ctx.bpm * SR)
    role, kind = src.role, src.kind
    if kind == "gm":
        x = fluid(_pitched_part(role, ctx, rng), ctx, total, program=int(src.ref))
    elif kind == "gmdrums":
        key = {c: int(rng.choice(v)) for c, v in GM_DRUM_NOTES.items()}  # one sound per category
        notes = [Note(d.start, 0.1, key[d.pitch], d.vel) for d in pt.drum_part(ctx, rng)]
        x = fluid(notes, ctx, total, program=int(src.ref), bank=128, channel=9)
    elif kind in ("kit", "spkit"):
        x = _drums_from_samples(_drum_kit_samples(src), pt.drum_part(ctx, rng), ctx, total, rng)
    elif kind == "break":
        return _break(src, ctx, n, rng)
    elif kind == "sample":
        x = _sampler(src, ctx, total, rng)
    elif kind == "espeak":
        x = _espeak(src, ctx, total, rng)
    elif kind == "recorded":
        x = _recorded(src, ctx, total, rng)
    elif kind == "formant":
        x = synth.sing(src.ref, pt.melody_part(ctx, rng, style="long" if rng.random() < 0.5 else "motif"), ctx, total, SR, rng)
    elif kind == "synth":
        if role == "fx":
            return synth.fx_layer(src.ref, ctx, n, SR, rng)
        if role == "percussion":
            x = np.zeros(total)
            if src.ref == "glitchperc":
                for d in pt.drum_part(ctx, rng):
                    place(x, synth.glitch_hit(SR, rng), _time(ctx, d.start), d.vel)
            else:
                prm = synth.drum_params(rng, src.ref)
                hits = {c: synth.drum_hit(c, SR, rng, prm) for c in range(8)}
                for d in pt.drum_part(ctx, rng):
                    place(x, hits[d.pitch], _time(ctx, d.start), d.vel)
        else:
            x = synth.render_notes(src.ref, _pitched_part(role, ctx, rng), ctx, total, SR, rng)
    else:
        raise ValueError(f"unknown source kind {kind}")
    x = np.asarray(x, dtype=np.float64)
    y = x[:n].copy()
    tail = x[n:]
    y[: len(tail)] += tail[: n]
    return y
