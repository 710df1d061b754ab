"""rekordbox XML (DJ_PLAYLISTS): memory and hot cues, and a beat grid for new tracks.

Tracks are matched by ``Location`` (a file URI). An existing library is merged:
iram's earlier cues are replaced, everything else is kept; the old file is
kept as ``NAME.bak``; the new one is checked with pyrekordbox before it
replaces the old.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from ..errors import ExportError
from ..io import atomic_path
from . import cues_for, is_iram_cue, read_library, rgb


def location(path: str) -> str:
    return "file://localhost" + quote(str(Path(path).resolve()), safe="/:")


def path_of(loc: str) -> str:
    return unquote(urlparse(loc).path)


def read(path: Path) -> ET.ElementTree:
    return read_library(path, "DJ_PLAYLISTS", "rekordbox library", "a rekordbox XML export")


def new_tree() -> ET.ElementTree:
    root = ET.Element("DJ_PLAYLISTS", Version="1.0.0")
    ET.SubElement(root, "PRODUCT", Name="iram", Version="0.1.0", Company="iram")
    ET.SubElement(root, "COLLECTION", Entries="0")
    pl = ET.SubElement(root, "PLAYLISTS")
    ET.SubElement(pl, "NODE", Type="0", Name="ROOT", Count="0")
    return ET.ElementTree(root)


def write(results, target: Path) -> list[str]:
    target = Path(target)
    tree = read(target) if target.exists() else new_tree()
    coll = tree.getroot().find("COLLECTION")
    by_path = {path_of(t.get("Location", "")): t for t in coll.findall("TRACK")}
    lines = []
    for a in results:
        p = str(Path(a.path).resolve())
        track = by_path.get(p)
        if track is None:
            ids = [int(t.get("TrackID", 0)) for t in coll.findall("TRACK") if t.get("TrackID", "").isdigit()]
            track = ET.SubElement(coll, "TRACK", TrackID=str(max(ids, default=0) + 1), Name=Path(p).stem,
                                  Location=location(p), TotalTime=str(int(a.duration)), AverageBpm=f"{a.bpm:.2f}")
            by_path[p] = track
        for m in [m for m in track.findall("POSITION_MARK") if is_iram_cue(m.get("Name"))]:
            track.remove(m)
        if track.find("TEMPO") is None and len(a.downbeats):  # never overwrite a grid the DJ has set
            ET.SubElement(track, "TEMPO", Inizio=f"{a.downbeats[0]:.3f}", Bpm=f"{a.bpm:.2f}", Metro="4/4", Battito="1")
        cues = cues_for(a)
        for c in cues:
            r, g, b = rgb(c.colour)
            attrs = dict(Name=c.name, Type="0", Start=f"{c.start:.3f}", Num="-1", Red=str(r), Green=str(g), Blue=str(b))
            ET.SubElement(track, "POSITION_MARK", **attrs)
            if c.hot is not None:
                ET.SubElement(track, "POSITION_MARK", **{**attrs, "Num": str(c.hot)})
        lines.append(f"{target}: {Path(p).name}: {len(cues)} memory cues, {sum(c.hot is not None for c in cues)} hot cues")
    coll.set("Entries", str(len(coll.findall("TRACK"))))
    ET.indent(tree)
    with atomic_path(target, backup=True) as tmp:
        tree.write(tmp, encoding="UTF-8", xml_declaration=True)
        try:
            from pyrekordbox.rbxml import RekordboxXml

            RekordboxXml(str(tmp))
        except Exception as err:  # never replace a library with a file rekordbox could not read
            raise ExportError(f"{target}: the merged XML did not load back in pyrekordbox ({err}); nothing was changed") from err
    return lines
