"""Catalogue-scale analysis on Ray Data, from a laptop to a cluster.

Ray Data's batch-inference pattern, one track per row, over the library's own stages:

1. CPU tasks: :func:`iram.analyze.track` (decode, beats, 4-bar segments);
2. an actor pool: :func:`iram.analyze.score` with the role model loaded once per actor,
   on a GPU each (or ``gpus_per_model`` of one) when the cluster has GPUs, else on CPUs;
   then :func:`iram.result.save` writes the track's outputs at once.

The driver appends one row per track to the manifest (``catalogue.csv``: path, status,
bpm, n_segments, error), flushed as each arrives, and shows progress. A track that
fails is reported there and skipped. Ray is an optional extra (``pip install
'iram[ray]'``): nothing else in iram imports it.
"""
from __future__ import annotations

import csv
import logging
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import IramError

MANIFEST = "catalogue.csv"
MANIFEST_FIELDS = ("path", "status", "bpm", "n_segments", "error")
# an actor's share of a track's CPU time: scoring about a tenth, drawing the figure about a third;
# on CPUs the pool grows (as tracks queue for it) up to one actor per this many cores
CPUS_PER_CPU_MODEL = 2
ROWS_PER_DATASET = 5000  # tracks per Ray dataset: bounds the driver's memory for catalogues of millions


def import_ray():
    """``ray`` and ``ray.data``, or one line naming the fix."""
    try:
        import ray
        import ray.data
    except ImportError as err:
        raise IramError(f"--engine ray needs Ray Data, which is not installed ({err.name} missing): "
                        "pip install 'iram[ray]'") from err
    return ray


def read_list(path: str | Path) -> list[Path]:
    """Audio paths from a text file, one per line; blank lines and lines starting with
    ``#`` are skipped, relative paths are relative to the list's folder."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise IramError(f"{path}: cannot read the track list ({err}); give a UTF-8 text file, one path per line") from err
    return [path.parent / ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


class Manifest:
    """``catalogue.csv``, appended a row at a time and flushed to disk, so a run that
    stops anywhere leaves complete rows. A later row for a path supersedes earlier ones."""

    def __init__(self, path: str | Path):
        from .io import output_dir

        self.path = Path(path)
        output_dir(self.path.parent, option="--manifest")
        self.last: dict[str, dict] = {}
        if self.path.exists():
            with open(self.path, "rb+") as f:  # a run killed mid-row: drop the partial row
                data = f.read()
                if data and not data.endswith(b"\n"):
                    f.truncate(data.rfind(b"\n") + 1)
            with open(self.path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames and tuple(reader.fieldnames) != MANIFEST_FIELDS:
                    raise IramError(f"{self.path}: not an iram manifest (columns {reader.fieldnames}); "
                                    "move it away or choose another with --manifest")
                self.last = {row["path"]: row for row in reader}
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._file = open(self.path, "a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, MANIFEST_FIELDS)
        if new:
            self._writer.writeheader()

    def write(self, row: dict) -> None:
        row = {k: row.get(k, "") for k in MANIFEST_FIELDS}
        self._writer.writerow(row)
        self._file.flush()
        os.fsync(self._file.fileno())
        self.last[row["path"]] = row

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _row(path: str, status: str, *, bpm: float | None = None, n_segments: int | None = None, error: str = "") -> dict:
    return {"path": path, "status": status, "bpm": "" if bpm is None else f"{bpm:.3f}",
            "n_segments": "" if n_segments is None else str(n_segments), "error": error}


def _failure(path: str, err: Exception) -> str:
    """One line for the manifest: iram's own message, else the exception type and text."""
    msg = str(err) if isinstance(err, IramError) else f"{path}: {type(err).__name__}: {err}"
    return " ".join(msg.split())


# --- the stages (module-level and picklable: Ray ships them to its workers) ---

def track_stage(batch: dict[str, np.ndarray], *, window: float) -> dict[str, list]:
    """CPU task: decode and track beats. ``batch["path"]`` holds paths; out come the
    :class:`~iram.analyze.Tracked` tracks and error texts ("" if none; where there is one,
    the track column holds a placeholder: a column of Nones would come back as NaNs)."""
    from .analyze import track

    out: dict[str, list] = {"path": [], "tracked": [], "error": []}
    for p in batch["path"]:
        try:
            t, err = track(str(p), window=window)[0], ""
        except Exception as e:  # any failure is this track's, recorded in the manifest, not the run's
            t, err = 0, _failure(str(p), e)
        out["path"].append(str(p))
        out["tracked"].append(t)
        out["error"].append(err)
    return out


