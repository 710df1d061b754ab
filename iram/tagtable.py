"""Tag tables of a loop library: written (CSV or JSON, atomically), read back, filtered.

A CSV has one row per file (columns ``looptags.CSV_COLUMNS``); a JSON table is
``{"iram_version", "model", "thresholds", "roles", "files": [LoopTags.to_json(), ...]}``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from . import __version__
from .errors import IramError
from .looptags import CSV_COLUMNS, LoopTags
from .roles import ROLES

TABLE_SUFFIXES = (".csv", ".json")


def table_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise IramError(f"{path}: tag tables are .csv or .json; name the output tags.csv or tags.json")
    return suffix[1:]


def format_table(tags: Iterable[LoopTags], fmt: str, *, model: str = "", thresholds=()) -> str:
    """The text of a tag table, ``fmt`` "csv" or "json"."""
    import csv
    import io

    tags = list(tags)
    if fmt == "json":
        return json.dumps({"iram_version": __version__, "model": model, "roles": list(ROLES),
                           "thresholds": [round(float(t), 4) for t in thresholds],
                           "files": [t.to_json() for t in tags]}, indent=1) + "\n"
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(t.to_row() for t in tags)
    return buf.getvalue()


def write_table(path: str | Path, tags: Iterable[LoopTags], *, model: str = "", thresholds=()) -> Path:
    """Write ``tags`` to ``path`` (.csv or .json, after its suffix), complete or not at all."""
    from .io import write_text

    write_text(path, format_table(tags, table_format(path), model=model, thresholds=thresholds))
    return Path(path)


def read_table(path: str | Path) -> list[LoopTags]:
    """The tags in a table written by :func:`write_table`."""
    import csv

    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise IramError(f"{path}: no such tag table; make one with 'iram tag LOOPS -o {path.name}'")
    try:
        if fmt == "json":
            d = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(d, dict) or "files" not in d:
                raise IramError("not an iram tag table (no 'files' list)")
            return [LoopTags.from_json(x) for x in d["files"]]
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in ("path", "roles", *ROLES) if c not in (reader.fieldnames or [])]
            if missing:
                raise IramError(f"not an iram tag table (no column {', '.join(missing)})")
            return [LoopTags.from_row(r) for r in reader]
    except json.JSONDecodeError as err:
        raise IramError(f"{path}: not valid JSON ({err.msg}); re-run 'iram tag'") from err
    except UnicodeDecodeError as err:
        raise IramError(f"{path}: not a text tag table; give the .csv or .json that 'iram tag' wrote") from err
    except IramError as err:
        raise IramError(f"{path}: {err}") from err


@dataclass(frozen=True)
class Query:
    """What :func:`find` keeps: every role of ``with_roles`` on, every one of
    ``without_roles`` off, and, when ``tempo`` is given, a tempo in [low, high] BPM
    (files without a tempo are left out)."""

    with_roles: tuple[str, ...] = ()
    without_roles: tuple[str, ...] = ()
    tempo: tuple[float, float] | None = None

    def __post_init__(self):
        for r in (*self.with_roles, *self.without_roles):
            if r not in ROLES:
                raise IramError(f"unknown role {r!r}; choose from {', '.join(ROLES)}")
        if self.tempo is not None and self.tempo[0] > self.tempo[1]:
            raise IramError(f"tempo range {self.tempo[0]:g}-{self.tempo[1]:g} is empty; give LOW-HIGH, e.g. 120-130")

    def matches(self, t: LoopTags) -> bool:
        if any(r not in t.roles for r in self.with_roles) or any(r in t.roles for r in self.without_roles):
            return False
        if self.tempo is not None:
            return t.bpm is not None and self.tempo[0] <= t.bpm <= self.tempo[1]
        return True


def parse_tempo(text: str) -> tuple[float, float]:
    """``"120-130"`` -> (120, 130); ``"128"`` -> (127.5, 128.5) (one tempo, to the nearest BPM)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*(?:-\s*(\d+(?:\.\d*)?))?\s*", text)
    if not m:
        raise IramError(f"--tempo {text}: give a range like 120-130 or one tempo like 128")
    lo = float(m.group(1))
    return (lo, float(m.group(2))) if m.group(2) else (lo - 0.5, lo + 0.5)


def find(tags: Iterable[LoopTags], query: Query) -> list[LoopTags]:
    """The tags that match ``query``, in their order."""
    return [t for t in tags if query.matches(t)]


def _paths_key(p: str | Path) -> str:
    return str(Path(p).resolve())


