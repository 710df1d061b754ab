"""Decode audio files to mono float32 at the rates the pipeline needs.

soundfile reads WAV, FLAC, OGG, AIFF and MP3 block by block; anything else goes
through ffmpeg. Blocks are mixed to mono and resampled with soxr streams, so a
long DJ mix never sits in memory at its original rate and channel count.

A file is refused (:class:`AudioError`, one line) when it is not audio, holds NaN or
infinite samples, holds no music (silent, or only a constant DC offset), or is
truncated: its header (as mutagen reads it) announces more audio than the decoder
finds, or the decoder reports damaged data.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AudioError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".mp3", ".m4a", ".aac", ".opus", ".wma")
BLOCK_SECONDS = 30.0
SILENCE_RMS = 1e-4  # about -80 dBFS, measured about the file's mean (a DC offset alone is silence)
TRUNCATED_SECONDS, TRUNCATED_SHARE = 0.1, 0.01  # shortfall beyond this (plus a share) = truncated


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


def _stream_info(path: Path):
    """mutagen's idea of the file's stream (format, header length), or None if it knows none."""
    import mutagen

    try:
        return mutagen.File(path).info
    except Exception:  # not a format mutagen knows, or a header it cannot read
        return None


def _length_is_guessed(info) -> bool:
    """An MP3 without a Xing/Info/VBRI header: its length is a guess from the first frame's bitrate."""
    from mutagen.mp3 import BitrateMode, MPEGInfo

    return isinstance(info, MPEGInfo) and info.bitrate_mode == BitrateMode.UNKNOWN


def _announced_seconds(path: Path) -> float | None:
    """Length the file's header announces (mutagen), or None when it does not say: unknown
    formats, MP3s whose length is a guess, and WAVs written to a pipe, whose header leaves
    the data size open (0 or 2**32 - 1)."""
    info = _stream_info(path)
    if info is None or _length_is_guessed(info):
        return None
    length = float(info.length)
    if type(info).__name__ == "WaveStreamInfo" and info.sample_rate and info.channels and info.bits_per_sample:
        if round(length * info.sample_rate) * info.channels * info.bits_per_sample // 8 >= 0xFFFFFFFF - 64:
            return None
    return length if length > 0 and math.isfinite(length) else None


_held = {"depth": 0, "saved": -1, "sink": None}
_held_lock = threading.Lock()


@contextmanager
def _c_stderr_held_back():
    """Catch what C decoders (mpg123 inside libsndfile) print straight to file descriptor 2,
    so a user sees iram's one line and not theirs. File descriptor 2 belongs to the whole
    process: threads decoding at once share one redirection, undone when the last leaves."""
    with _held_lock:
        if _held["depth"] == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError):  # no real stderr (embedded): nothing to hold back
                saved = -1
            if saved >= 0:
                _held["sink"] = tempfile.TemporaryFile()
                os.dup2(_held["sink"].fileno(), 2)
            _held["saved"] = saved
        _held["depth"] += 1
    try:
        yield
    finally:
        with _held_lock:
            _held["depth"] -= 1
            if _held["depth"] == 0 and _held["saved"] >= 0:
                os.dup2(_held["saved"], 2)
                os.close(_held["saved"])
                _held["sink"].close()
                _held["saved"], _held["sink"] = -1, None


def _without_ffmpeg(path: Path, sndfile_error: Exception | None) -> AudioError:
    """Why libsndfile could not read ``path`` when there is no ffmpeg to try: not audio at all,
    a damaged file of a format libsndfile reads in full (FLAC, Ogg Vorbis, MP3), or a format
    that needs ffmpeg."""
    info = _stream_info(path)
    if info is None:
        return AudioError(f"{path}: not audio (no decoder recognises it); check the file")
    kind = type(info).__module__.split(".")[-1]
    if kind in ("flac", "oggvorbis", "mp3"):
        return AudioError(f"{path}: damaged {kind.upper()} file (libsndfile: {sndfile_error}); re-export it")
    return AudioError(f"{path}: format needs ffmpeg, which is not installed (apt-get install ffmpeg)")


