"""Read a role-labelled dataset folder: audio files plus one labels CSV.

The format is the one ``iram data loops`` writes and the one a user's copy of
the Freesound Loop Dataset (FSLD) can be put in: a CSV with a ``file`` column
(path relative to the folder, or to ``--audio``) and one 0/1 column per role.
Common alternative role names (drums, chords, vocals, ...) are accepted.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..roles import ROLES

ALIASES = {"drums": "percussion", "drum": "percussion", "perc": "percussion", "chords": "chord", "pad": "chord",
           "lead": "melody", "melodies": "melody", "effects": "fx", "sfx": "fx", "vocal": "voice", "vocals": "voice",
           "filename": "file", "path": "file", "fname": "file"}


def pack(x: np.ndarray) -> np.ndarray:
    """Float audio (full scale 1.0) as the int16 that training keeps in memory."""
    return np.clip(x * 32768, -32768, 32767).astype(np.int16)


def unpack(a: np.ndarray) -> np.ndarray:
    """:func:`pack`'s int16 back to float32."""
    return a.astype(np.float32) / 32768.0


@dataclass
class Dataset:
    """Audio clips in memory (int16, mono) and their (n, 6) 0/1 labels."""

    root: Path
    files: list[str]
    audio: list[np.ndarray]
    labels: np.ndarray
    sample_rate: int
    table: "object"  # the pandas DataFrame of the labels CSV

    def clip(self, i: int) -> np.ndarray:
        return unpack(self.audio[i])


def read_labels(folder: str | Path, csv: str | Path | None = None):
    import pandas as pd

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: dataset folder not found; make one with 'iram data loops' or point to your FSLD copy")
    csv = Path(csv) if csv else folder / "labels.csv"
    if not csv.exists():
        raise DataError(f"{csv}: labels CSV not found; a dataset folder needs labels.csv (file + one column per role)")
    df = pd.read_csv(csv)
    df = df.rename(columns={c: ALIASES.get(c.strip().lower(), c.strip().lower()) for c in df.columns})
    missing = [c for c in ("file", *ROLES) if c not in df.columns]
    if "voice" in missing and len(missing) == 1:
        df["voice"] = 0  # FSLD-style tables without a voice column: voice counts as absent
        missing = []
    if missing:
        raise DataError(f"{csv}: missing column(s) {', '.join(missing)}; need file and {', '.join(ROLES)}")
    return df


def load_dataset(folder: str | Path, *, sample_rate: int = 16000, csv: str | Path | None = None,
                 limit: int | None = None, progress: bool = False) -> Dataset:
    """Decode every clip of ``folder`` to mono int16 at ``sample_rate``."""
    import soundfile as sf
    import soxr
    from tqdm import tqdm

    df = read_labels(folder, csv)
    if limit:
        df = df.iloc[:limit]
    folder = Path(folder)
    audio = []
    for f in tqdm(df["file"], desc=f"reading {folder.name}", disable=not progress, unit="clip"):
        p = folder / f
        try:
            x, r = sf.read(str(p), dtype="float32", always_2d=True)
        except Exception as err:
            raise DataError(f"{p}: cannot read listed audio file ({err}); fix or remove its row in labels.csv") from err
        x = x.mean(axis=1)
        if r != sample_rate:
            x = soxr.resample(x, r, sample_rate)
        audio.append(pack(x))
    labels = df[list(ROLES)].to_numpy(dtype=np.float32)
    return Dataset(folder, list(df["file"]), audio, labels, sample_rate, df)