class ScoreAndSave:
    """Actor: the role model, loaded once, scores each tracked track (:func:`iram.analyze.score`),
    and its outputs are written at once (:func:`iram.result.save`); out come manifest rows.

    Writing here rather than in a third stage of CPU tasks: those would queue behind the decode
    tasks for CPU slots, and every output would wait for the last track to be decoded.
    """

    def __init__(self, *, model: str | None, device: str, mode: str, outdir: str | None, plot: bool, threads: int):
        import torch

        from .model import load

        torch.set_num_threads(threads)
        self.rm = load(model, device=device)
        self.mode, self.outdir, self.plot = mode, outdir, plot

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        from .analyze import MODEL_SR, score
        from .result import save

        rows = []
        for p, t, err in zip(batch["path"], batch["tracked"], batch["error"]):
            if not err:
                try:
                    a = score(t, self.rm, mode=self.mode)
                    save(a, outdir=self.outdir, plot=self.plot, audio=t.audio, sr=MODEL_SR)
                    rows.append(_row(str(p), "done", bpm=a.bpm, n_segments=len(a.segments)))
                    continue
                except Exception as e:
                    err = _failure(str(p), e)
            rows.append(_row(str(p), "failed", error=err))
        return {k: [r[k] for r in rows] for k in MANIFEST_FIELDS}


# --- the driver ---

@dataclass(frozen=True)
class CatalogueRun:
    """Counts of one run, and where its manifest is."""

    done: int
    failed: int
    skipped: int
    manifest: Path


@dataclass(frozen=True)
class ModelPlacement:
    """Where the role model's actors run: GPUs per actor (0: CPUs), CPUs per actor, pool size."""

    num_gpus: float
    num_cpus: float
    max_actors: int

    @property
    def device(self) -> str:
        return "cuda" if self.num_gpus else "cpu"


