"""Mixxx library (mixxxdb.sqlite): rows in ``cues`` for the matching track.

Checked against Mixxx's own source: ``res/schema.xml`` (tables ``track_locations``,
``library``, ``cues``; the cue ``color`` column is plain RGB since revision 32) and
``src/library/dao/cuedao.cpp`` (one row per cue; ``hotcue`` is the slot, -1 for
none; when two rows share a hot cue slot Mixxx keeps one and deletes the other on
the next save, so a slot that holds any row is never reused here). Positions are
engine samples: seconds x sample rate x 2 (``track/cue.cpp``). Mixxx has hot
cues only, so sections without a free slot are named in the report.

``track_locations.location`` holds the path as Mixxx was given it (Qt's
``absoluteFilePath``: symlinks are not resolved; ``/`` separators on Windows too,
``C:/Users/...``), so it is matched as given first, and through the symlink only
when that finds nothing.

Mixxx keeps its database open while it runs and overwrites it from memory, so
the export is refused while any other process has the file open (or is called
mixxx), not only while it is locked.
"""
from __future__ import annotations

import os
import sqlite3
import unicodedata
from pathlib import Path, PureWindowsPath

from ..errors import ExportError
from . import cues_for, place, rgb, summary, track_path
from .library import check_writable, copy_file, keep_backups, load_ledger, locked, owned, save_ledger, widened

HOTCUE = 1  # mixxx::CueType::HotCue
COLUMNS = ("type", "position", "length", "hotcue", "label", "color")


def users(db: Path) -> list[str]:
    """Other processes that have ``db`` open or are Mixxx itself ("name (pid N)")."""
    import psutil

    db = Path(db).resolve()
    names = {str(db), str(db) + "-journal", str(db) + "-wal", str(db) + "-shm"}
    out = []
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.info["pid"] == os.getpid():
            continue
        try:
            if "mixxx" in (proc.info["name"] or "").lower() or any(f.path in names for f in proc.open_files()):
                out.append(f"{proc.info['name']} (pid {proc.info['pid']})")
        except (psutil.Error, OSError):
            continue
    return out


def refuse_while_open(db: Path) -> None:
    busy = users(db)
    if busy:
        raise ExportError(f"{db}: in use by {', '.join(busy)} (is Mixxx running?); close Mixxx and try again")


def _connect(target: Path) -> sqlite3.Connection:
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
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as err:
        con.close()
        raise ExportError(f"{target}: not an SQLite database ({err}); give mixxxdb.sqlite") from err
    if not {"cues", "library", "track_locations"} <= tables:
        con.execute("ROLLBACK")
        con.close()
        raise ExportError(f"{target}: not a Mixxx library (no cues/library/track_locations tables); give mixxxdb.sqlite")
    return con


def _track(con: sqlite3.Connection, target: Path, path) -> tuple[int, int, str]:
    p = track_path(path)
    query = ("SELECT library.id, library.samplerate, track_locations.location FROM library JOIN track_locations "
             "ON library.location = track_locations.id WHERE track_locations.location = ?")
    if isinstance(p, PureWindowsPath):  # Qt's absoluteFilePath has forward slashes on Windows too: C:/Users/...
        spellings = [p.as_posix(), str(p)]
    else:
        spellings = [str(p)] + ([str(p.resolve())] if isinstance(p, Path) and p.resolve() != p else [])
    spellings += [unicodedata.normalize(form, s) for form in ("NFC", "NFD") for s in spellings]  # macOS names are NFD
    row = None
    for s in dict.fromkeys(spellings):
        row = row or con.execute(query, (s,)).fetchone()
    if row is None:
        raise ExportError(f"{target}: no track {p} in the Mixxx library; add it in Mixxx first")
    if not row[1]:  # positions are samples at the track's rate: never guess it
        raise ExportError(f"{target}: Mixxx has no sample rate for {p} yet, so cue positions cannot be placed; "
                          f"load the track in Mixxx once, close Mixxx and try again")
    return row[0], row[1], row[2]


def write(results, target: Path) -> list[str]:
    target = Path(target)
    if not target.exists():
        raise ExportError(f"{target}: no Mixxx database there; give the path of mixxxdb.sqlite")
    check_writable(target)
    with locked(target) as d:
        refuse_while_open(target)
        ledger = load_ledger(d, "mixxx")
        before = {**ledger, "tracks": dict(ledger["tracks"])}
        con = _connect(target)
        try:
            plan = [(a, *_track(con, target, a.path)) for a in results]
            keep_backups(d, True, copy_file(target))  # under BEGIN IMMEDIATE: nobody else writes meanwhile
            lines = []
            for a, track_id, sr, key in plan:
                rows = con.execute(f"SELECT id, {', '.join(COLUMNS)} FROM cues WHERE track_id = ?", (track_id,)).fetchall()
                mine = ledger["tracks"].get(key, {})
                ours = owned([list(r[1:]) for r in rows], mine.get("rows", []))
                con.executemany("DELETE FROM cues WHERE id = ?", [(r[0],) for r, o in zip(rows, ours) if o])
                taken = {r[4] for r, o in zip(rows, ours) if not o and r[4] is not None and r[4] >= 0}
                cues, unplaced = place(cues_for(a), taken)
                written = []
                for c in cues:
                    if c.hot is None:
                        continue
                    r, g, b = rgb(c.colour)
                    values = [HOTCUE, int(round(c.start * sr * 2)), 0, c.hot, c.name, (r << 16) | (g << 8) | b]
                    con.execute(f"INSERT INTO cues (track_id, {', '.join(COLUMNS)}) VALUES (?,?,?,?,?,?,?)", (track_id, *values))
                    written.append(values)
                ledger["tracks"][key] = {"rows": written}
                lines.append(f"{target}: {Path(key).name}: {summary(cues, unplaced, taken, memory=False)}")
            save_ledger(d, widened(before, ledger))  # old and new records both vouch while the database changes
            con.execute("COMMIT")
        except BaseException as err:
            if con.in_transaction:
                con.execute("ROLLBACK")
            if isinstance(err, sqlite3.Error):  # a full disk, an I/O error, a schema older than Mixxx 2.3
                raise ExportError(f"{target}: the Mixxx database could not be written ({err}); nothing was changed. "
                                  f"Open it once in Mixxx 2.3 or newer, free some space, and try again") from err
            raise
        finally:
            con.close()
        save_ledger(d, ledger)
    return lines
