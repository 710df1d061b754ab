"""The pipeline: one audio file in, an :class:`~iram.result.Analysis` out.

decode (:mod:`iram.audio`) -> beats and downbeats (:mod:`iram.beats`) -> 4-bar segments
(:mod:`iram.segments`) -> role probabilities (:mod:`iram.activations`) -> sections
(:mod:`iram.sections`). :func:`analyze` returns the result; :func:`analyze_file` also writes
its files (:mod:`iram.result`) and is what the CLI and the benchmark call. The stages are
two functions, :func:`track` (decode, beats, segments: CPU) and :func:`score` (the role
model, then sections), which the Ray engine (:mod:`iram.catalogue`) runs apart.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

import numpy as np

from .errors import AudioError
from .result import Analysis, output_paths, outputs_complete, save
from .sections import find_sections

if TYPE_CHECKING:
    from .beats import Beats
    from .model import RoleModel
    from .segments import Segment

BEAT_SR, MODEL_SR = 44100, 16000
T = TypeVar("T")


def analyze(path: str | os.PathLike, *, model: RoleModel | str | os.PathLike | None = None, device: str = "auto",
            mode: str = "segment") -> Analysis:
    """Analyse one audio file: beats, 4-bar segments, role probabilities, sections.

    ``model`` is a loaded :class:`~iram.model.RoleModel`, a checkpoint path, or
    None for the bundled model; ``device`` is auto, cpu or cuda; ``mode`` how a
    segment's frames become one score (segment, mean or max). Raises
    :class:`~iram.errors.IramError` subclasses with one-line messages for bad input.
    """
    return _run(path, model=model, device=device, mode=mode)[0]


def analyze_file(path: str | os.PathLike, *, outdir: str | os.PathLike | None = None,
                 model: RoleModel | str | os.PathLike | None = None, device: str = "auto", mode: str = "segment",
                 plot: bool = True, skip_existing: bool = False) -> Analysis | None:
    """Analyse ``path`` and write NAME.iram.npy, .json and (``plot``) .png into ``outdir``
    (default: beside the file), each atomically; NAME is the file's name as given.

    With ``skip_existing``, a file whose outputs are all there and whole (the JSON loads,
    the .npy matches it, the PNG exists when ``plot``) is not analysed again: returns None.
    Otherwise returns the :class:`~iram.result.Analysis` it wrote. Parameters as :func:`analyze`.
    """
    if skip_existing and outputs_complete(output_paths(path, outdir), plot=plot):
        return None
    a, y16 = _run(path, model=model, device=device, mode=mode)
    save(a, outdir=outdir, plot=plot, audio=y16, sr=MODEL_SR)
    return a


def _run(path: str | os.PathLike, *, model, device: str, mode: str) -> tuple[Analysis, np.ndarray]:
    """:func:`analyze`, also returning the decoded mono 16 kHz audio, shape (n,), for the figure."""
    from .activations import frame_features
    from .model import RoleModel, load, pick_device

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file; give the files inside it")
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
    beats: Beats
    segments: tuple[Segment, ...]
    madmom_phrase_offset: int = 0  # the phrase offset (bars) on madmom's own downbeats, for comparison


def track(path: str | os.PathLike, *, window: float, beside: Callable[[np.ndarray], T] | None = None) -> tuple[Tracked, T | None]:
    """The CPU stages: decode ``path``, track its beats and cut its 4-bar segments.

    ``window`` (s) is the role model's: shorter audio raises :class:`~iram.errors.AudioError`.
    ``beside(audio)`` (mono, MODEL_SR) runs on this thread while madmom's RNN runs on
    another, and its result is returned too (None without it). The Ray engine runs this
    stage in CPU tasks and :func:`score` in the model's actors.
    """
    from . import audio as audio_mod
    from .beats import FPS, from_activations, spectral_curves
    from .beats.madmom_adapter import track_in_background
    from .segments import choose_offset, make_segments

    path = Path(path)
    au = audio_mod.load(path, rates=(BEAT_SR, MODEL_SR))
    y16 = au.at(MODEL_SR)
    if len(y16) < window * MODEL_SR:
        raise AudioError(f"{path}: only {au.duration:.2f} s of audio, shorter than the model's {window:g} s window; nothing to analyse")
    duration = len(y16) / MODEL_SR
    y44 = audio_mod.to_int16(au.signals.pop(BEAT_SR))  # an hour at 44.1 kHz: 318 MB, not 635
    del au
    with ThreadPoolExecutor(1) as pool:
        madmom_done = track_in_background(y44, BEAT_SR, pool)
        low, bands = spectral_curves(y16)
        side = beside(y16) if beside is not None else None
        act, decoded = madmom_done()  # madmom's DBN decodes (in a process) while the RNN computes the next piece
    del y44
    bt = from_activations(act, duration=duration, low=low, bands=bands, decoded=decoded)

    segs = make_segments(bt.downbeats, duration, choose_offset(bt.downbeats, bands, duration, FPS))
    return Tracked(path=path, audio=y16, duration=duration, beats=bt, segments=tuple(segs),
                   madmom_phrase_offset=choose_offset(bt.madmom_downbeats, bands, duration, FPS)), side


def score(t: Tracked, rm: RoleModel, *, mode: str = "segment", features: tuple | None = None) -> Analysis:
    """The role model's stage: role probabilities for each segment of ``t``, then sections.

    ``features`` is :func:`~iram.activations.frame_features` of ``t.audio`` when already
    computed; otherwise they are computed here, where the model's weights are (CPU or GPU).
    """
    from .activations import frame_features, score_segments

    z, fps = features if features is not None else frame_features(rm.net, t.audio)
    iram = score_segments(rm.net, z, fps, [(s.start, s.end) for s in t.segments], mode=mode)
    secs = find_sections(iram, rm.thresholds, t.segments)
    bt = t.beats
    return Analysis(path=os.path.abspath(t.path), duration=t.duration, bpm=bt.bpm, beats=bt.beats, downbeats=bt.downbeats,
                    segments=t.segments, iram=iram, thresholds=tuple(rm.thresholds), sections=tuple(secs),
                    model={"name": rm.name, "version": rm.version, "path": rm.path}, fixed_grid=bt.fixed_grid,
                    madmom={"bpm": bt.madmom_bpm, "beats": bt.madmom_beats, "downbeats": bt.madmom_downbeats,
                            "phrase_offset": t.madmom_phrase_offset})
