"""Traktor NML collection: CUE_V2 cues (START in ms) and the beat grid.

Entries are matched by LOCATION (DIR in Traktor's ``/:`` notation plus FILE).
Merging keeps foreign cues and attributes; iram's earlier cues are replaced;
the previous file is kept as ``NAME.bak``.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..io import atomic_path
from . import cues_for, is_iram_cue, read_library

CUE, GRID = "0", "4"


def nml_dir(path: Path) -> str:
    return "".join(f"/:{p}" for p in path.parent.parts[1:]) + "/:"


def entry_path(e: ET.Element) -> str | None:
    loc = e.find("LOCATION")
    if loc is None:
        return None
    parts = [p for p in (loc.get("DIR") or "").split("/:") if p]
    return "/" + "/".join(parts + [loc.get("FILE", "")])


def read(path: Path) -> ET.ElementTree:
    return read_library(path, "NML", "Traktor collection", "a Traktor collection.nml")


def write(results, target: Path) -> list[str]:
    target = Path(target)
    if target.exists():
        tree = read(target)
    else:
        root = ET.Element("NML", VERSION="19")
        ET.SubElement(root, "HEAD", COMPANY="www.native-instruments.com", PROGRAM="Traktor")
        ET.SubElement(root, "COLLECTION", ENTRIES="0")
        tree = ET.ElementTree(root)
    coll = tree.getroot().find("COLLECTION")
    by_path = {entry_path(e): e for e in coll.findall("ENTRY")}
    lines = []
    for a in results:
        p = Path(a.path).resolve()
        e = by_path.get(str(p))
        if e is None:
            e = ET.SubElement(coll, "ENTRY", TITLE=p.stem)
            ET.SubElement(e, "LOCATION", DIR=nml_dir(p), FILE=p.name, VOLUME="", VOLUMEID="")
            by_path[str(p)] = e
        for c in [c for c in e.findall("CUE_V2") if is_iram_cue(c.get("NAME"))]:
            e.remove(c)
        if e.find("TEMPO") is None:
            ET.SubElement(e, "TEMPO", BPM=f"{a.bpm:.6f}", BPM_QUALITY="100.000000")
        if not any(c.get("TYPE") == GRID for c in e.findall("CUE_V2")) and len(a.downbeats):
            ET.SubElement(e, "CUE_V2", NAME="AutoGrid", DISPL_ORDER="0", TYPE=GRID, START=f"{a.downbeats[0] * 1000:.3f}",
                          LEN="0.000000", REPEATS="-1", HOTCUE="-1")
        cues = cues_for(a)
        for c in cues:
            ET.SubElement(e, "CUE_V2", NAME=c.name, DISPL_ORDER="0", TYPE=CUE, START=f"{c.start * 1000:.3f}",
                          LEN="0.000000", REPEATS="-1", HOTCUE=str(-1 if c.hot is None else c.hot), COLOR=c.colour)
        lines.append(f"{target}: {p.name}: {len(cues)} cues, {sum(c.hot is not None for c in cues)} hot cues")
    coll.set("ENTRIES", str(len(coll.findall("ENTRY"))))
    ET.indent(tree)
    with atomic_path(target, backup=True) as tmp:
        tree.write(tmp, encoding="UTF-8", xml_declaration=True)
    return lines
