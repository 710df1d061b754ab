"""Atomic file writing: outputs are complete or absent, never half-written."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import IramError


@contextmanager
def atomic_path(path: str | os.PathLike, *, backup: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    With ``backup=True`` an existing ``path`` is first copied to ``path.bak``.
    On any exception (or an interrupt) the temporary file is removed and ``path`` is
    untouched; an ``OSError`` (a full disk) becomes a one-line :class:`IramError`.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise IramError(f"{folder}: output folder does not exist; create it or choose another with -o")
    if not os.access(folder, os.W_OK):
        raise IramError(f"{folder}: output folder is not writable; choose another with -o")
    tmp_path = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=folder)
        tmp_path = Path(tmp)
        os.close(fd)
        yield tmp_path
        if backup and path.exists():
            shutil.copy2(path, path.with_name(path.name + ".bak"))
        # mkstemp makes 0600 files: keep the replaced file's mode, else the usual umask one
        os.chmod(tmp_path, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except OSError as err:  # a full disk, a quota, a folder gone: one line, and the old file kept
        raise IramError(f"{path}: cannot write it ({err.strerror or err}); free some space or write elsewhere") from err
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str, *, backup: bool = False) -> None:
    with atomic_path(path, backup=backup) as tmp:
        tmp.write_text(text, encoding="utf-8")


def output_dir(path: str | os.PathLike, *, option: str = "-o", error: type[IramError] = IramError) -> Path:
    """Create ``path`` if needed and check it can be written; one-line ``error`` if not."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise error(f"{path}: cannot create output folder ({err.strerror}); choose another with {option}") from err
    if not os.access(path, os.W_OK):
        raise error(f"{path}: output folder is not writable; choose another with {option}")
    return path


def shown_path(path: str | os.PathLike | None) -> str | None:
    """``path`` as a user would type it: under the home folder as ``~/...``, so shared reports carry no user name."""
    if path is None:
        return None
    p = Path(path).expanduser()
    try:
        return str(Path("~") / p.resolve().relative_to(Path.home().resolve()))
    except ValueError:
        return str(path)
