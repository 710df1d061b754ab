"""What ``iram analyze`` gives back: the :class:`Analysis` type, its JSON round trip and its files.

One analysed track is three files named after the audio file as given (a symlink's own name):
``NAME.iram.npy`` (the IRAM, float32, shape (6, n_segments), rows in ROLES order),
``NAME.iram.json`` (everything else) and ``NAME.iram.png`` (the figure). Each is written
atomically; a result with a NaN anywhere is neither written nor read.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .errors import IramError
from .roles import ROLES
from .sections import Section
from .segments import Segment

SUFFIX = ".iram"
OUTPUTS = ("npy", "json", "png")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Analysis:
    """Everything iram knows about one track.

    Times are seconds from the start of the file. ``iram`` is (6, n_segments) float32
    probabilities, rows in ROLES order, one column per entry of ``segments``.
    """

    path: str
    duration: float
    bpm: float
    beats: np.ndarray
    downbeats: np.ndarray
    segments: tuple[Segment, ...]
    iram: np.ndarray
    thresholds: tuple[float, ...]
    sections: tuple[Section, ...]
    model: dict = field(default_factory=dict)
    fixed_grid: bool = True
    version: str = __version__
    madmom: dict = field(default_factory=dict)  # madmom's DBN alone: bpm, beats, downbeats (s), phrase_offset (bars)

    @property
    def active(self) -> np.ndarray:
        """(6, n_segments) bool: role on at the model's threshold."""
        return self.iram >= np.asarray(self.thresholds)[:, None]

    @property
    def name(self) -> str:
        return Path(self.path).name

    def to_json(self) -> dict:
        act = self.active
        return {
            "file": self.name, "path": self.path, "iram_version": self.version, "roles": list(ROLES),
            "model": self.model, "thresholds": list(self.thresholds), "duration": round(self.duration, 4),
            "bpm": round(self.bpm, 3), "fixed_grid": self.fixed_grid,
            "beats": [round(float(b), 4) for b in self.beats], "downbeats": [round(float(b), 4) for b in self.downbeats],
            "segments": [{"start": round(s.start, 4), "end": round(s.end, 4), "bars": list(s.bars), "partial": s.partial,
                          "roles": {r: {"probability": round(float(self.iram[i, k]), 4), "active": bool(act[i, k])}
                                    for i, r in enumerate(ROLES)}} for k, s in enumerate(self.segments)],
            "sections": [{"start": round(s.start, 4), "end": round(s.end, 4), "bars": list(s.bars), "label": s.label,
                          "roles": list(s.roles), "name": s.name} for s in self.sections],
            **({"madmom_dbn": {"bpm": round(float(self.madmom["bpm"]), 3),
                               "beats": [round(float(b), 4) for b in self.madmom["beats"]],
                               "downbeats": [round(float(b), 4) for b in self.madmom["downbeats"]],
                               "phrase_offset": int(self.madmom.get("phrase_offset", 0))}} if self.madmom else {}),
        }

    @classmethod
    def from_json(cls, d: dict) -> "Analysis":
        """Rebuild an Analysis from :meth:`to_json`'s dict; one-line :class:`IramError` for anything
        missing, of the wrong type, not finite, or a probability outside 0..1."""
        try:
            if not isinstance(d, dict):
                raise IramError("holds no results object")
            if d["roles"] != list(ROLES):
                raise IramError(f"results list roles {d['roles']}; this iram needs {list(ROLES)}")
            if not d["segments"]:
                raise IramError("results hold no segments")
            segs = tuple(Segment(_num(s["start"], "segment start"), _num(s["end"], "segment end"),
                                 tuple(int(_num(b, "bar")) for b in s["bars"]), bool(s.get("partial", False)))
                         for s in d["segments"])
            iram = np.array([[_num(s["roles"][r]["probability"], f"{r} probability", hi=1.0) for s in d["segments"]]
                             for r in ROLES], np.float32).reshape(len(ROLES), -1)
            secs = tuple(Section(_num(s["start"], "section start"), _num(s["end"], "section end"), tuple(s["bars"]),
                                 s["label"], tuple(s["roles"]), s["name"]) for s in d.get("sections", []))
            thresholds = tuple(_num(t, "threshold", hi=1.0) for t in d["thresholds"])
            if len(thresholds) != len(ROLES):
                raise IramError(f"results give {len(thresholds)} thresholds for {len(ROLES)} roles")
            return cls(path=d.get("path", d.get("file", "")), duration=_num(d["duration"], "duration"),
                       bpm=_num(d["bpm"], "bpm"), beats=np.array([_num(b, "beat") for b in d["beats"]]),
                       downbeats=np.array([_num(b, "downbeat") for b in d["downbeats"]]), segments=segs, iram=iram,
                       thresholds=thresholds, sections=secs, model=d.get("model", {}), fixed_grid=d.get("fixed_grid", True),
                       version=d.get("iram_version", "?"), madmom=_madmom(d.get("madmom_dbn")))
        except (KeyError, TypeError) as err:
            raise IramError(f"results JSON lacks {err}; is it an .iram.json written by iram analyze?") from err


