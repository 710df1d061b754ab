"""Music for the loops: genre families, keys, chord progressions and per-role parts.

Parts are lists of :class:`Note` in beats (quarter notes) from the loop start;
the renderers turn them into sound. Drum parts use ``pitch`` for a drum
category index (see :data:`DRUMS`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GENRES: dict[str, dict] = {
    # name: tempo range, swing range, drum style, bass styles, chord styles, melody styles
    "house": dict(bpm=(120, 130), swing=(0.0, 0.12), drums="four", bass=("offbeat", "octave", "sustain")),
    "techno": dict(bpm=(124, 132), swing=(0.0, 0.05), drums="techno", bass=("rolling", "offbeat")),
    "trance": dict(bpm=(136, 142), swing=(0.0, 0.0), drums="four", bass=("rolling", "offbeat")),
    "garage": dict(bpm=(130, 140), swing=(0.12, 0.3), drums="twostep", bass=("sustain", "syncopated")),
    "dubstep": dict(bpm=(140, 150), swing=(0.0, 0.08), drums="halftime", bass=("wobble", "sustain")),
    "trap": dict(bpm=(140, 150), swing=(0.0, 0.1), drums="trap", bass=("glide808", "sustain")),
    "dnb": dict(bpm=(160, 175), swing=(0.0, 0.05), drums="dnb", bass=("sustain", "syncopated")),
    "jungle": dict(bpm=(160, 175), swing=(0.0, 0.1), drums="break", bass=("sustain", "syncopated")),
    "hiphop": dict(bpm=(80, 100), swing=(0.1, 0.33), drums="boombap", bass=("syncopated", "sustain")),
    "downtempo": dict(bpm=(70, 110), swing=(0.0, 0.2), drums="sparse", bass=("sustain", "octave")),
}

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PROGRESSIONS = {  # scale degrees (0-based), one chord per bar
    "major": [(0, 4, 5, 3), (5, 3, 0, 4), (0, 3, 4, 3), (0, 5, 3, 4), (3, 0, 4, 5), (0, 0, 3, 4)],
    "minor": [(0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4), (0, 3, 6, 2), (0, 0, 5, 6)],
}
DRUMS = ("kick", "snare", "clap", "hat", "open", "tom", "cymbal", "perc")
KICK, SNARE, CLAP, HAT, OPEN, TOM, CYMBAL, PERC = range(8)


@dataclass(frozen=True)
class Note:
    start: float  # beats from loop start
    dur: float  # beats
    pitch: int  # MIDI note, or drum category for drum parts
    vel: float = 0.8  # 0..1


@dataclass(frozen=True)
class Context:
    """What the stems of one mix share: they are matched in tempo, key and harmony."""

    genre: str
    bpm: float
    tonic: int  # pitch class 0..11
    mode: str  # major | minor
    bars: int  # loop length in bars (4/4)
    progression: tuple[int, ...] = field(default=(0, 0, 0, 0))
    swing: float = 0.0

    @property
    def key(self) -> str:
        names = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
        return f"{names[self.tonic]} {self.mode}"

    @property
    def beats(self) -> int:
        return 4 * self.bars

    def seconds(self, beat: float) -> float:
        """Beat position to seconds, with swing delaying every second 16th."""
        sixteenth = beat * 4
        frac = sixteenth - np.floor(sixteenth)
        off = self.swing * 0.25 if (int(np.floor(sixteenth)) % 2 == 1 and frac < 1e-6) else 0.0
        return (beat + off) * 60.0 / self.bpm

    def chord_root(self, bar: int) -> int:
        """Degree of the chord of bar ``bar`` (progressions cycle every 4 bars)."""
        return self.progression[bar % len(self.progression)]


def random_context(rng: np.random.Generator, *, bars: int | None = None, genre: str | None = None) -> Context:
    genre = genre or str(rng.choice(list(GENRES)))
    g = GENRES[genre]
    mode = "minor" if rng.random() < 0.65 else "major"
    prog = PROGRESSIONS[mode][rng.integers(len(PROGRESSIONS[mode]))]
    return Context(
        genre=genre,
        bpm=float(np.round(rng.uniform(*g["bpm"]), 1)),
        tonic=int(rng.integers(12)),
        mode=mode,
        bars=int(bars or rng.choice([1, 2, 4], p=[0.2, 0.3, 0.5])),
        progression=tuple(int(d) for d in prog),
        swing=float(rng.uniform(*g["swing"])),
    )


def scale(ctx: Context) -> tuple[int, ...]:
    return MAJOR if ctx.mode == "major" else MINOR


def degree_pitch(ctx: Context, degree: int, octave_c: int) -> int:
    """MIDI pitch of scale ``degree`` (may exceed 6) above C of MIDI ``octave_c``."""
    sc = scale(ctx)
    return octave_c + ctx.tonic + sc[degree % 7] + 12 * (degree // 7)


def chord_pitches(ctx: Context, bar: int, *, octave_c: int = 48, seventh: bool = False) -> list[int]:
    root = ctx.chord_root(bar)
    degs = [root, root + 2, root + 4] + ([root + 6] if seventh else [])
    return [degree_pitch(ctx, d, octave_c) for d in degs]


def _vel(rng, base, spread=0.12):
    return float(np.clip(base + rng.normal(0, spread), 0.25, 1.0))


# --- drums ------------------------------------------------------------------
def drum_part(ctx: Context, rng: np.random.Generator) -> list[Note]:
    style = GENRES[ctx.genre]["drums"]
    steps: dict[int, list[int]] = {k: [] for k in range(8)}  # category -> 16th steps in one bar
    if style in ("four", "techno"):
        steps[KICK] = [0, 4, 8, 12]
        steps[CLAP if rng.random() < 0.6 else SNARE] = [4, 12]
        steps[OPEN] = [2, 6, 10, 14]
        steps[HAT] = list(range(0, 16, 2)) if rng.random() < 0.5 else list(range(16))
        if style == "techno":
            steps[PERC] = [3, 7, 11, 14] if rng.random() < 0.6 else []
    elif style == "twostep":
        steps[KICK] = [0, 7, 10] if rng.random() < 0.5 else [0, 9]
        steps[SNARE] = [4, 12]
        steps[HAT] = [2, 6, 10, 14, 15]
        steps[CLAP] = [4, 12] if rng.random() < 0.4 else []
    elif style == "halftime":
        steps[KICK] = [0, 10] if rng.random() < 0.5 else [0, 3]
        steps[SNARE] = [8]
        steps[HAT] = list(range(0, 16, 2))
        steps[CYMBAL] = [0] if rng.random() < 0.3 else []
    elif style == "trap":
        steps[KICK] = [0, 7, 11] if rng.random() < 0.5 else [0, 3, 10]
        steps[CLAP] = [8]
        steps[HAT] = list(range(16))
        steps[OPEN] = [14] if rng.random() < 0.5 else []
    elif style in ("dnb", "break"):
        steps[KICK] = [0, 10]
        steps[SNARE] = [4, 12]
        steps[HAT] = list(range(0, 16, 2))
        steps[CYMBAL] = [0] if rng.random() < 0.3 else []
        if style == "break":
            steps[SNARE] += [7, 15]
            steps[KICK] += [2]
    elif style == "boombap":
        steps[KICK] = [0, 3, 10] if rng.random() < 0.5 else [0, 7, 8]
        steps[SNARE] = [4, 12]
        steps[HAT] = list(range(0, 16, 2))
    else:  # sparse
        steps[KICK] = [0, 10]
        steps[SNARE if rng.random() < 0.5 else CLAP] = [8]
        steps[HAT] = [2, 6, 10, 14]
        steps[PERC] = [5, 13] if rng.random() < 0.5 else []
        steps[TOM] = [14] if rng.random() < 0.3 else []
    notes = []
    for bar in range(ctx.bars):
        for cat, st in steps.items():
            for s in st:
                accent = 0.9 if s % 4 == 0 else 0.7
                notes.append(Note(bar * 4 + s / 4, 0.25, cat, _vel(rng, accent)))
        if bar == ctx.bars - 1 and ctx.bars > 1 and rng.random() < 0.4:  # fill at the end of the loop
            for s in (12, 13, 14, 15):
                notes.append(Note(bar * 4 + s / 4, 0.25, SNARE if rng.random() < 0.6 else TOM, _vel(rng, 0.7)))
    return notes


# --- bass -------------------------------------------------------------------
def bass_part(ctx: Context, rng: np.random.Generator, style: str | None = None) -> list[Note]:
    style = style or str(rng.choice(GENRES[ctx.genre]["bass"]))
    octave = 24
    notes = []
    for bar in range(ctx.bars):
        root = degree_pitch(ctx, ctx.chord_root(bar), octave)
        while root > 45:
            root -= 12
        while root < 28:
            root += 12
        b = bar * 4
        if style == "offbeat":
            notes += [Note(b + q + 0.5, 0.4, root, _vel(rng, 0.8)) for q in range(4)]
        elif style == "rolling":
            notes += [Note(b + q + f, 0.22, root, _vel(rng, 0.8)) for q in range(4) for f in (0.25, 0.5, 0.75)]
        elif style == "octave":
            notes += [Note(b + e / 2, 0.45, root + 12 * (e % 2), _vel(rng, 0.8)) for e in range(8)]
        elif style == "syncopated":
            fifth = degree_pitch(ctx, ctx.chord_root(bar) + 4, octave)
            while fifth - root > 12:
                fifth -= 12
            notes += [Note(b, 1.4, root, 0.9), Note(b + 1.5, 0.5, root, 0.7), Note(b + 2.5, 0.9, fifth, 0.8),
                      Note(b + 3.5, 0.4, root + 12 if rng.random() < 0.5 else root, 0.7)]
        elif style == "wobble":
            notes += [Note(b, 2.0, root, 0.9), Note(b + 2, 2.0, root if rng.random() < 0.5 else root + 3, 0.9)]
        elif style == "glide808":
            notes += [Note(b, 1.5, root, 0.95), Note(b + 1.75, 1.0, root, 0.8), Note(b + 3, 1.0, root + 7 if root + 7 < 55 else root - 5, 0.8)]
        else:  # sustain
            notes += [Note(b, 3.8, root, 0.9)]
    return notes


# --- chords -----------------------------------------------------------------
def chord_part(ctx: Context, rng: np.random.Generator, style: str | None = None) -> list[Note]:
    style = style or str(rng.choice(["pad", "stab", "rhythm", "pad", "arpeggiated"]))
    seventh = rng.random() < 0.4
    oct_c = int(rng.choice([48, 60]))
    notes = []
    for bar in range(ctx.bars):
        ps = chord_pitches(ctx, bar, octave_c=oct_c, seventh=seventh)
        if rng.random() < 0.5:  # inversion
            ps = ps[1:] + [ps[0] + 12]
        b = bar * 4
        if style == "pad":
            hits = [(0, 3.9)]
        elif style == "stab":
            hits = [(q + 0.5, 0.3) for q in range(4)]
        elif style == "rhythm":
            hits = [(0, 0.7), (0.75, 0.5), (1.5, 0.4), (2.5, 0.7), (3.25, 0.5)]
        else:
            hits = [(0, 1.9), (2, 1.9)]
        for st, du in hits:
            v = _vel(rng, 0.7, 0.08)
            notes += [Note(b + st, du, p, v) for p in ps]
    return notes


# --- melody -----------------------------------------------------------------
def melody_part(ctx: Context, rng: np.random.Generator, style: str | None = None) -> list[Note]:
    style = style or str(rng.choice(["arp", "motif", "motif", "long"]))
    oct_c = int(rng.choice([60, 72]))
    notes = []
    if style == "arp":
        pattern = rng.permutation([0, 1, 2, 3])
        step = float(rng.choice([0.25, 0.5]))
        for bar in range(ctx.bars):
            ps = chord_pitches(ctx, bar, octave_c=oct_c, seventh=True)
            for i in range(int(4 / step)):
                notes.append(Note(bar * 4 + i * step, step * 0.9, ps[pattern[i % 4]], _vel(rng, 0.75)))
        return notes
    # a motif of scale degrees, repeated each bar with the harmony moving
    n = int(rng.integers(3, 7))
    starts = np.sort(rng.choice(np.arange(0, 4, 0.5), size=n, replace=False))
    degs = np.cumsum(rng.integers(-2, 3, size=n))
    for bar in range(ctx.bars):
        root = ctx.chord_root(bar) if rng.random() < 0.5 else 0
        for i, st in enumerate(starts):
            end = starts[i + 1] if i + 1 < n else 4.0
            du = (end - st) * (0.95 if style != "long" else 1.0)
            p = degree_pitch(ctx, int(root + degs[i]) % 14, oct_c)
            notes.append(Note(bar * 4 + float(st), float(du), p, _vel(rng, 0.75)))
    return notes


SPEECH = [
    "let the music play", "feel it", "oh yeah", "come on", "all night long", "we are one", "hold me now",
    "turn it up", "get down", "together", "higher and higher", "lose control", "don't stop", "move your body",
    "can you feel it", "here we go", "one more time", "right here right now", "in the dark", "say my name",
    "take me away", "freedom", "listen", "everybody", "we will rise", "so good", "never let go", "tonight",
]
