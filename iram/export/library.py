"""Writing into a DJ's library safely: one writer at a time, backups, and a ledger.

Everything iram keeps about a library lives in a hidden folder beside it,
``.iram/NAME/`` (for Serato, beside the audio file, named after it):

``original``
    the library exactly as it was before iram first wrote to it; made once and
    never overwritten (``original.absent`` when iram created the file).
``1``, ``2``, ``3``
    the library as it was before each of the last :data:`GENERATIONS` writes
    (``1`` newest), rotated on every write.
``ledger.json``
    exactly what iram wrote, per track (every attribute of every cue, so a cue is
    iram's only if it still matches to the letter; anything else is the DJ's).
``lock``
    held (with the ``filelock`` package) while a library is read, merged and written,
    so two exports into one library both land.

For Serato the copies hold the Serato tags (JSON), not the whole audio file.
``iram export --restore TARGET`` copies ``original`` back (keeping the current
state as generation ``1``, so a restore can itself be undone).
"""
from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ..errors import ExportError
from ..io import atomic_path

GENERATIONS = 3
LOCK_TIMEOUT = 120.0  # seconds to wait for another iram export of the same library


def state_dir(target: Path) -> Path:
    return Path(target).parent / ".iram" / Path(target).name


def check_writable(target: Path) -> None:
    """One line, before anything is read or written, when ``target`` cannot be replaced safely."""
    target = Path(target)
    if target.exists() and not os.access(target, os.W_OK):
        raise ExportError(f"{target}: file is read-only; make it writable (chmod u+w) or give another target")
    folder = target.parent
    if not folder.is_dir():
        raise ExportError(f"{folder}: folder does not exist; create it or give another target")
    if not os.access(folder, os.W_OK):
        raise ExportError(f"{folder}: folder is not writable, so {target.name} cannot be replaced safely; "
                          f"make it writable or give another target")


@contextmanager
def locked(target: Path) -> Iterator[Path]:
    """Hold ``target``'s lock; yields its state folder. Waits up to :data:`LOCK_TIMEOUT` seconds."""
    from filelock import FileLock, Timeout

    d = state_dir(target)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ExportError(f"{d}: cannot create iram's backup folder ({err.strerror}); make {d.parent.parent} writable") from err
    lock = FileLock(str(d / "lock"), timeout=LOCK_TIMEOUT)
    try:
        lock.acquire()
    except Timeout as err:
        raise ExportError(f"{target}: another iram export has been writing it for {LOCK_TIMEOUT:.0f} s; "
                          f"wait for it to finish and try again") from err
    try:
        yield d
    finally:
        lock.release()


def keep_backups(d: Path, exists: bool, dump: Callable[[Path], None]) -> None:
    """Before a write: keep the original once, and rotate the last :data:`GENERATIONS` states.

    ``dump(dest)`` writes the current state to ``dest``; ``exists`` says whether there is one.
    """
    if not (d / "original").exists() and not (d / "original.absent").exists():
        if exists:
            with atomic_path(d / "original") as tmp:
                dump(tmp)
        else:
            (d / "original.absent").touch()
    if not exists:
        return
    for k in range(GENERATIONS, 1, -1):
        if (d / str(k - 1)).exists():
            os.replace(d / str(k - 1), d / str(k))
    with atomic_path(d / "1") as tmp:
        dump(tmp)


def copy_file(src: Path) -> Callable[[Path], None]:
    return lambda dest: shutil.copy2(src, dest)


# -- the ledger ---------------------------------------------------------------------------------

def load_ledger(d: Path, fmt: str) -> dict:
    """``{"format": fmt, "tracks": {track key: {...}}}``; a damaged ledger is reported, never guessed."""
    p = d / "ledger.json"
    if not p.exists():
        return {"format": fmt, "tracks": {}}
    try:
        ledger = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(ledger.get("tracks"), dict):
            raise ValueError("no tracks")
    except (OSError, ValueError) as err:
        raise ExportError(f"{p}: iram's ledger is damaged ({err}); without it iram cannot tell its cues from yours. "
                          f"Restore the library with iram export --restore, or delete the ledger (iram's earlier cues "
                          f"then count as yours)") from err
    if ledger.get("format") != fmt:
        raise ExportError(f"{p}: this target was last written as {ledger.get('format')}, not {fmt}; give the right --format")
    return ledger


