"""Sections as cue points for DJ software.

Every exporter gets the same cues: one per section, at the section start,
named like ``Drop 1 · drums bass melody`` and coloured by the first active role
in canonical order (see :data:`iram.roles.COLOURS`; grey when none is active).
The first 8 sections also want hot cues; they take the *free* hot-cue slots in
order (a slot holding a cue iram did not write is never reused). Sections left
without a slot stay memory cues where the program has them, and are named in
the report line where it has not.

What iram wrote is recorded exactly in a ledger (:mod:`iram.export.library`),
and only cues that match the ledger exactly are ever replaced: a cue the DJ
made, renamed, moved or recoloured is the DJ's and is never touched.
"""
from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path, PurePath, PureWindowsPath

from ..errors import ExportError
from ..roles import COLOURS, ROLES

HOT_CUES = 8
GREY = "#9E9E9E"
LIBRARY_FORMATS = ("rekordbox", "traktor", "mixxx")  # one library file holds many tracks
FORMATS = (*LIBRARY_FORMATS, "serato", "audacity", "csv", "json")
SLOT_NAMES = "ABCDEFGH"


@dataclass(frozen=True)
class Cue:
    name: str
    start: float  # seconds
    end: float  # seconds (the section end)
    colour: str  # "#RRGGBB"
    hot: int | None  # hot cue slot 0..7, or None for a memory cue
    label: str  # section label


def colour_of(roles) -> str:
    for r in ROLES:
        if r in roles:
            return COLOURS[r]
    return GREY


def rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def cues_for(analysis) -> list[Cue]:
    """One cue per section; the first :data:`HOT_CUES` ask for hot slots 0, 1, ... in order."""
    return [Cue(s.name, s.start, s.end, colour_of(s.roles), k if k < HOT_CUES else None, s.label)
            for k, s in enumerate(analysis.sections)]


def place(cues: list[Cue], taken) -> tuple[list[Cue], list[Cue]]:
    """Give the cues that want a hot cue the free slots, in order.

    Parameters
    ----------
    cues : list of Cue
        From :func:`cues_for`.
    taken : set of int
        Slots (0..7) that hold a cue iram did not write.

    Returns
    -------
    placed : list of Cue
        ``cues`` with ``hot`` set to a free slot, or None where none was left.
    unplaced : list of Cue
        The cues that wanted a hot cue and got none.
    """
    free = iter(sorted(set(range(HOT_CUES)) - set(taken)))
    placed, unplaced = [], []
    for c in cues:
        slot = next(free, None) if c.hot is not None else None
        if c.hot is not None and slot is None:
            unplaced.append(c)
        placed.append(replace(c, hot=slot))
    return placed, unplaced


def summary(cues: list[Cue], unplaced: list[Cue], taken, *, memory: bool) -> str:
    """The report's tail: hot cues written, the DJ's slots left alone, sections not placed."""
    hot = sum(c.hot is not None for c in cues)
    out = f"{hot} hot cues"
    yours = [SLOT_NAMES[k] for k in sorted(taken) if 0 <= k < HOT_CUES]
    if yours:
        out += f" (slots {', '.join(yours)} are yours, left as they were)"
    if unplaced:
        names = ", ".join(c.name for c in unplaced)
        out += f"; no free hot cue slot for {names}" + (" (memory cues only)" if memory else " (not placed)")
    return out


def track_path(path) -> PurePath:
    """The absolute path of a track as DJ programs store it: symlinks are not resolved.

    A Windows path (``C:\\...``, ``\\\\server\\share\\...``) stays a Windows path
    whatever system iram runs on, so a library made on Windows can be merged here.
    """
    s = str(path)
    if re.match(r"^[A-Za-z]:[\\/]", s) or s.startswith("\\\\"):
        return PureWindowsPath(s)
    return Path(os.path.abspath(s))


def path_key(p: PurePath) -> str:
    """A string that is equal for two spellings of one track (Windows paths ignore case and slash style).

    Unicode is compared composed (NFC): macOS programs store decomposed names (``e`` + U+0301)
    where a typed path has ``\u00e9``.
    """
    s = unicodedata.normalize("NFC", str(p))
    return s.replace("/", "\\").casefold() if isinstance(p, PureWindowsPath) else s


def find_track(items, paths_of, p: PurePath):
    """The first of ``items`` whose path (one of ``paths_of(item)``) is ``p``; through a symlink only if none is.

    Programs store the path they were given, so it is matched as given first.
    """
    index = {}
    for it in items:
        for q in paths_of(it):
            index.setdefault(path_key(q), it)
    hit = index.get(path_key(p))
    if hit is None and isinstance(p, Path) and p.resolve() != p:
        hit = index.get(path_key(p.resolve()))
    return hit


def library_file(fmt: str, target) -> Path:
    """The library file an export of ``fmt`` into ``target`` (a file or a folder) writes."""
    target = Path(target)
    if fmt == "rekordbox":
        return target if target.suffix.lower() == ".xml" else target / "rekordbox.xml"
    if fmt == "traktor":
        return target if target.suffix.lower() == ".nml" else target / "collection.nml"
    return target


def export(results, fmt: str, target, *, option: str = "-o") -> list[str]:
    """Export the sections of each Analysis in ``results`` as ``fmt``; returns report lines.

    A library format writes its library once for the whole batch, under a lock,
    after keeping a backup (see :mod:`iram.export.library`). ``option`` names the
    command-line option that gave ``target``, for error messages.
    """
    from . import mixxx, plain, rekordbox, serato, traktor

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    target = Path(target)
    if fmt in ("rekordbox", "traktor"):
        lib = library_file(fmt, target)
        if not lib.parent.is_dir():
            raise ExportError(f"{lib.parent}: folder does not exist; create it or give another library file with {option}")
        return (rekordbox if fmt == "rekordbox" else traktor).write(results, lib)
    if fmt == "mixxx":
        if target.is_dir():
            raise ExportError(f"{target}: give the Mixxx database file (mixxxdb.sqlite) with {option}")
        return mixxx.write(results, target)
    if fmt == "serato":
        return [serato.write(a) for a in results]
    from ..io import output_dir

    output_dir(target, option=option, error=ExportError)
    return [plain.write(a, fmt, target) for a in results]


def restore(target) -> str:
    """Put back the library (or a Serato-tagged audio file) as it was before iram first wrote to it."""
    from . import library, mixxx, serato

    target = Path(target)
    if target.is_dir():  # the folder export was given: the library file iram wrote there
        found = [library_file(f, target) for f in ("rekordbox", "traktor")
                 if (library.state_dir(library_file(f, target)) / "ledger.json").exists()]
        if len(found) > 1:
            raise ExportError(f"{target}: iram wrote {' and '.join(p.name for p in found)} here; give the one to restore")
        target = found[0] if found else target
    fmt = library.restore_format(target)
    if fmt == "serato":
        return serato.restore(target)
    if fmt == "mixxx":
        mixxx.refuse_while_open(target)
    return library.restore_file(target, fmt)
