"""``analyze()``: audio file in, :class:`Analysis` out; saving and loading results."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

import numpy as np

from . import __version__
from .errors import AudioError, IramError
from .roles import ROLES
from .sections import Section, find_sections
from .segments import Segment

if TYPE_CHECKING:
    from .beats import Beats
    from .model import RoleModel

BEAT_SR, MODEL_SR = 44100, 16000
T = TypeVar("T")


@dataclass(frozen=True)
class Analysis:
    """Everything iram knows about one track. ``iram`` is (6, n_segments), rows in ROLES order."""

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
        }

    @classmethod
    def from_json(cls, d: dict) -> "Analysis":
        try:
            if d["roles"] != list(ROLES):
                raise IramError(f"results list roles {d['roles']}; this iram needs {list(ROLES)}")
            segs = tuple(Segment(s["start"], s["end"], tuple(s["bars"]), s.get("partial", False)) for s in d["segments"])
            iram = np.array([[s["roles"][r]["probability"] for s in d["segments"]] for r in ROLES], np.float32).reshape(len(ROLES), -1)
            secs = tuple(Section(s["start"], s["end"], tuple(s["bars"]), s["label"], tuple(s["roles"]), s["name"]) for s in d.get("sections", []))
            return cls(path=d.get("path", d.get("file", "")), duration=d["duration"], bpm=d["bpm"], beats=np.array(d["beats"]),
                       downbeats=np.array(d["downbeats"]), segments=segs, iram=iram, thresholds=tuple(d["thresholds"]),
                       sections=secs, model=d.get("model", {}), fixed_grid=d.get("fixed_grid", True),
                       version=d.get("iram_version", "?"))
        except (KeyError, TypeError) as err:
            raise IramError(f"results JSON lacks {err}; is it an .iram.json written by iram analyze?") from err


def load_results(path: str | Path) -> Analysis:
    path = Path(path)
    try:
        return Analysis.from_json(json.loads(path.read_text()))
    except FileNotFoundError as err:
        raise IramError(f"{path}: no such results file; run 'iram analyze' first") from err
    except json.JSONDecodeError as err:
        raise IramError(f"{path}: not valid JSON ({err.msg}); re-run 'iram analyze'") from err
    except IramError as err:
        raise IramError(f"{path}: {err}") from err


def analyze(path: str | Path, *, model=None, device: str = "auto", mode: str = "segment") -> Analysis:
    """Analyse one audio file: beats, 4-bar segments, role probabilities, sections.

    ``model`` is a loaded :class:`~iram.model.RoleModel`, a checkpoint path, or
    None for the bundled model. Raises :class:`~iram.errors.IramError` subclasses
    with one-line messages for bad input.
    """
    return analyze_with_audio(path, model=model, device=device, mode=mode)[0]


def analyze_with_audio(path: str | Path, *, model=None, device: str = "auto", mode: str = "segment") -> tuple[Analysis, np.ndarray]:
    """:func:`analyze`, also returning the decoded mono 16 kHz audio (for the plot)."""
    from .activations import frame_features
    from .model import RoleModel, load, pick_device

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file; check the path")
    rm = model if isinstance(model, RoleModel) else load(model, device=pick_device(device))
    # madmom's RNN mostly keeps one core busy: the role model's frame features run beside it on the other
    t, features = track(path, window=rm.window, beside=lambda y16: frame_features(rm.net, y16))
    return score(t, rm, mode=mode, features=features), t.audio


@dataclass(frozen=True)
class Tracked:
    """One track after the CPU stages, before the role model: mono ``audio`` at MODEL_SR
    (shape (samples,)), its ``duration`` (s), ``beats`` and 4-bar ``segments``."""

    path: Path
    audio: np.ndarray
    duration: float
    beats: "Beats"
    segments: tuple[Segment, ...]


def track(path: str | Path, *, window: float, beside: Callable[[np.ndarray], T] | None = None) -> tuple[Tracked, T | None]:
    """The CPU stages: decode ``path``, track its beats and cut its 4-bar segments.

    ``window`` (s) is the role model's: shorter audio raises :class:`AudioError`.
    ``beside(audio)`` (mono, MODEL_SR) runs on this thread while madmom's RNN runs on
    another, and its result is returned too (None without it).
    """
    from . import audio as audio_mod
    from . import beats as beats_mod
    from .segments import BARS, bar_grid, bar_means, make_segments, novelty, phrase_offset

    path = Path(path)
    au = audio_mod.load(path, rates=(BEAT_SR, MODEL_SR))
    y16 = au.at(MODEL_SR)
    if len(y16) < window * MODEL_SR:
        raise AudioError(f"{path}: only {au.duration:.2f} s of audio, shorter than the model's {window:g} s window; nothing to analyse")
    duration = len(y16) / MODEL_SR
    y44 = audio_mod.to_int16(au.signals.pop(BEAT_SR))  # an hour at 44.1 kHz: 318 MB, not 635
    del au
    with ThreadPoolExecutor(1) as pool:
        act = pool.submit(beats_mod.activations, y44, BEAT_SR)
        low, bands = beats_mod.spectral_curves(y16)
        side = beside(y16) if beside is not None else None
        act = act.result()
    del y44
    bt = beats_mod.from_activations(act, duration, low, bands)
    grid = bar_grid(bt.downbeats, duration)
    offset = phrase_offset(novelty(bar_means(bands, grid, beats_mod.FPS))) if len(grid) >= 2 * BARS else 0
    segs = make_segments(bt.downbeats, duration, offset)
    return Tracked(path=path, audio=y16, duration=duration, beats=bt, segments=tuple(segs)), side


def score(t: Tracked, rm: "RoleModel", *, mode: str = "segment", features: tuple | None = None) -> Analysis:
    """The role model's stage: role probabilities for each segment of ``t``, then sections.

    ``features`` is :func:`~iram.activations.frame_features` of ``t.audio`` when already
    computed; otherwise the model computes them here, where its weights are (CPU or GPU).
    """
    from .activations import frame_features, score_segments

    z, fps = features if features is not None else frame_features(rm.net, t.audio)
    iram = score_segments(rm.net, z, fps, [(s.start, s.end) for s in t.segments], mode=mode)
    secs = find_sections(iram, rm.thresholds, t.segments)
    bt = t.beats
    return Analysis(path=str(t.path.resolve()), duration=t.duration, bpm=bt.bpm, beats=bt.beats, downbeats=bt.downbeats,
                    segments=t.segments, iram=iram, thresholds=tuple(rm.thresholds), sections=tuple(secs),
                    model={"name": rm.name, "version": rm.version, "path": rm.path}, fixed_grid=bt.fixed_grid)


def output_paths(audio_path: str | Path, outdir: str | Path | None = None) -> dict[str, Path]:
    p = Path(audio_path)
    folder = Path(outdir) if outdir else p.parent
    return {ext: folder / f"{p.stem}.iram.{ext}" for ext in ("npy", "json", "png")}


def save(a: Analysis, outdir: str | Path | None = None, *, plot: bool = True, audio: np.ndarray | None = None) -> dict[str, Path]:
    """Write NAME.iram.npy, NAME.iram.json and NAME.iram.png, each atomically.
    ``audio`` (mono, 16 kHz) saves decoding the file again for the spectrogram."""
    from .io import atomic_path, write_text

    paths = output_paths(a.path, outdir)
    with atomic_path(paths["npy"]) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, a.iram.astype(np.float32))
    write_text(paths["json"], json.dumps(a.to_json(), indent=1))
    if plot:
        from .plots import plot_analysis

        plot_analysis(a, paths["png"], audio=audio, sr=MODEL_SR)
    return paths
