"""Plain exports: an Audacity label track, CSV and JSON of the sections."""
from __future__ import annotations

import json
from pathlib import Path

from ..io import write_text
from . import cues_for


def write(a, fmt: str, folder: Path) -> str:
    folder = Path(folder)
    stem = Path(a.path).stem
    cues = cues_for(a)
    if fmt == "audacity":
        out = folder / f"{stem}.labels.txt"
        write_text(out, "".join(f"{c.start:.6f}\t{c.end:.6f}\t{c.name}\n" for c in cues))
    elif fmt == "csv":
        import pandas as pd

        out = folder / f"{stem}.sections.csv"
        rows = [{"start": round(c.start, 4), "end": round(c.end, 4), "bars": f"{s.bars[0]}-{s.bars[1]}", "label": c.label,
                 "roles": " ".join(s.roles), "name": c.name, "colour": c.colour, "hot_cue": "" if c.hot is None else "ABCDEFGH"[c.hot]}
                for c, s in zip(cues, a.sections)]
        write_text(out, pd.DataFrame(rows).to_csv(index=False))
    else:
        out = folder / f"{stem}.sections.json"
        write_text(out, json.dumps({"file": a.name, "bpm": a.bpm, "cues": [c.__dict__ for c in cues]}, indent=1))
    return f"{out}: {len(cues)} sections"
