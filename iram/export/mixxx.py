"""Mixxx library (mixxxdb.sqlite): rows in ``cues`` for the matching track.

Positions are in interleaved stereo samples (seconds x sample rate x 2). Only
hot cues exist in Mixxx, so the first 8 sections are written. A locked
database (Mixxx running) is refused; the previous file is kept as ``NAME.bak``.
"""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from ..errors import ExportError
from . import cues_for, is_iram_cue, rgb

HOTCUE = 1  # Mixxx CueType::HotCue


def write(results, target: Path) -> list[str]:
    target = Path(target)
    if not target.exists():
        raise ExportError(f"{target}: no Mixxx database there; give the path of mixxxdb.sqlite")
    try:
        con = sqlite3.connect(str(target), timeout=0.5, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as err:
        if "locked" in str(err):
            raise ExportError(f"{target}: database is locked (is Mixxx running?); close Mixxx and try again") from err
        raise ExportError(f"{target}: not a usable SQLite database ({err}); give mixxxdb.sqlite") from err
    except sqlite3.DatabaseError as err:
        raise ExportError(f"{target}: not an SQLite database ({err}); give mixxxdb.sqlite") from err
    try:
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as err:
            raise ExportError(f"{target}: not an SQLite database ({err}); give mixxxdb.sqlite") from err
        if not {"cues", "library", "track_locations"} <= tables:
            raise ExportError(f"{target}: not a Mixxx library (no cues/library/track_locations tables); give mixxxdb.sqlite")
        plan = []
        for a in results:
            p = str(Path(a.path).resolve())
            row = con.execute("SELECT library.id, library.samplerate FROM library JOIN track_locations ON "
                              "library.location = track_locations.id WHERE track_locations.location = ?", (p,)).fetchone()
            if row is None:
                raise ExportError(f"{target}: no track {p} in the Mixxx library; add it in Mixxx first")
            plan.append((a, row[0], row[1] or 44100))
        shutil.copy2(target, target.with_name(target.name + ".bak"))
        lines = []
        for a, track_id, sr in plan:
            old = [(i, lab) for i, lab in con.execute("SELECT id, label FROM cues WHERE track_id = ?", (track_id,)) if is_iram_cue(lab)]
            con.executemany("DELETE FROM cues WHERE id = ?", [(i,) for i, _ in old])
            hot = [c for c in cues_for(a) if c.hot is not None]
            for c in hot:
                r, g, b = rgb(c.colour)
                con.execute("INSERT INTO cues (track_id, type, position, length, hotcue, label, color) VALUES (?,?,?,?,?,?,?)",
                            (track_id, HOTCUE, int(round(c.start * sr * 2)), 0, c.hot, c.name, (r << 16) | (g << 8) | b))
            lines.append(f"{target}: {Path(a.path).name}: {len(hot)} hot cues")
        con.execute("COMMIT")
        return lines
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()
