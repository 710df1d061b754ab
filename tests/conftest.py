"""Shared fixtures: short synthetic audio with known answers."""
from __future__ import annotations

import numpy as np
import pytest

SR = 44100


def drum_loop(bpm: float = 124.0, bars: int = 16, first_downbeat: float = 0.5, sr: int = SR, seed: int = 0,
              bass: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four-on-the-floor kick, clap on 2 and 4, off-beat hats, a bass on the downbeats.

    Returns (audio, beat times, downbeat times); the first downbeat is at ``first_downbeat`` s.
    """
    return drum_pattern(bpm, bars, first_downbeat, bass=(0,) if bass else (), sr=sr, seed=seed)


def drum_pattern(bpm: float, bars: int, first_downbeat: float, *, kicks=(0, 1, 2, 3), claps=(1, 3),
                 hats=(0.5, 1.5, 2.5, 3.5), bass=(0,), crash_every: int = 0, pickup_beats: float = 0.0,
                 sr: int = SR, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A drum and bass pattern repeated for ``bars`` bars of 4/4, each part given as the
    positions (in beats from the bar's downbeat) where it strikes; a crash and a change of
    bass note every ``crash_every`` bars (0: never). The last ``pickup_beats`` of a bar
    before are played first, so the audio opens mid-bar; ``first_downbeat`` (s) must leave room.

    Returns (audio, beat times, downbeat times) of the bars from ``first_downbeat`` on.
    """
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    n = int((first_downbeat + bars * 4 * beat + 1.0) * sr)
    y = np.zeros(n)
    t = np.arange(int(0.4 * sr)) / sr
    parts = {
        "kick": np.sin(2 * np.pi * np.cumsum(55 * (1 + 3 * np.exp(-t / 0.03))) / sr) * np.exp(-t / 0.15),
        "clap": rng.standard_normal(len(t)) * np.exp(-t / 0.05) * 0.4,
        "hat": np.diff(rng.standard_normal(len(t) + 1)) * np.exp(-t / 0.02) * 0.2,
        "crash": np.diff(rng.standard_normal(len(t) + 1)) * np.exp(-t / 0.3) * 0.3,
    }

    def put(x, at):
        k = int(round(at * sr))
        if 0 <= k < n:
            y[k:k + len(x)] += x[: n - k]

    for bar in range(-1 if pickup_beats else 0, bars):
        d = first_downbeat + bar * 4 * beat
        f = 55.0 * (1.5 if crash_every and (bar // crash_every) % 2 else 1.0)
        note = np.sin(2 * np.pi * f * t) * np.exp(-t / 0.3) * 0.5
        for name, pos in (("kick", kicks), ("clap", claps), ("hat", hats)):
            for p in pos:
                if bar >= 0 or p >= 4 - pickup_beats:
                    put(parts[name], d + p * beat)
        for p in bass:
            if bar >= 0 or p >= 4 - pickup_beats:
                put(note, d + p * beat)
        if crash_every and bar >= 0 and bar % crash_every == 0:
            put(parts["crash"], d)
    beats = first_downbeat + beat * np.arange(bars * 4)
    return (0.5 * y / np.abs(y).max()).astype(np.float32), beats, beats[::4]


@pytest.fixture(scope="session")
def loop_wav(tmp_path_factory):
    """A 16-bar 124 BPM drum loop WAV, first downbeat at 0.5 s."""
    import soundfile as sf

    y, beats, downs = drum_loop()
    path = tmp_path_factory.mktemp("audio") / "loop124.wav"
    sf.write(path, y, SR)
    return path, beats, downs
