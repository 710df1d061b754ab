"""Role tags inside audio files' own metadata, written and read with mutagen.

Two fields: ``IRAM_ROLES`` (the roles that are on, e.g. ``"bass; chord"``, for
sample browsers and tag editors) and ``IRAM_TAGS`` (the whole
:class:`~iram.looptags.LoopTags` as compact JSON, for ``iram tag --read``). They go
where each format keeps free-form text:

- MP3, WAV, AIFF: ID3v2.4 ``TXXX`` frames (in WAV and AIFF, the ``id3`` chunk); WAV
  also gets RIFF INFO keywords ``IKEY`` = ``"iram: bass; chord"``, unless it has
  keywords of its own (those are kept);
- FLAC, Ogg Vorbis, Opus: Vorbis comments;
- MP4 / M4A: freeform atoms ``----:com.github.iram:IRAM_ROLES`` and ``...:IRAM_TAGS``.

Other tags are kept. The file is edited as a copy beside it, whose decoded samples
must equal the original's (:func:`iram.audio.sample_hash`) before the copy replaces
it: the audio is never changed, and an interrupted write leaves the file as it was.
"""
from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

from .errors import ExportError, IramError
from .looptags import LoopTags

ROLES_KEY, TAGS_KEY = "IRAM_ROLES", "IRAM_TAGS"
INFO_KEY, INFO_PREFIX = "IKEY", "iram: "
MP4_MEAN = "com.github.iram"
ID3_SUFFIXES = (".mp3", ".wav", ".aif", ".aiff")
VORBIS_SUFFIXES = (".flac", ".ogg", ".oga", ".opus")
MP4_SUFFIXES = (".m4a", ".mp4")
TAGGABLE = ID3_SUFFIXES + VORBIS_SUFFIXES + MP4_SUFFIXES


def _kind(path: Path) -> str:
    s = path.suffix.lower()
    if s in ID3_SUFFIXES:
        return "id3"
    if s in VORBIS_SUFFIXES:
        return "vorbis"
    if s in MP4_SUFFIXES:
        return "mp4"
    raise ExportError(f"{path}: cannot carry role tags ({s or 'no extension'}); tags are written into "
                      f"{', '.join(TAGGABLE)} files; keep the -o table for the others")


def _open(path: Path):
    import mutagen

    try:
        f = mutagen.File(str(path))
    except Exception as err:  # mutagen raises many types for damaged files
        raise ExportError(f"{path}: tags cannot be read ({type(err).__name__}: {err}); is the file damaged?") from err
    if f is None:
        raise ExportError(f"{path}: not an audio file mutagen knows; is the extension right?")
    return f


def _payload(t: LoopTags) -> tuple[str, str]:
    d = t.to_json()
    d.pop("path")
    return "; ".join(t.roles) if t.roles else "none", json.dumps(d, separators=(",", ":"))


def _set(f, kind: str, fields: dict[str, str]) -> None:
    if f.tags is None:
        f.add_tags()
    if kind == "id3":
        from mutagen.id3 import TXXX

        for k, v in fields.items():
            f.tags.delall(f"TXXX:{k}")
            f.tags.add(TXXX(encoding=3, desc=k, text=[v]))
    elif kind == "vorbis":
        for k, v in fields.items():
            f.tags[k] = [v]
    else:
        from mutagen.mp4 import AtomDataType, MP4FreeForm

        for k, v in fields.items():
            f.tags[f"----:{MP4_MEAN}:{k}"] = [MP4FreeForm(v.encode("utf-8"), dataformat=AtomDataType.UTF8)]


def _get(f, kind: str, key: str) -> str | None:
    tags = f.tags
    if tags is None:
        return None
    if kind == "id3":
        frames = tags.getall(f"TXXX:{key}")
        return str(frames[0].text[0]) if frames and frames[0].text else None
    if kind == "vorbis":
        v = tags.get(key) or tags.get(key.lower())
        return v[0] if v else None
    v = tags.get(f"----:{MP4_MEAN}:{key}")
    return bytes(v[0]).decode("utf-8") if v else None


def _info_chunks(riff) -> list:
    return [c for c in riff.root.subchunks() if c.id == "LIST" and getattr(c, "name", None) == "INFO"]


def riff_info(path: str | Path) -> dict[str, str]:
    """The RIFF INFO entries of a WAV file ({"IKEY": "...", ...}; empty if none)."""
    from mutagen._riff import RiffFile  # mutagen has no public RIFF INFO API

    with open(path, "rb") as fobj:
        return {sub.id: sub.read().rstrip(b"\0").decode("latin-1") for c in _info_chunks(RiffFile(fobj)) for sub in c.subchunks()}


def _set_riff_keywords(path: Path, roles: str) -> None:
    """Put ``roles`` into the WAV's RIFF INFO keywords (``IKEY``), rewriting the INFO list
    with its other entries kept, unless the file has keywords iram did not write."""
    from mutagen._riff import RiffFile

    with open(path, "r+b") as fobj:
        riff = RiffFile(fobj)
        lists = _info_chunks(riff)
        entries = [(sub.id, sub.read()) for c in lists for sub in c.subchunks()]
        if any(i == INFO_KEY and not d.decode("latin-1").startswith(INFO_PREFIX) for i, d in entries):
            return
        entries = [(i, d) for i, d in entries if i != INFO_KEY] + [(INFO_KEY, (INFO_PREFIX + roles).encode("latin-1") + b"\0")]
        for c in lists:
            c.delete()
        riff.root.insert_chunk("LIST", b"INFO" + b"".join(i.encode("ascii") + struct.pack("<I", len(d)) + d + b"\0" * (len(d) % 2)
                                                         for i, d in entries))


def write_tags(path: str | Path, tags: LoopTags) -> Path:
    """Write ``tags`` into ``path``'s metadata; the decoded samples stay identical (checked).

    Raises :class:`~iram.errors.ExportError` for a format that cannot carry them, a
    damaged or read-only file, or (never expected) a write that would change the audio.
    """
    from .audio import sample_hash
    from .io import atomic_path

    path = Path(path)
    kind = _kind(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such file; tags are written into the audio file itself")
    before = sample_hash(path)
    roles, blob = _payload(tags)
    try:
        with atomic_path(path) as tmp:
            shutil.copy2(path, tmp)
            f = _open(tmp)
            _set(f, kind, {ROLES_KEY: roles, TAGS_KEY: blob})
            f.save()
            if path.suffix.lower() == ".wav":
                _set_riff_keywords(tmp, roles)
            if sample_hash(tmp) != before:
                raise ExportError(f"{path}: writing tags would change the audio samples; the file was left as it was")
    except IramError:
        raise
    except OSError as err:
        raise ExportError(f"{path}: cannot write tags ({err.strerror}); is the file or folder read-only?") from err
    except Exception as err:  # mutagen's many error types for files it cannot rewrite
        raise ExportError(f"{path}: cannot write tags ({type(err).__name__}: {err}); the file was left as it was") from err
    return path


def read_tags(path: str | Path) -> LoopTags | None:
    """The :class:`LoopTags` that :func:`write_tags` stored in ``path``, or None if it has none."""
    path = Path(path)
    kind = _kind(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such file; check the path")
    blob = _get(_open(path), kind, TAGS_KEY)
    if blob is None:
        return None
    try:
        d = json.loads(blob)
    except json.JSONDecodeError as err:
        raise ExportError(f"{path}: its {TAGS_KEY} tag is not iram's JSON; re-tag it with 'iram tag --write-tags'") from err
    return LoopTags.from_json({**d, "path": str(path.resolve())})
