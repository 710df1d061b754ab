"""Small numpy synthesisers for sounds a General MIDI soundfont does badly:
808s, reese and acid basses, supersaws, FM bells, risers, impacts, glitches,
and sung vowels from a formant filter bank. Filters come from scipy.signal.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

from .patterns import CLAP, CYMBAL, HAT, KICK, OPEN, SNARE, TOM, Context, Note


def hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def env_adsr(n: int, sr: int, a: float, d: float, s: float, r: float, gate: int) -> np.ndarray:
    """ADSR envelope of ``n`` samples; the release starts at sample ``gate``."""
    t = np.arange(n) / sr
    e = np.where(t < a, t / max(a, 1e-4), s + (1 - s) * np.exp(-(t - a) / max(d, 1e-4)))
    g = min(gate, n)
    if g < n:
        level = e[g - 1] if g > 0 else 0.0
        e[g:] = level * np.exp(-(t[g:] - t[g]) / max(r, 1e-4))
    return e


def osc(kind: str, f: np.ndarray | float, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    f = np.broadcast_to(np.asarray(f, dtype=np.float64), (n,))
    ph = np.cumsum(f) / sr + rng.random()
    if kind == "sine":
        return np.sin(2 * np.pi * ph)
    if kind == "saw":
        return 2 * (ph % 1.0) - 1
    if kind == "square":
        return np.sign(np.sin(2 * np.pi * ph))
    if kind == "tri":
        return 2 * np.abs(2 * (ph % 1.0) - 1) - 1
    raise ValueError(kind)


@lru_cache(maxsize=4096)
def _butter(order: int, step: int, btype: str, sr: int) -> np.ndarray:
    return signal.butter(order, 30.0 * 2 ** (step / 24), btype=btype, fs=sr, output="sos")


def sweep(x: np.ndarray, cutoffs: np.ndarray, sr: int, *, btype: str = "low", order: int = 2, block: int = 256) -> np.ndarray:
    """Filter ``x`` with a cutoff (Hz) that changes every ``block`` samples; the
    filter state carries across blocks. ``cutoffs`` has one value per block,
    quantised to quarter-tone steps so the filter designs can be cached."""
    out = np.empty_like(x)
    zi = None
    for i in range(0, len(x), block):
        fc = float(np.clip(cutoffs[min(i // block, len(cutoffs) - 1)], 30, 0.45 * sr))
        sos = _butter(order, int(round(24 * np.log2(fc / 30.0))), btype, sr)
        if zi is None:
            zi = np.zeros((sos.shape[0], 2))
        out[i:i + block], zi = signal.sosfilt(sos, x[i:i + block], zi=zi)
    return out


def lowpass(x: np.ndarray, fc: float, sr: int, order: int = 2) -> np.ndarray:
    return signal.sosfilt(signal.butter(order, min(fc, 0.45 * sr), fs=sr, output="sos"), x)


def highpass(x: np.ndarray, fc: float, sr: int, order: int = 2) -> np.ndarray:
    return signal.sosfilt(signal.butter(order, fc, btype="high", fs=sr, output="sos"), x)


def bandpass(x: np.ndarray, lo: float, hi: float, sr: int, order: int = 2) -> np.ndarray:
    return signal.sosfilt(signal.butter(order, [lo, min(hi, 0.45 * sr)], btype="band", fs=sr, output="sos"), x)


# --- pitched presets --------------------------------------------------------
def _voice(preset: str, p: float, n: int, gate: int, sr: int, rng: np.random.Generator, prm: dict) -> np.ndarray:
    f = hz(p)
    t = np.arange(n) / sr
    if preset == "sub808":
        fr = f * (1 + 1.0 * np.exp(-t / 0.03))
        return np.tanh(1.5 * osc("sine", fr, n, sr, rng)) * env_adsr(n, sr, 0.002, 0.6, 0.5, 0.08, gate)
    if preset == "reese":
        x = osc("saw", f * 0.995, n, sr, rng) + osc("saw", f * 1.007, n, sr, rng)
        return lowpass(x, prm["cut"], sr) * env_adsr(n, sr, 0.01, 0.3, 0.9, 0.05, gate)
    if preset == "acid":
        x = osc(prm["wave"], f, n, sr, rng)
        cut = prm["cut"] * (1 + 6 * np.exp(-np.arange(0, n, 256) / sr / 0.08))
        return sweep(x, cut, sr, order=4) * env_adsr(n, sr, 0.003, 0.2, 0.6, 0.03, gate)
    if preset == "fmbass":
        m = np.sin(2 * np.pi * f * prm["ratio"] * t) * prm["index"] * np.exp(-t / 0.15)
        return np.sin(2 * np.pi * f * t + m) * env_adsr(n, sr, 0.003, 0.3, 0.7, 0.05, gate)
    if preset == "squarebass":
        return lowpass(osc("square", f, n, sr, rng), prm["cut"], sr) * env_adsr(n, sr, 0.005, 0.2, 0.8, 0.04, gate)
    if preset == "wobble":
        lfo = 0.5 + 0.5 * np.sin(2 * np.pi * prm["lfo"] * t)
        x = osc("saw", f, n, sr, rng) + 0.5 * osc("square", f * 0.5, n, sr, rng)
        return sweep(x, 150 + 2500 * lfo[::256], sr, order=4) * env_adsr(n, sr, 0.005, 0.3, 0.9, 0.05, gate)
    if preset in ("pluckbass", "pluckchord", "kspluck"):
        x = osc("saw", f, n, sr, rng) + 0.3 * rng.standard_normal(n) * np.exp(-t / 0.01)
        cut = f * (1.5 + 12 * np.exp(-np.arange(0, n, 256) / sr / prm["decay"]))
        return sweep(x, cut, sr) * env_adsr(n, sr, 0.002, prm["decay"] * 3, 0.0, 0.05, gate)
    if preset == "supersaw":
        det = np.linspace(-prm["detune"], prm["detune"], 5)
        x = sum(osc("saw", f * (1 + d), n, sr, rng) for d in det) / 3
        return lowpass(x, prm["cut"], sr) * env_adsr(n, sr, prm["attack"], 0.5, 0.8, 0.2, gate)
    if preset in ("squarestab", "arpsquare"):
        return lowpass(osc("square", f, n, sr, rng), 3000, sr) * env_adsr(n, sr, 0.002, 0.12, 0.3, 0.05, gate)
    if preset == "organ":
        x = sum(a * np.sin(2 * np.pi * f * h * t) for h, a in zip((1, 2, 3, 4, 6, 8), prm["bars"]))
        return x * env_adsr(n, sr, 0.005, 0.1, 1.0, 0.03, gate)
    if preset == "softpad":
        x = osc("tri", f * (1 + 0.003 * np.sin(2 * np.pi * 0.3 * t)), n, sr, rng) + 0.5 * osc("sine", 2 * f, n, sr, rng)
        return x * env_adsr(n, sr, prm["attack"], 0.5, 0.9, 0.4, gate)
    if preset in ("fmkeys", "fmbell"):
        idx = prm["index"] * np.exp(-t / prm["decay"])
        x = np.sin(2 * np.pi * f * t + idx * np.sin(2 * np.pi * f * prm["ratio"] * t))
        return x * env_adsr(n, sr, 0.002, prm["decay"] * 2, 0.2 if preset == "fmkeys" else 0.0, 0.3, gate)
    if preset in ("sawlead", "squarelead", "sinelead"):
        vib = 1 + 0.004 * np.sin(2 * np.pi * 5.5 * t) * np.clip(t / 0.3, 0, 1)
        wave = {"sawlead": "saw", "squarelead": "square", "sinelead": "sine"}[preset]
        x = osc(wave, f * vib, n, sr, rng)
        if wave != "sine":
            x = lowpass(x, prm["cut"], sr)
        return x * env_adsr(n, sr, 0.01, 0.2, 0.8, 0.08, gate)
    raise ValueError(preset)


PRESET_PARAMS = {
    "reese": lambda r: dict(cut=r.uniform(250, 900)),
    "acid": lambda r: dict(cut=r.uniform(200, 700), wave=str(r.choice(["saw", "square"]))),
    "fmbass": lambda r: dict(ratio=float(r.choice([0.5, 1.0, 2.0])), index=r.uniform(1, 4)),
    "squarebass": lambda r: dict(cut=r.uniform(300, 1200)),
    "wobble": lambda r: dict(lfo=float(r.choice([2, 3, 4, 6]))),
    "pluckbass": lambda r: dict(decay=r.uniform(0.05, 0.2)),
    "pluckchord": lambda r: dict(decay=r.uniform(0.05, 0.25)),
    "kspluck": lambda r: dict(decay=r.uniform(0.05, 0.3)),
    "supersaw": lambda r: dict(detune=r.uniform(0.005, 0.02), cut=r.uniform(2000, 6000), attack=r.uniform(0.01, 0.4)),
    "organ": lambda r: dict(bars=r.uniform(0, 1, 6) * np.array([1, 0.8, 0.6, 0.5, 0.3, 0.3])),
    "softpad": lambda r: dict(attack=r.uniform(0.2, 0.8)),
    "fmkeys": lambda r: dict(ratio=1.0, index=r.uniform(1, 3), decay=r.uniform(0.3, 1.0)),
    "fmbell": lambda r: dict(ratio=float(r.choice([3.5, 2.76, 1.4])), index=r.uniform(2, 5), decay=r.uniform(0.2, 0.8)),
    "sawlead": lambda r: dict(cut=r.uniform(1500, 6000)),
    "squarelead": lambda r: dict(cut=r.uniform(1500, 6000)),
}


def render_notes(preset: str, notes: list[Note], ctx: Context, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Render pitched ``notes`` with a numpy ``preset`` into ``n`` samples."""
    prm = PRESET_PARAMS.get(preset, lambda r: {})(rng)
    out = np.zeros(n)
    tail = int(0.3 * sr)
    for nt in notes:
        i0 = int(ctx.seconds(nt.start) * sr)
        if i0 >= n:
            continue
        gate = max(1, int(nt.dur * 60 / ctx.bpm * sr))
        m = min(gate + tail, n - i0)
        out[i0:i0 + m] += nt.vel * _voice(preset, nt.pitch, m, gate, sr, rng, prm)
    return out