def placement(resources: dict, *, gpus_per_model: float | None = None, device: str = "auto") -> ModelPlacement:
    """The role model's placement on a cluster with ``resources`` (``ray.cluster_resources()``).

    GPUs when the cluster has them (``gpus_per_model`` each, default 1; a fraction packs
    several actors on one GPU), else CPUs. On CPUs an actor reserves no core, so the decode
    tasks keep every core (and a laptop's two cores decode two tracks at once); the actors
    share the cores with them.
    """
    gpus, cpus = float(resources.get("GPU", 0)), float(resources.get("CPU", 1))
    if device == "cuda" and not gpus:
        raise IramError("--device cuda: the Ray cluster has no GPUs; use --device cpu or auto")
    if gpus_per_model is not None and gpus_per_model < 0:
        raise IramError(f"--gpus-per-model {gpus_per_model:g}: give 0 (CPUs) or a positive share of a GPU")
    if gpus_per_model and not gpus:
        raise IramError(f"--gpus-per-model {gpus_per_model:g}: the Ray cluster has no GPUs; leave the option out to run the model on CPUs")
    g = 0.0 if device == "cpu" else (1.0 if gpus_per_model is None and gpus else float(gpus_per_model or 0))
    if g:
        return ModelPlacement(num_gpus=g, num_cpus=1, max_actors=max(1, math.floor(gpus / g)))
    return ModelPlacement(num_gpus=0, num_cpus=0, max_actors=max(1, int(cpus // CPUS_PER_CPU_MODEL)))


def start_ray(address: str | None = None, *, num_cpus: int | None = None):
    """Connect to the Ray cluster at ``address`` ("auto" or HOST:PORT), or start a local one
    (on ``num_cpus`` cores, default all) when None; reuse one this process already joined."""
    ray = import_ray()
    # its notice that a new local cluster uses token authentication (the safe default) is not ours to print
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    if not ray.is_initialized():
        try:
            ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                     logging_level=logging.WARNING, log_to_driver=False)
        except ConnectionError as err:
            raise IramError(f"--address {address}: cannot reach a Ray cluster ({err}); start one with 'ray start --head' "
                            "or leave --address out for a local Ray") from err
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the driver shows one bar, in tracks
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # else it warns that its own bars are off
    return ray


def analyze_catalogue(files: list[Path], *, outdir: str | Path | None = None, model: str | Path | None = None,
                      mode: str = "segment", plot: bool = True, skip_existing: bool = False,
                      manifest: str | Path | None = None, address: str | None = None, num_cpus: int | None = None,
                      gpus_per_model: float | None = None, device: str = "auto", progress: bool = True) -> CatalogueRun:
    """Analyse ``files`` on Ray, writing each track's outputs as it finishes (as ``iram analyze``).

    ``files`` must have distinct output names (:func:`iram.result.unique_outputs`).
    ``manifest`` defaults to ``catalogue.csv`` in ``outdir`` (else the current folder).
    ``skip_existing`` skips tracks whose outputs are all there and whole, as the local engine
    does (recorded as "skipped" unless the manifest already lists them as done).
    ``address``, ``num_cpus``: see :func:`start_ray`; ``gpus_per_model``, ``device``: see
    :func:`placement`. Failed tracks are "failed" rows with the reason, and one line each on stderr.
    """
    from tqdm import tqdm

    from .model import load
    from .result import output_paths, outputs_complete

    rm = load(model)  # a bad checkpoint fails here, once, before any worker starts
    outdir = os.path.abspath(outdir) if outdir else None
    manifest = Path(manifest) if manifest else Path(outdir or ".") / MANIFEST
    files = [Path(os.path.abspath(f)) for f in files]  # absolute, for the workers; names as given (see output_paths)
    ray = start_ray(address, num_cpus=num_cpus)
    place = placement(ray.cluster_resources(), gpus_per_model=gpus_per_model, device=device)
    done = failed = skipped = 0
    with Manifest(manifest) as mf:
        todo = []
        for f in files:
            out = output_paths(f, outdir)
            if not (skip_existing and outputs_complete(out, plot=plot)):
                todo.append(f)
                continue
            skipped += 1
            if mf.last.get(str(f), {}).get("status") not in ("done", "skipped"):
                mf.write(_existing_row(str(f), out["json"]))
        bar = tqdm(total=len(todo), desc="analyse", unit="track", disable=not progress or not todo, file=sys.stderr)
        for start in range(0, len(todo), ROWS_PER_DATASET):
            chunk = todo[start:start + ROWS_PER_DATASET]
            ds = ray.data.from_items([{"path": str(f)} for f in chunk], override_num_blocks=len(chunk))
            ds = ds.map_batches(track_stage, batch_size=1, num_cpus=1, fn_kwargs={"window": rm.window})
            ds = ds.map_batches(ScoreAndSave, batch_size=1, num_cpus=place.num_cpus, num_gpus=place.num_gpus,
                                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=place.max_actors),
                                fn_constructor_kwargs={"model": None if model is None else os.path.abspath(model),
                                                       "device": place.device, "mode": mode, "outdir": outdir,
                                                       "plot": plot, "threads": max(1, int(place.num_cpus))})
            try:
                for row in ds.iter_rows():
                    mf.write(row)
                    if row["status"] == "done":
                        done += 1
                    else:
                        failed += 1
                        bar.write(f"iram: error: {row['error']}", file=sys.stderr)
                    bar.update()
            except ray.exceptions.RayError as err:  # the pipeline itself, not one track, failed
                cause = (str(err).strip().splitlines() or [type(err).__name__])[-1]
                raise IramError(f"the Ray run stopped ({cause}); every node needs iram with the driver's Ray and Python "
                                "versions (pip install 'iram[ray]') and the audio and -o folder at the same paths; "
                                f"{done} tracks written, re-run with --skip-existing to go on") from err
        bar.close()
    return CatalogueRun(done=done, failed=failed, skipped=skipped, manifest=manifest)


def _existing_row(path: str, results: Path) -> dict:
    """A "skipped" row for a track analysed before, with its tempo and segment count."""
    from .result import load_results

    a = load_results(results)  # outputs_complete has just read it
    return _row(path, "skipped", bpm=a.bpm, n_segments=len(a.segments))