def _madmom(d) -> dict:
    """The ``madmom_dbn`` entry of a results JSON (madmom's DBN reading of the same activations), or {}."""
    if not d:
        return {}
    return {"bpm": _num(d["bpm"], "madmom bpm"), "beats": np.array([_num(b, "madmom beat") for b in d["beats"]]),
            "downbeats": np.array([_num(b, "madmom downbeat") for b in d["downbeats"]]),
            "phrase_offset": int(_num(d.get("phrase_offset", 0), "madmom phrase offset"))}


def _num(x, what: str, *, hi: float = math.inf) -> float:
    """``x`` as a finite float in [0, hi], else a one-line IramError naming ``what``."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or not 0 <= x <= hi:
        raise IramError(f"{what} {x!r} is not a number" + (f" from 0 to {hi:g}" if hi < math.inf else " of 0 or more")
                        + "; re-run 'iram analyze'")
    return float(x)


def output_paths(audio_path: str | os.PathLike, outdir: str | os.PathLike | None = None) -> dict[str, Path]:
    """``{"npy", "json", "png"}`` -> the output files of ``audio_path``: NAME.iram.EXT in ``outdir``,
    or beside the audio file. NAME is the file's own name as given (a symlink is not followed)."""
    p = Path(audio_path)
    folder = Path(outdir) if outdir else p.parent
    return {ext: folder / f"{p.stem}{SUFFIX}.{ext}" for ext in OUTPUTS}


def plot_path(results: str | os.PathLike, outdir: str | os.PathLike | None = None) -> Path:
    """Where ``iram plot`` draws the results file ``results``: NAME.iram.png, never the file itself."""
    r = Path(results)
    stem = r.name
    for tail in (f"{SUFFIX}.json", ".json"):
        if stem.endswith(tail) and len(stem) > len(tail):
            stem = stem[: -len(tail)]
            break
    return (Path(outdir) if outdir else r.parent) / f"{stem}{SUFFIX}.png"


def unique_outputs(files: list[Path], *, outdir: str | os.PathLike | None = None) -> tuple[list[Path], list[str]]:
    """Inputs whose outputs would not overwrite another input's, and a one-line error for each other.

    The same path given twice is analysed once. When two different inputs share a name stem
    (``a/track.wav`` and ``b/track.wav`` into one ``-o`` folder, or ``track.ogg`` beside ``track.m4a``),
    the first in command-line order keeps the name and each later one is refused.
    """
    owner: dict[Path, Path] = {}
    seen: set[str] = set()
    keep, errors = [], []
    for f in files:
        key = os.path.abspath(f)
        if key in seen:
            continue
        seen.add(key)
        out = Path(os.path.abspath(output_paths(f, outdir)["json"]))
        if out in owner:
            errors.append(f"{f}: its results {out.with_suffix('.*')} would overwrite those of {owner[out]}; "
                          "rename one or analyse it with another -o folder")
            continue
        owner[out] = f
        keep.append(f)
    return keep, errors


def load_results(path: str | os.PathLike) -> Analysis:
    """Read an ``.iram.json`` file (one-line :class:`IramError` if missing or malformed)."""
    path = Path(path)
    try:
        return Analysis.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as err:
        raise IramError(f"{path}: no such results file; run 'iram analyze' first") from err
    except IsADirectoryError as err:
        raise IramError(f"{path}: is a folder, not a results file; give NAME.iram.json") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise IramError(f"{path}: not valid JSON ({getattr(err, 'msg', err)}); re-run 'iram analyze'") from err
    except IramError as err:
        raise IramError(f"{path}: {err}") from err


def outputs_complete(paths: dict[str, Path], *, plot: bool = True) -> bool:
    """True when the results in ``paths`` (from :func:`output_paths`) are whole: the JSON loads,
    the .npy holds the same (6, n_segments) finite map, and the PNG is there when ``plot``."""
    try:
        a = load_results(paths["json"])
        m = np.load(paths["npy"], allow_pickle=False)
    except (IramError, OSError, ValueError):
        return False
    if m.shape != a.iram.shape or not np.isfinite(m).all() or not np.allclose(m, a.iram, atol=1e-4):
        return False
    if plot:
        try:
            with open(paths["png"], "rb") as f:
                return f.read(len(_PNG_MAGIC)) == _PNG_MAGIC
        except OSError:
            return False
    return True


def save(a: Analysis, *, outdir: str | os.PathLike | None = None, plot: bool = True,
         audio: np.ndarray | None = None, sr: int = 16000) -> dict[str, Path]:
    """Write NAME.iram.npy, NAME.iram.json and (``plot``) NAME.iram.png, each atomically.

    ``audio`` (mono, ``sr`` Hz) saves decoding the file again for the spectrogram.
    A result holding NaN or infinity is refused before anything is written.
    """
    from .io import atomic_path, write_text

    if not np.isfinite(a.iram).all() or not all(map(math.isfinite, (a.duration, a.bpm, *a.beats, *a.downbeats))):
        raise IramError(f"{a.path}: the analysis produced NaN or infinite values; nothing written (please report it)")
    paths = output_paths(a.path, outdir)
    text = json.dumps(a.to_json(), indent=1, allow_nan=False)
    with atomic_path(paths["npy"]) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, a.iram.astype(np.float32))
    write_text(paths["json"], text)
    if plot:
        from .plots import plot_analysis

        plot_analysis(a, paths["png"], audio=audio, sr=sr)
    return paths