def save_ledger(d: Path, ledger: dict) -> None:
    with atomic_path(d / "ledger.json") as tmp:
        tmp.write_text(json.dumps(ledger, indent=1, ensure_ascii=False), encoding="utf-8")


def widened(before: dict, ledger: dict) -> dict:
    """``ledger`` with the records of ``before`` kept beside the new ones (the lists of each track joined).

    Saved before the library is replaced, so whichever of the two states the library is left
    in (iram killed between the library and the ledger), the ledger still vouches for iram's cues.
    """
    tracks = {}
    for key in before["tracks"].keys() | ledger["tracks"].keys():
        old, new = before["tracks"].get(key, {}), ledger["tracks"].get(key, {})
        tracks[key] = {**old, **new, **{f: old.get(f, []) + new.get(f, []) for f in old.keys() | new.keys()
                                       if isinstance(old.get(f, []), list) and isinstance(new.get(f, []), list)}}
    return {**ledger, "tracks": tracks}


def ledger_format(target: Path) -> str:
    p = state_dir(target) / "ledger.json"
    if not p.exists():
        raise ExportError(f"{target}: iram has no backup of it (no {p}); nothing to restore")
    try:
        return json.loads(p.read_text(encoding="utf-8"))["format"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ExportError(f"{p}: iram's ledger is damaged ({err}); copy {state_dir(target) / 'original'} back by hand") from err


def restore_format(target: Path) -> str:
    """The format iram last wrote ``target`` as: the ledger's, or, when the ledger is damaged, read from the target."""
    try:
        return ledger_format(target)
    except ExportError:
        target = Path(target)
        if not (state_dir(target) / "ledger.json").exists() or not target.is_file():
            raise
        from .serato import ID3_TYPES

        if target.suffix.lower() in ID3_TYPES + (".flac",):  # the files Serato tags are written into
            return "serato"
        with open(target, "rb") as f:
            head = f.read(4096)
        if head.startswith(b"SQLite format 3\x00"):
            return "mixxx"
        for fmt, root in (("rekordbox", b"<DJ_PLAYLISTS"), ("traktor", b"<NML")):
            if root in head:
                return fmt
        raise


def owned(found: list, written: list) -> list[bool]:
    """Which of ``found`` (cue records read from the library) iram wrote.

    A record is iram's only if it equals, exactly, a record in the ledger's
    ``written`` list; each ledger record vouches for one cue at most.
    """
    left = Counter(json.dumps(w, sort_keys=True) for w in written)
    out = []
    for f in found:
        key = json.dumps(f, sort_keys=True)
        out.append(left[key] > 0)
        left[key] -= out[-1]
    return out


def restore_file(target: Path, fmt: str) -> str:
    """Copy the kept original of a library file back over it (the current state becomes generation 1)."""
    target = Path(target)
    check_writable(target)
    with locked(target) as d:
        if (d / "original.absent").exists():
            keep_backups(d, target.exists(), copy_file(target))
            target.unlink(missing_ok=True)
            what = f"removed (iram created it; the last state is in {d / '1'})"
        elif (d / "original").exists():
            keep_backups(d, target.exists(), copy_file(target))
            with atomic_path(target) as tmp:
                shutil.copy2(d / "original", tmp)
            what = "restored to the original iram kept"
        else:
            raise ExportError(f"{target}: iram kept no original in {d}; nothing to restore")
        save_ledger(d, {"format": fmt, "tracks": {}})  # a damaged ledger is replaced too: nothing is iram's now
    return f"{target}: {what}"
