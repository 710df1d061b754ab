"""Traktor NML collection: CUE_V2 cues (START in ms) and the beat grid.

Entries are matched by ``LOCATION``: ``VOLUME`` + ``DIR`` (Traktor's ``/:``
separators) + ``FILE``. As Mixxx's Traktor importer reads it
(``src/library/traktor/traktorfeature.cpp``, ``parseTrack``): on Windows ``VOLUME``
is the drive (``C:``) and DIR is relative to it; on macOS ``VOLUME`` is a volume
name, a folder of ``/Volumes`` (the start-up disk's, e.g. ``Macintosh HD``, links to
``/``), and DIR is relative to that volume. So an external drive's track
``/Volumes/USB/Music/a.mp3`` is ``VOLUME="USB" DIR="/:Music/:"``.

Numbers are written as Traktor writes them (``START`` in ms with 6 decimals), so a
collection Traktor has saved again still matches iram's ledger exactly.

Merging keeps every entry, cue and attribute iram did not write; only CUE_V2 marks
that match the ledger exactly are replaced; hot cues (``HOTCUE`` 0-7) take free
slots only, the rest stay stored cues (``HOTCUE=-1``).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

from . import cues_for, find_track, place, summary, track_path
from .xmlfile import append_child, drop_owned, merge, read_library

CUE, GRID = "0", "4"
DRIVE = re.compile(r"^[A-Za-z]:$")


def candidates(loc: ET.Element) -> list[PurePath]:
    """The paths a LOCATION can stand for (Windows drive, or macOS volume / start-up disk)."""
    volume, file = loc.get("VOLUME") or "", loc.get("FILE") or ""
    parts = [p for p in (loc.get("DIR") or "").split("/:") if p] + [file]
    if DRIVE.match(volume):
        return [PureWindowsPath(volume + "\\", *parts)]
    out = [PurePosixPath("/", *parts)]
    if volume:
        out.insert(0, PurePosixPath("/Volumes", volume, *parts))
    return out


def system_volume() -> str | None:
    """The macOS start-up disk's name: the entry of /Volumes that links to /."""
    vols = Path("/Volumes")
    if not vols.is_dir():
        return None
    for v in vols.iterdir():
        try:
            if v.is_symlink() and v.resolve() == Path("/"):
                return v.name
        except OSError:
            continue
    return None


def new_location(p: PurePath, coll: ET.Element) -> dict:
    """LOCATION attributes for a track path, Traktor-style (see the module docstring)."""
    if isinstance(p, PureWindowsPath):
        volume, parts = p.drive, p.parts[1:-1]
    elif len(p.parts) > 3 and p.parts[1] == "Volumes":
        volume, parts = p.parts[2], p.parts[3:-1]
    else:  # the start-up disk: its name as this Mac calls it, else as the collection already does
        known = Counter(loc.get("VOLUME") for loc in coll.iter("LOCATION") if loc.get("VOLUME") and not DRIVE.match(loc.get("VOLUME")))
        volume, parts = system_volume() or (known.most_common(1)[0][0] if known else ""), p.parts[1:-1]
    attrs = dict(DIR="".join(f"/:{x}" for x in parts) + "/:", FILE=p.name, VOLUME=volume)
    ids = {loc.get("VOLUMEID") for loc in coll.iter("LOCATION") if loc.get("VOLUME") == volume and loc.get("VOLUMEID")}
    if len(ids) == 1:
        attrs["VOLUMEID"] = ids.pop()
    return attrs


def _paths(e: ET.Element) -> list[PurePath]:
    loc = e.find("LOCATION")
    return [] if loc is None else candidates(loc)


def entry_key(e: ET.Element) -> str:
    loc = e.find("LOCATION")
    return f"{loc.get('VOLUME', '')}{loc.get('DIR', '')}{loc.get('FILE', '')}"


def read(path: Path) -> ET.ElementTree:
    return read_library(path, "NML", "Traktor collection", "a Traktor collection.nml")


def new_tree() -> ET.ElementTree:
    root = ET.Element("NML", VERSION="19")
    root.text = "\n  "
    ET.SubElement(root, "HEAD", COMPANY="www.native-instruments.com", PROGRAM="Traktor").tail = "\n  "
    ET.SubElement(root, "COLLECTION", ENTRIES="0").tail = "\n"
    return ET.ElementTree(root)


def _merge_track(coll: ET.Element, a, ledger: dict) -> str:
    p = track_path(a.path)
    e = find_track(coll.findall("ENTRY"), _paths, p)
    created = e is None
    if created:
        e = append_child(coll, "ENTRY", dict(TITLE=p.stem))
        append_child(e, "LOCATION", new_location(p, coll))
    key = entry_key(e)
    mine = ledger["tracks"].get(key, {})
    drop_owned(e, "CUE_V2", mine.get("marks", []))
    taken = {int(n) for n in (m.get("HOTCUE", "-1") for m in e.findall("CUE_V2")) if n.isdigit()}
    extra = list(mine.get("extra", []))
    if e.find("TEMPO") is None:
        attrs = dict(BPM=f"{a.bpm:.6f}", BPM_QUALITY="100.000000")
        append_child(e, "TEMPO", attrs)
        extra.append(["TEMPO", attrs])
    if not any(c.get("TYPE") == GRID for c in e.findall("CUE_V2")) and len(a.downbeats):
        attrs = dict(NAME="AutoGrid", DISPL_ORDER="0", TYPE=GRID, START=f"{a.downbeats[0] * 1000:.6f}",
                     LEN="0.000000", REPEATS="-1", HOTCUE="-1")
        append_child(e, "CUE_V2", attrs)
        extra.append(["CUE_V2", attrs])
    cues, unplaced = place(cues_for(a), taken)
    written = [dict(append_child(e, "CUE_V2", dict(NAME=c.name, DISPL_ORDER="0", TYPE=CUE, START=f"{c.start * 1000:.6f}",
                                                   LEN="0.000000", REPEATS="-1", HOTCUE=str(-1 if c.hot is None else c.hot),
                                                   COLOR=c.colour)).attrib) for c in cues]
    ledger["tracks"][key] = {"created": created or mine.get("created", False), "marks": written, "extra": extra}
    return f"{p.name}: {len(cues)} cues, {summary(cues, unplaced, taken, memory=True)}"


def write(results, target: Path) -> list[str]:
    lines = merge(results, target, fmt="traktor", read=read, new_tree=new_tree, merge_track=_merge_track, count=("ENTRY", "ENTRIES"))
    return [f"{target}: {line}" for line in lines]