# --- drums ------------------------------------------------------------------
def drum_hit(cat: int, sr: int, rng: np.random.Generator, prm: dict) -> np.ndarray:
    n = int(0.5 * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    if cat == KICK:
        f = prm["kf"] * (1 + prm["kglide"] * np.exp(-t / 0.04))
        return np.tanh(2 * np.sin(2 * np.pi * np.cumsum(f) / sr)) * np.exp(-t / prm["kdecay"])
    if cat in (SNARE, CLAP):
        body = np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.05) if cat == SNARE else 0
        env = np.exp(-t / 0.12) if cat == SNARE else sum(np.exp(-np.clip(t - k * 0.01, 0, None) / 0.02) * (t >= k * 0.01) for k in range(3)) / 2
        return 0.5 * body + bandpass(noise, 900, 7000, sr) * env
    if cat in (HAT, OPEN, CYMBAL):
        d = {HAT: 0.03, OPEN: 0.25, CYMBAL: 0.6}[cat]
        return highpass(noise, prm["hatf"], sr, 4) * np.exp(-t / d) * 0.6
    if cat == TOM:
        return np.sin(2 * np.pi * np.cumsum(140 * (1 + 0.5 * np.exp(-t / 0.05))) / sr) * np.exp(-t / 0.2)
    # PERC: metallic blip
    return np.sin(2 * np.pi * prm["pf"] * t) * np.sin(2 * np.pi * prm["pf"] * 1.48 * t) * np.exp(-t / 0.04)


