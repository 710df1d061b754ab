"""Sections as cue points for DJ software.

Every exporter gets the same cues: one per section, at the section start,
named like ``Drop 1 · drums bass melody`` and coloured by the first active role
in canonical order (see :data:`iram.roles.COLOURS`; grey when none is active).
The first 8 sections are also hot cues A-H (every program's limit is 8 here);
the rest are memory cues where the program has them.

Cues that iram wrote are recognised by their names (:data:`IRAM_CUE`), so a
second export replaces them instead of adding more, and every other cue stays.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ExportError
from ..roles import COLOURS, ROLES

HOT_CUES = 8
GREY = "#9E9E9E"
IRAM_CUE = re.compile(r"^(Intro|Build-up( \d+)?|Drop( \d+)?|Breakdown( \d+)?|Main|Outro)( · .*)?$")
FORMATS = ("rekordbox", "traktor", "serato", "mixxx", "audacity", "csv", "json")


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
    return [Cue(s.name, s.start, s.end, colour_of(s.roles), k if k < HOT_CUES else None, s.label)
            for k, s in enumerate(analysis.sections)]


def is_iram_cue(name: str | None) -> bool:
    return bool(name) and IRAM_CUE.match(name) is not None


def read_library(path: Path, root: str, library: str, hint: str):
    """Parse a DJ library XML whose root is ``root`` and holds a COLLECTION."""
    import xml.etree.ElementTree as ET

    try:
        tree = ET.parse(path)
    except (ET.ParseError, OSError) as err:
        raise ExportError(f"{path}: not readable XML ({err}); give {hint} or a new file name") from err
    if tree.getroot().tag != root or tree.getroot().find("COLLECTION") is None:
        raise ExportError(f"{path}: not a {library} (no {root}/COLLECTION); give {hint} or a new file name")
    return tree


def export(results, fmt: str, target) -> list[str]:
    """Export the sections of each Analysis in ``results`` as ``fmt``; returns report lines."""
    from . import mixxx, plain, rekordbox, serato, traktor

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    target = Path(target)
    if fmt == "rekordbox":
        return rekordbox.write(results, target if target.suffix.lower() == ".xml" else target / "rekordbox.xml")
    if fmt == "traktor":
        return traktor.write(results, target if target.suffix.lower() == ".nml" else target / "collection.nml")
    if fmt == "mixxx":
        if target.is_dir():
            raise ExportError(f"{target}: give the Mixxx database file (mixxxdb.sqlite) with -o")
        return mixxx.write(results, target)
    if fmt == "serato":
        return [serato.write(a) for a in results]
    return [plain.write(a, fmt, target) for a in results]
