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
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    n = int((first_downbeat + bars * 4 * beat + 1.0) * sr)
    y = np.zeros(n)
    t = np.arange(int(0.4 * sr)) / sr
    kick = np.sin(2 * np.pi * np.cumsum(55 * (1 + 3 * np.exp(-t / 0.03))) / sr) * np.exp(-t / 0.15)
    clap = rng.standard_normal(len(t)) * np.exp(-t / 0.05) * 0.4
    hat = np.diff(rng.standard_normal(len(t) + 1)) * np.exp(-t / 0.02) * 0.2
    note = np.sin(2 * np.pi * 55 * t) * np.exp(-t / 0.3) * 0.5
    beats = first_downbeat + beat * np.arange(bars * 4)
    for i, b in enumerate(beats):
        k = int(b * sr)
        y[k:k + len(t)] += kick[: n - k]
        if i % 2 == 1:
            y[k:k + len(t)] += clap[: n - k]
        h = int((b + beat / 2) * sr)
        y[h:h + len(t)] += hat[: n - h]
        if bass and i % 4 == 0:
            y[k:k + len(t)] += note[: n - k]
    return (0.5 * y / np.abs(y).max()).astype(np.float32), beats, beats[::4]


@pytest.fixture(scope="session")
def loop_wav(tmp_path_factory):
    """A 16-bar 124 BPM drum loop WAV, first downbeat at 0.5 s."""
    import soundfile as sf

    y, beats, downs = drum_loop()
    path = tmp_path_factory.mktemp("audio") / "loop124.wav"
    sf.write(path, y, SR)
    return path, beats, downs