def drum_params(rng: np.random.Generator, preset: str) -> dict:
    return dict(kf=rng.uniform(40, 60) if preset == "synthdrums808" else rng.uniform(50, 70),
                kglide=rng.uniform(1.5, 4), kdecay=rng.uniform(0.15, 0.6) if preset == "synthdrums808" else rng.uniform(0.1, 0.25),
                hatf=rng.uniform(5000, 7000), pf=rng.uniform(500, 1500))


def glitch_hit(sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(rng.uniform(0.03, 0.15) * sr)
    x = rng.standard_normal(n) if rng.random() < 0.5 else osc("square", rng.uniform(100, 2000), n, sr, rng)
    levels = 2 ** int(rng.integers(2, 5))
    return np.round(x * levels) / levels * np.exp(-np.arange(n) / (0.3 * n))


# --- fx ---------------------------------------------------------------------
def fx_layer(preset: str, ctx: Context, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A continuous fx layer filling ``n`` samples (so any crop of it holds fx)."""
    t = np.arange(n) / sr
    bar = int(4 * 60 / ctx.bpm * sr)
    noise = rng.standard_normal(n)
    if preset == "riser":
        span = n if rng.random() < 0.5 else bar * max(1, ctx.bars // 2)
        pos = (np.arange(n) % span) / span
        x = sweep(noise, 300 * 40 ** pos[::256], sr, btype="low") * (0.2 + pos)
        return x + 0.3 * osc("saw", 200 * 4 ** pos, n, sr, rng) * pos
    if preset == "downlifter":
        pos = (np.arange(n) % bar) / bar
        return sweep(noise, 8000 * 0.02 ** pos[::256], sr) * np.exp(-pos * 3)
    if preset == "impact":
        out = np.zeros(n)
        k = np.arange(bar)
        hit = np.sin(2 * np.pi * np.cumsum(60 * (1 + 3 * np.exp(-k / sr / 0.1))) / sr) * np.exp(-k / sr / 0.8)
        hit += 0.5 * lowpass(rng.standard_normal(bar), 2000, sr) * np.exp(-k / sr / 0.3)
        for i in range(0, n, bar):
            out[i:i + bar] += hit[: n - i]
        return out
    if preset == "reversecrash":
        k = np.arange(bar)
        c = highpass(rng.standard_normal(bar), 4000, sr) * np.exp(-k / sr / 0.8)
        out = np.zeros(n)
        for i in range(0, n, bar):
            out[i:i + bar] += c[::-1][: n - i]
        return out
    if preset == "noisesweep":
        rate = float(rng.choice([0.125, 0.25, 0.5])) * ctx.bpm / 60
        return sweep(noise, 500 + 6000 * (0.5 + 0.5 * np.sin(2 * np.pi * rate * t[::256])), sr, btype="low") * 0.5
    if preset == "glitch":
        out = np.zeros(n)
        step = int(60 / ctx.bpm / 4 * sr)
        for i in range(0, n - step, step):
            if rng.random() < 0.45:
                h = glitch_hit(sr, rng)
                out[i:i + len(h)] += h[: n - i]
        return out
    if preset == "laser":
        out = np.zeros(n)
        beat = int(60 / ctx.bpm * sr)
        m = beat // 2
        k = np.arange(m) / sr
        z = osc("square", 3000 * np.exp(-k / 0.05) + 100, m, sr, rng) * np.exp(-k / 0.1) * 0.5
        for i in range(0, n - m, beat):
            out[i:i + m] += z
        return out
    raise ValueError(preset)


# --- sung vowels --------------------------------------------------------------
FORMANTS = {  # vowel: (F1, F2, F3) Hz, roughly
    "a": (800, 1150, 2900), "e": (400, 1600, 2700), "i": (350, 2000, 2800),
    "o": (450, 800, 2830), "u": (325, 700, 2530),
}
FORMANT_VOICE = {  # voice: (octave shift in MIDI, formant scale, breath)
    "soprano": (12, 1.15, 0.02), "alto": (0, 1.05, 0.02), "tenor": (-12, 1.0, 0.02),
    "bass": (-24, 0.9, 0.01), "child": (12, 1.3, 0.03), "breathy": (0, 1.1, 0.25),
}


def sing(voice: str, notes: list[Note], ctx: Context, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Sung vowels: a glottal pulse train through three formant resonators."""
    shift, scale, breath = FORMANT_VOICE[voice]
    out = np.zeros(n)
    for nt in notes:
        i0 = int(ctx.seconds(nt.start) * sr)
        m = min(int(nt.dur * 60 / ctx.bpm * sr) + int(0.1 * sr), n - i0)
        if m <= 16:
            continue
        t = np.arange(m) / sr
        f = hz(nt.pitch + shift) * (1 + 0.012 * np.sin(2 * np.pi * 5.2 * t) * np.clip(t / 0.25, 0, 1))
        src = osc("saw", f, m, sr, rng) + breath * rng.standard_normal(m)
        vowel = FORMANTS[str(rng.choice(list(FORMANTS)))]
        x = sum(bandpass(src, 0.85 * fm * scale, 1.15 * fm * scale, sr) * g for fm, g in zip(vowel, (1.0, 0.6, 0.3)))
        out[i0:i0 + m] += nt.vel * x * env_adsr(m, sr, 0.05, 0.3, 0.85, 0.1, m - int(0.1 * sr))
    return out
