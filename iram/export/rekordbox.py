"""rekordbox XML (DJ_PLAYLISTS): memory and hot cues, and a beat grid for new tracks.

Format as pyrekordbox documents and reads it (``pyrekordbox.rbxml``): a
``COLLECTION/TRACK`` per file, matched by ``Location``, a URI of the form
``file://localhost/C:/Music/a%20b.mp3`` on Windows and ``file://localhost/Users/...``
on macOS (pyrekordbox's ``encode_path``/``decode_path`` docstrings); cues are
``POSITION_MARK`` children (``Type`` 0 cue, 4 loop; ``Num`` -1 memory cue, 0-7 hot cue A-H).

An existing library is merged under its lock: only marks that match iram's ledger
exactly are replaced, hot cues take free slots only, everything else is kept as it
was (layout included); the file is checked with pyrekordbox before it replaces the
old one, after the backups described in :mod:`iram.export.library`.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path, PurePath, PureWindowsPath
from urllib.parse import quote, unquote

from .. import __version__
from ..errors import ExportError
from . import cues_for, find_track, place, rgb, summary, track_path
from .xmlfile import append_child, drop_owned, merge, read_library

PREFIX = "file://localhost"


def location(path: PurePath) -> str:
    """``Location`` of a track: ``file://localhost/C:/...`` (Windows) or ``file://localhost/home/...``."""
    p = path.as_posix()
    return PREFIX + quote(p if p.startswith("/") else "/" + p, safe="/:")


def path_of(loc: str) -> PurePath | None:
    if not loc.startswith(PREFIX):
        return None
    p = unquote(loc[len(PREFIX):])
    if len(p) > 3 and p[0] == "/" and p[2] == ":" and p[1].isalpha():  # /C:/Users/... is a Windows path
        return PureWindowsPath(p[1:])
    if p.startswith("//") and not p.startswith("///"):  # //server/share/... is a Windows network share
        return PureWindowsPath(p)
    return PurePath(p)


def read(path: Path) -> ET.ElementTree:
    return read_library(path, "DJ_PLAYLISTS", "rekordbox library", "a rekordbox XML export")


def new_tree() -> ET.ElementTree:
    root = ET.Element("DJ_PLAYLISTS", Version="1.0.0")
    root.text = "\n  "
    ET.SubElement(root, "PRODUCT", Name="iram", Version=__version__, Company="iram").tail = "\n  "
    coll = ET.SubElement(root, "COLLECTION", Entries="0")
    coll.tail = "\n  "
    pl = ET.SubElement(root, "PLAYLISTS")
    pl.tail = "\n"
    pl.text = "\n    "
    ET.SubElement(pl, "NODE", Type="0", Name="ROOT", Count="0").tail = "\n  "
    return ET.ElementTree(root)


def _paths(t: ET.Element) -> list[PurePath]:
    p = path_of(t.get("Location", ""))
    return [] if p is None else [p]


def _merge_track(coll: ET.Element, a, ledger: dict) -> str:
    p = track_path(a.path)
    track = find_track(coll.findall("TRACK"), _paths, p)
    created = track is None
    if created:
        ids = [int(t.get("TrackID", 0)) for t in coll.findall("TRACK") if t.get("TrackID", "").isdigit()]
        track = append_child(coll, "TRACK", dict(TrackID=str(max(ids, default=0) + 1), Name=p.stem, Location=location(p),
                                                 TotalTime=str(int(a.duration)), AverageBpm=f"{a.bpm:.2f}"))
    key = track.get("Location")
    mine = ledger["tracks"].get(key, {})
    drop_owned(track, "POSITION_MARK", mine.get("marks", []))
    taken = {int(n) for n in (m.get("Num", "-1") for m in track.findall("POSITION_MARK")) if n.isdigit()}
    extra = list(mine.get("extra", []))
    if track.find("TEMPO") is None and len(a.downbeats):  # never overwrite a grid the DJ has set
        attrs = dict(Inizio=f"{a.downbeats[0]:.3f}", Bpm=f"{a.bpm:.2f}", Metro="4/4", Battito="1")
        append_child(track, "TEMPO", attrs)
        extra.append(["TEMPO", attrs])
    cues, unplaced = place(cues_for(a), taken)
    written = []
    for c in cues:
        r, g, b = rgb(c.colour)
        attrs = dict(Name=c.name, Type="0", Start=f"{c.start:.3f}", Num="-1", Red=str(r), Green=str(g), Blue=str(b))
        written.append(dict(append_child(track, "POSITION_MARK", attrs).attrib))
        if c.hot is not None:
            written.append(dict(append_child(track, "POSITION_MARK", {**attrs, "Num": str(c.hot)}).attrib))
    ledger["tracks"][key] = {"created": created or mine.get("created", False), "marks": written, "extra": extra}
    return f"{p.name}: {len(cues)} memory cues, {summary(cues, unplaced, taken, memory=True)}"


def _loads_in_pyrekordbox(tmp: Path, target: Path) -> None:
    try:
        from pyrekordbox.rbxml import RekordboxXml

        RekordboxXml(str(tmp))
    except Exception as err:  # never replace a library with a file rekordbox could not read
        raise ExportError(f"{target}: the merged XML did not load back in pyrekordbox ({err}); nothing was changed") from err


def write(results, target: Path) -> list[str]:
    lines = merge(results, target, fmt="rekordbox", read=read, new_tree=new_tree, merge_track=_merge_track,
                  count=("TRACK", "Entries"), check=_loads_in_pyrekordbox)
    return [f"{target}: {line}" for line in lines]