def _blocks_ffmpeg(path: Path, sr: int = 44100):
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
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    # one reason: the first line, without ffmpeg's "[demuxer @ 0x...] " prefix
    reason = re.sub(r"^\[[^]]*\] ", "", err.strip().splitlines()[0]) if err.strip() else "unknown error"
    if proc.wait() != 0:
        raise AudioError(f"{path}: not audio, or a format ffmpeg cannot decode ({reason}); check the file")
    if err.strip():  # decoded, but ffmpeg met damaged data on the way (-v error: errors only)
        raise AudioError(f"{path}: audio data is truncated or corrupt (ffmpeg: {reason}); re-export the file")


def _decode(path: Path, rates: tuple[int, ...]) -> tuple[int, int, float, dict]:
    """(source rate Hz, source frames, RMS about the mean, {rate: _Buffer}) of ``path``, block by block."""
    import soxr

    # libsndfile stops an MP3 at its guessed length, so one without a length header (a VBR file
    # can be cut to a fraction) goes to ffmpeg, which decodes to the end
    guessed = path.suffix.lower() == ".mp3" and shutil.which("ffmpeg") and _length_is_guessed(_stream_info(path))
    gen, sndfile_error = None, None
    if not guessed:
        try:
            gen = _blocks_soundfile(path)
            src_sr, frames = next(gen)
        except Exception as err:  # libsndfile does not know the format: let ffmpeg try
            gen, sndfile_error = None, err
    if gen is None:
        if shutil.which("ffmpeg") is None:
            raise _without_ffmpeg(path, sndfile_error)
        gen = _blocks_ffmpeg(path)
        src_sr, frames = next(gen)
    streams = {r: soxr.ResampleStream(src_sr, r, 1, dtype="float32") if r != src_sr else None for r in rates}
    parts: dict[int, _Buffer] = {r: _Buffer(None if frames is None else int(frames * r / src_sr) + 64) for r in rates}
    n_in, total, sumsq = 0, 0.0, 0.0
    try:
        for block in gen:
            if not np.isfinite(block).all():
                raise AudioError(f"{path}: holds NaN or infinite samples (a damaged float file); re-export it")
            n_in += len(block)
            total += float(np.sum(block, dtype=np.float64))
            sumsq += float(np.dot(block.astype(np.float64), block))
            for r, st in streams.items():
                parts[r].append(block.copy() if st is None else st.resample_chunk(block))
    except AudioError:
        raise
    except Exception as err:
        raise AudioError(f"{path}: audio data is truncated or corrupt ({err}); re-export the file") from err
    for r, st in streams.items():
        if st is not None:
            parts[r].append(st.resample_chunk(np.zeros(0, np.float32), last=True))
    rms = math.sqrt(max(sumsq / n_in - (total / n_in) ** 2, 0.0)) if n_in else 0.0
    return src_sr, n_in, rms, parts


def load(path: str | Path, rates: tuple[int, ...] = (16000,)) -> Audio:
    """Decode ``path`` to mono float32 at each rate in ``rates``.

    Raises :class:`AudioError` with a one-line reason for a missing, undecodable,
    empty, silent (or DC-only), NaN-holding or truncated file.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder; give audio files or use a folder argument to the CLI")
    with _c_stderr_held_back():
        src_sr, n_in, rms, parts = _decode(path, rates)
    if n_in == 0:
        raise AudioError(f"{path}: file holds no audio samples; nothing to analyse")
    if rms < SILENCE_RMS:
        raise AudioError(f"{path}: no music: audio is silent or a constant offset (below -80 dBFS); nothing to analyse")
    announced = _announced_seconds(path)
    if announced is not None and announced - n_in / src_sr > TRUNCATED_SECONDS + TRUNCATED_SHARE * announced:
        raise AudioError(f"{path}: truncated: its header announces {announced:.1f} s but it holds {n_in / src_sr:.1f} s; "
                         "re-export or re-download the file")
    signals = {r: parts[r].array() for r in rates}
    return Audio(path=path, signals=signals, duration=n_in / src_sr)
