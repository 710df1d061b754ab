"""Serato cues: a ``Serato Markers2`` tag written with mutagen.

MP3, AIFF and WAV carry it as an ID3 GEOB frame; FLAC as the Vorbis comment
``SERATO_MARKERS_V2``. Serato has 8 hot cues and no memory cues. Foreign
Markers2 entries (loops, flips, colour, BPM lock) are kept; iram's earlier
cues are replaced. The audio data is hashed before and after: if it changed,
the file is restored from a backup and the export fails.
"""
from __future__ import annotations

import base64
import shutil
import struct
from pathlib import Path

from ..errors import ExportError
from . import cues_for, is_iram_cue, rgb

GEOB_DESC = "Serato Markers2"
ID3_TYPES = (".mp3", ".aif", ".aiff", ".wav")


def encode_markers(entries: list[tuple[bytes, bytes]]) -> bytes:
    """Markers2 body: 01 01, then base64 (lines of 72) of 01 01 + entries + 00, NUL-padded to 470 bytes."""
    raw = b"\x01\x01" + b"".join(t + b"\x00" + struct.pack(">I", len(d)) + d for t, d in entries) + b"\x00"
    b64 = base64.b64encode(raw).replace(b"=", b"")
    b64 = b"\n".join(b64[i:i + 72] for i in range(0, len(b64), 72))
    body = b"\x01\x01" + b64
    return body + b"\x00" * max(1, 470 - len(body))


def decode_markers(body: bytes) -> list[tuple[bytes, bytes]]:
    """Entries (type, data) of a Markers2 body."""
    if body[:2] != b"\x01\x01":
        raise ValueError("not a Serato Markers2 body")
    b64 = body[2:].split(b"\x00")[0].replace(b"\n", b"")
    if len(b64) % 4 == 1:
        b64 = b64[:-1]
    raw = base64.b64decode(b64 + b"=" * (-len(b64) % 4))
    if raw[:2] != b"\x01\x01":
        raise ValueError("bad Markers2 payload")
    out, i = [], 2
    while i < len(raw) and raw[i] != 0:
        j = raw.index(b"\x00", i)
        typ = raw[i:j]
        (n,) = struct.unpack(">I", raw[j + 1:j + 5])
        out.append((typ, raw[j + 5:j + 5 + n]))
        i = j + 5 + n
    return out


def cue_entry(index: int, ms: int, colour: str, name: str) -> tuple[bytes, bytes]:
    r, g, b = rgb(colour)
    return b"CUE", b"\x00" + bytes([index]) + struct.pack(">I", ms) + b"\x00" + bytes([r, g, b]) + b"\x00\x00" + name.encode() + b"\x00"


def parse_cue(data: bytes) -> dict:
    (ms,) = struct.unpack(">I", data[2:6])
    return {"index": data[1], "ms": ms, "colour": "#%02X%02X%02X" % tuple(data[7:10]), "name": data[12:].split(b"\x00")[0].decode()}


def audio_hash(path: Path) -> str:
    from ..audio import sample_hash
    from ..errors import AudioError

    try:
        return sample_hash(path)
    except AudioError as err:
        raise ExportError(f"{path}: cannot decode the audio to check it stays unchanged ({err})") from err


def _load(path: Path):
    import mutagen

    suffix = path.suffix.lower()
    if suffix not in ID3_TYPES + (".flac",):
        raise ExportError(f"{path}: {suffix or 'this'} files cannot carry Serato tags here; use MP3, AIFF, WAV or FLAC")
    try:
        f = mutagen.File(str(path))
    except Exception as err:
        raise ExportError(f"{path}: tags cannot be read ({err}); is the file damaged?") from err
    if f is None:
        raise ExportError(f"{path}: not an audio file mutagen knows; use MP3, AIFF, WAV or FLAC")
    return f


def read_body(path: Path) -> bytes | None:
    f = _load(Path(path))
    if path.suffix.lower() == ".flac":
        v = (f.tags or {}).get("SERATO_MARKERS_V2")
        if not v:
            return None
        data = base64.b64decode(v[0].replace("\n", "") + "=" * (-len(v[0].replace("\n", "")) % 4))
        return data.split(b"\x00", 3)[-1] if data.startswith(b"application/octet-stream\x00") else data
    if f.tags is None:
        return None
    frames = [fr for fr in f.tags.getall("GEOB") if fr.desc == GEOB_DESC]
    return frames[0].data if frames else None


def read_cues(path: Path) -> list[dict]:
    body = read_body(Path(path))
    return [parse_cue(d) for t, d in decode_markers(body) if t == b"CUE"] if body else []


def write(a) -> str:
    from mutagen.id3 import GEOB, ID3

    path = Path(a.path)
    if not path.exists():
        raise ExportError(f"{path}: audio file not found; Serato cues are written into the audio file itself")
    f = _load(path)
    body = read_body(path)
    kept = [(t, d) for t, d in decode_markers(body)] if body else [(b"COLOR", b"\x00\xff\xff\xff"), (b"BPMLOCK", b"\x00")]
    kept = [(t, d) for t, d in kept if not (t == b"CUE" and is_iram_cue(parse_cue(d)["name"]))]
    taken = {parse_cue(d)["index"] for t, d in kept if t == b"CUE"}
    hot = [c for c in cues_for(a) if c.hot is not None and c.hot not in taken]
    entries = kept + [cue_entry(c.hot, int(round(c.start * 1000)), c.colour, c.name) for c in hot]
    new_body = encode_markers(entries)
    before = audio_hash(path)
    backup = path.with_name(path.name + ".iram-backup")
    shutil.copy2(path, backup)
    try:
        if path.suffix.lower() == ".flac":
            payload = b"application/octet-stream\x00\x00Serato Markers2\x00" + new_body
            f.tags["SERATO_MARKERS_V2"] = base64.b64encode(payload).decode()
            f.save()
        else:
            if f.tags is None:
                f.add_tags()
            tags = f.tags if isinstance(f.tags, ID3) else f.tags
            tags.delall("GEOB:" + GEOB_DESC)
            tags.add(GEOB(encoding=0, mime="application/octet-stream", desc=GEOB_DESC, data=new_body))
            f.save()
        if audio_hash(path) != before:
            raise ExportError(f"{path}: writing tags changed the audio data; the original was restored")
    except BaseException:
        shutil.copy2(backup, path)
        raise
    finally:
        backup.unlink(missing_ok=True)
    return f"{path}: {len(hot)} Serato hot cues"