def load_tags(sources: list[str], *, expand=None, on_error: Callable[[str], None] | None = None) -> tuple[list[LoopTags], int]:
    """Tags from tag tables (.csv/.json) and from audio files' metadata (files and
    folders; ``expand`` turns folders and globs into files, default as given).
    Audio files without iram tags, or in formats that cannot carry them, are
    skipped; files that cannot be read are reported to ``on_error`` and counted.
    Returns (tags, number that failed)."""
    from .metadata import TAGGABLE, read_tags

    report = on_error or (lambda msg: None)
    tags: list[LoopTags] = []
    failed = 0
    audio = []
    for s in sources:
        if Path(s).suffix.lower() in TABLE_SUFFIXES:
            tags += read_table(s)
        else:
            audio += expand([s]) if expand else [Path(s)]
    for p in (p for p in audio if p.suffix.lower() in TAGGABLE):
        try:
            t = read_tags(p)
        except IramError as err:
            report(str(err))
            failed += 1
            continue
        if t is not None:
            tags.append(t)
    return tags, failed


def tag_library(files: list[Path], *, out: str | Path | None = None, write: bool = False, skip_existing: bool = False,
                read: bool = False, model=None, device: str = "auto", tempo: bool = True, jobs: int = 2,
                progress: bool = True, on_error: Callable[[str], None] | None = None,
                save_every: int = 100) -> tuple[list[LoopTags], int]:
    """What ``iram tag`` does: tag ``files`` (one model, decoding in parallel), write
    the roles into them (``write``), and keep the table in ``out`` (.csv/.json),
    rewritten atomically every ``save_every`` files so an interrupted batch keeps
    its work (``skip_existing`` then resumes it). ``read`` reads stored tags
    instead of running the model. Files that fail are reported to ``on_error``
    (one line each) and skipped. Returns (tags in input order, number failed).
    """
    import sys

    from tqdm import tqdm

    from .metadata import read_tags, write_tags

    def report(msg: str) -> None:
        if on_error is not None:
            with tqdm.external_write_mode(file=sys.stderr):  # the line goes above the progress bar
                on_error(msg)

    if read and write:
        raise IramError("--read reads the tags stored in files; leave out --write-tags")
    if out is not None:
        table_format(out)
        folder = Path(out).parent
        if not folder.is_dir():
            raise IramError(f"{folder}: output folder does not exist; create it or choose another with -o")
    done: dict[str, LoopTags] = {}
    if skip_existing and out is not None and Path(out).is_file():
        done = {_paths_key(t.path): t for t in read_table(out)}
    n_kept = len(done)
    order = list(dict.fromkeys(_paths_key(f) for f in files))  # resolved once, not at every save
    failed = 0
    todo: list[Path] = []
    for f in files:
        if not f.is_file():
            report(f"{f}: no such file; check the path")
            failed += 1
        elif _paths_key(f) not in done:
            todo.append(f)
    if read or (write and skip_existing):
        left = []
        for f in tqdm(todo, desc="read tags", unit="file", disable=not progress or not read or len(todo) < 2):
            try:
                t = read_tags(f)
            except IramError as err:
                if read:
                    report(str(err))
                    failed += 1
                else:
                    left.append(f)  # cannot carry tags: still tag it for the table (the write reports it)
                continue
            if t is not None:
                done[_paths_key(f)] = t
            elif read:
                report(f"{f}: carries no iram tags; tag it with 'iram tag --write-tags'")
                failed += 1
            else:
                left.append(f)
        todo = [] if read else left
    from .tagging import loop_thresholds, model_label, resolve_model, tag_files

    m = resolve_model(model, device) if todo else None

    def save() -> None:
        if out is not None and len(done) > n_kept:  # nothing new: an earlier table stays as it was
            write_table(out, _in_order(done, order), model=model_label(m) if m else "",
                        thresholds=loop_thresholds(m) if m else ())

    try:
        if todo:
            results = tag_files(todo, model=m, tempo=tempo, jobs=jobs)
            for k, (f, t) in enumerate(tqdm(results, total=len(todo), desc="tag", unit="file", disable=not progress), 1):
                if isinstance(t, IramError):
                    report(str(t))
                    failed += 1
                    continue
                if write:
                    try:
                        write_tags(f, t)
                    except IramError as err:
                        report(str(err))
                        failed += 1
                done[_paths_key(f)] = t
                if k % save_every == 0:
                    save()
    finally:
        save()
    return _in_order(done, order), failed


def _in_order(done: dict[str, LoopTags], keys: list[str]) -> list[LoopTags]:
    """The tags of the files with ``keys`` (:func:`_paths_key`) in order, then the rest (from an earlier table)."""
    seen = set(keys)
    return [done[k] for k in keys if k in done] + [t for k, t in done.items() if k not in seen]
