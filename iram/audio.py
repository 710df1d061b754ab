"""Decode audio files to mono float32 at the rates the pipeline needs.

soundfile reads WAV, FLAC, OGG, AIFF and MP3 block by block; anything else goes
through ffmpeg. Blocks are mixed to mono and resampled with soxr streams, so a
long DJ mix never sits in memory at its original rate and channel count.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AudioError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".mp3", ".m4a", ".aac", ".opus", ".wma")
BLOCK_SECONDS = 30.0
SILENCE_RMS = 1e-4  # about -80 dBFS


@dataclass(frozen=True)
class Audio:
    """Mono signals of one file at each requested sample rate (Hz)."""

    path: Path
    signals: dict[int, np.ndarray]
    duration: float  # seconds

    def at(self, sr: int) -> np.ndarray:
        return self.signals[sr]


def to_int16(x: np.ndarray, block: int = 1 << 20) -> np.ndarray:
    """``x`` (float, full scale 1.0) as int16, converted a block at a time: half the
    memory for the long 44.1 kHz signal that madmom reads (madmom scales integer
    audio to the same spectrogram as float)."""
    out = np.empty(len(x), np.int16)
    for i in range(0, len(x), block):
        out[i:i + block] = np.clip(x[i:i + block], -1.0, 1.0) * 32767
    return out


def sample_hash(path: str | Path) -> str:
    """SHA-256 of the decoded samples (all channels, as decoded) and the sample rate
    of ``path``: equal before and after a metadata edit iff the audio is unchanged.
    soundfile decodes what it knows; other formats (MP4/AAC, ...) go through ffmpeg."""
    import hashlib

    import soundfile as sf

    path = Path(path)
    try:
        x, sr = sf.read(str(path), dtype="int32")
        return hashlib.sha256(x.tobytes() + str(sr).encode()).hexdigest()
    except Exception:  # libsndfile does not know the format: let ffmpeg decode it
        pass
    if shutil.which("ffmpeg") is None:
        raise AudioError(f"{path}: format needs ffmpeg, which is not installed (apt-get install ffmpeg)")
    r = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0", "-f", "s32le", "-"],
                       capture_output=True)
    if r.returncode != 0 or not r.stdout:
        err = r.stderr.decode(errors="replace").strip().splitlines()
        raise AudioError(f"{path}: cannot decode the audio ({err[-1] if err else 'no samples'}); is it an audio file?")
    return hashlib.sha256(r.stdout).hexdigest()


def find_audio(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders (recursively) into a sorted list of audio files."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file())
            if not files:
                raise AudioError(f"{p}: folder holds no audio files ({', '.join(AUDIO_EXTENSIONS[:5])}, ...)")
            found.extend(files)
        else:
            found.append(p)
    return found


class _Buffer:
    """Blocks appended into one preallocated float32 array when the length is
    known (no second full-length copy for long mixes), else concatenated."""

    def __init__(self, capacity: int | None):
        self.data = np.empty(capacity, np.float32) if capacity else None
        self.n = 0
        self.parts: list[np.ndarray] = []

    def append(self, x: np.ndarray) -> None:
        if self.data is not None and self.n + len(x) <= len(self.data):
            self.data[self.n:self.n + len(x)] = x
            self.n += len(x)
        else:
            if self.data is not None:  # longer than announced: fall back to concatenation
                self.parts, self.data = [self.data[: self.n].copy()], None
            self.parts.append(np.asarray(x, np.float32))

    def array(self) -> np.ndarray:
        return self.data[: self.n] if self.data is not None else np.concatenate(self.parts).astype(np.float32, copy=False)


def _blocks_soundfile(path: Path):
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        sr = f.samplerate
        block = int(BLOCK_SECONDS * sr)
        yield sr, (f.frames if f.seekable() else None)
        while True:
            x = f.read(block, dtype="float32", always_2d=True)
            if len(x) == 0:
                break
            yield x.mean(axis=1)


def _blocks_ffmpeg(path: Path, sr: int = 44100):
    if shutil.which("ffmpeg") is None:
        raise AudioError(f"{path}: format needs ffmpeg, which is not installed (apt-get install ffmpeg)")
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(sr), "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    yield sr, None
    block = int(BLOCK_SECONDS * sr) * 4
    assert proc.stdout is not None
    while True:
        data = proc.stdout.read(block)
        if not data:
            break
        yield np.frombuffer(data[: len(data) // 4 * 4], dtype="<f4")
    err = proc.stderr.read().decode(errors="replace").strip().splitlines() if proc.stderr else []
    if proc.wait() != 0:
        raise AudioError(f"{path}: ffmpeg cannot decode it ({err[-1] if err else 'unknown error'}); is it an audio file?")


def load(path: str | Path, rates: tuple[int, ...] = (16000,)) -> Audio:
    """Decode ``path`` to mono float32 at each rate in ``rates``.

    Raises :class:`AudioError` with a one-line reason for a missing, undecodable,
    empty or silent file.
    """
    import soxr

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder; give audio files or use a folder argument to the CLI")
    try:
        gen = _blocks_soundfile(path)
        src_sr, frames = next(gen)
    except Exception:  # libsndfile does not know the format: let ffmpeg try
        gen = _blocks_ffmpeg(path)
        src_sr, frames = next(gen)
    streams = {r: soxr.ResampleStream(src_sr, r, 1, dtype="float32") if r != src_sr else None for r in rates}
    parts: dict[int, _Buffer] = {r: _Buffer(None if frames is None else int(frames * r / src_sr) + 64) for r in rates}
    n_in = 0
    sumsq = 0.0
    try:
        for block in gen:
            n_in += len(block)
            sumsq += float(np.dot(block, block))
            for r, st in streams.items():
                parts[r].append(block.copy() if st is None else st.resample_chunk(block))
    except AudioError:
        raise
    except Exception as err:
        raise AudioError(f"{path}: audio data is truncated or corrupt ({err}); re-export the file") from err
    for r, st in streams.items():
        if st is not None:
            parts[r].append(st.resample_chunk(np.zeros(0, np.float32), last=True))
    if n_in == 0:
        raise AudioError(f"{path}: file holds no audio samples; nothing to analyse")
    if np.sqrt(sumsq / n_in) < SILENCE_RMS:
        raise AudioError(f"{path}: audio is silent (below -80 dBFS); nothing to analyse")
    signals = {r: parts[r].array() for r in rates}
    return Audio(path=path, signals=signals, duration=n_in / src_sr)
