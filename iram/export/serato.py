"""Serato cues: the ``Serato Markers2`` tag (and ``Serato Markers_`` kept consistent with it).

Formats as documented by Holzhaus/serato-tags (``docs/serato_markers2.md``,
``docs/serato_markers_.md``, ``docs/fileformats.md``) and as Mixxx reads and writes
them (``src/track/serato/markers2.cpp``, ``markers.cpp``, ``tags.cpp``):

- MP3, AIFF (and WAV) carry ID3 ``GEOB`` frames. ``Serato Markers2``: ``01 01``, then
  base64 (no padding, a line feed every 72 characters) of ``01 01`` + entries + ``00``,
  NUL-padded to at least 470 bytes. ``Serato Markers_``: ``02 05``, 14 entries of 22
  bytes (5 cues, then 9 loops; positions and colours in the 7-bit "serato32" form),
  then the track colour. Serato prefers ``Markers_`` for the first 5 cues when it is
  present, and drops a ``Markers2`` cue whose ``Markers_`` entry is unset (Mixxx's
  ``SeratoTags::importCueInfos`` mirrors this), so when a file has ``Markers_`` its
  cue entries 0-4 are rewritten to agree with ``Markers2``; a file without it keeps
  none. The tag's ID3 version is kept (v2.3 stays v2.3).
- FLAC carries the Vorbis comment ``SERATO_MARKERS_V2``: base64 without padding, in
  lines of 72 characters, of ``application/octet-stream\\0\\0Serato Markers2\\0`` +
  the ID3 body, the whole NUL-padded to at least 470 bytes.

Serato has 8 hot cues and no memory cues: sections without a free slot are named
in the report. Only CUE entries that match iram's ledger exactly are replaced;
loops, flips, colour, BPM lock and the DJ's cues are kept byte for byte.

The file is never edited in place: the tags are written into a copy beside it,
whose decoded audio is compared (block by block, constant memory) with the
original's before the copy replaces it. The backups are of the Serato tags only
(JSON in ``.iram/NAME/``), enough to put them back exactly.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import struct
import tempfile
from pathlib import Path

from ..errors import ExportError
from . import cues_for, place, rgb, summary
from .library import check_writable, keep_backups, load_ledger, locked, owned, save_ledger, widened

GEOB_DESC = "Serato Markers2"
MARKERS_DESC = "Serato Markers_"
FLAC_FIELD = "SERATO_MARKERS_V2"
FLAC_PREFIX = b"application/octet-stream\x00\x00Serato Markers2\x00"
ID3_TYPES = (".mp3", ".aif", ".aiff", ".wav")
MIN_SIZE = 470
UNSET_CUE = b"\x7f" * 5 + b"\x7f" * 5 + b"\x00" + b"\x7f" * 5 + b"\x00" * 4 + b"\x00\x00"  # as Serato writes an empty cue slot


def b64(data: bytes) -> bytes:
    """Base64 without padding, a line feed after every 72 characters (Serato's layout)."""
    s = base64.b64encode(data).rstrip(b"=")
    return b"\n".join(s[i:i + 72] for i in range(0, len(s), 72))


def unb64(s: bytes) -> bytes:
    s = s.replace(b"\n", b"").strip()
    if len(s) % 4 == 1:  # Serato sometimes writes one character too many (serato_markers2.md)
        s += b"A"
    return base64.b64decode(s + b"=" * (-len(s) % 4))


def encode_markers(entries: list[tuple[bytes, bytes]]) -> bytes:
    """Markers2 ID3 body: ``01 01`` + base64 of (``01 01`` + entries + ``00``), NUL-padded to 470 bytes."""
    raw = b"\x01\x01" + b"".join(t + b"\x00" + struct.pack(">I", len(d)) + d for t, d in entries) + b"\x00"
    body = b"\x01\x01" + b64(raw)
    return body + b"\x00" * max(1, MIN_SIZE - len(body))


def decode_markers(body: bytes) -> list[tuple[bytes, bytes]]:
    """Entries (type, data) of a Markers2 ID3 body."""
    if body[:2] != b"\x01\x01":
        raise ValueError("not a Serato Markers2 body")
    raw = unb64(body[2:].split(b"\x00")[0])
    if raw[:2] != b"\x01\x01":
        raise ValueError("bad Markers2 payload")
    out, i = [], 2
    while i < len(raw) and raw[i] != 0:
        j = raw.index(b"\x00", i)
        (n,) = struct.unpack(">I", raw[j + 1:j + 5])
        out.append((raw[i:j], raw[j + 5:j + 5 + n]))
        i = j + 5 + n
    return out


def flac_value(body: bytes) -> str:
    """The ``SERATO_MARKERS_V2`` comment for a Markers2 ID3 body."""
    outer = FLAC_PREFIX + body.rstrip(b"\x00")
    return b64(outer + b"\x00" * max(1, MIN_SIZE - len(outer))).decode()


def flac_body(value: str) -> bytes:
    data = unb64(value.encode())
    return data[len(FLAC_PREFIX):] if data.startswith(FLAC_PREFIX) else data


def cue_entry(index: int, ms: int, colour: str, name: str) -> tuple[bytes, bytes]:
    r, g, b = rgb(colour)
    return b"CUE", b"\x00" + bytes([index]) + struct.pack(">I", ms) + b"\x00" + bytes([r, g, b]) + b"\x00\x00" + name.encode() + b"\x00"


def parse_cue(data: bytes) -> dict:
    (ms,) = struct.unpack(">I", data[2:6])
    return {"index": data[1], "ms": ms, "colour": "#%02X%02X%02X" % tuple(data[7:10]), "name": data[12:].split(b"\x00")[0].decode(errors="replace")}


def serato32(value: int) -> bytes:
    """A 3-byte value in Markers_' 4-byte form: 7 payload bits per byte (serato_markers_.md)."""
    return bytes([(value >> 21) & 0x7F, (value >> 14) & 0x7F, (value >> 7) & 0x7F, value & 0x7F])


def unserato32(b: bytes) -> int:
    return (b[0] & 0x7F) << 21 | (b[1] & 0x7F) << 14 | (b[2] & 0x7F) << 7 | (b[3] & 0x7F)


def markers_cue(ms: int, colour: str) -> bytes:
    """A set cue entry of ``Serato Markers_`` (22 bytes)."""
    r, g, b = rgb(colour)
    return b"\x00" + serato32(ms) + b"\x7f" + b"\x7f" * 4 + b"\x00" + b"\x7f" * 5 + serato32((r << 16) | (g << 8) | b) + b"\x01\x00"


def split_markers_(data: bytes) -> tuple[list[bytes], bytes]:
    """Entries and footer (track colour) of a ``Serato Markers_`` body."""
    if data[:2] != b"\x02\x05" or len(data) < 6:
        raise ValueError("not a Serato Markers_ body")
    (n,) = struct.unpack(">I", data[2:6])
    if len(data) != 6 + 22 * n + 4:
        raise ValueError(f"Serato Markers_ body of {len(data)} bytes for {n} entries")
    return [data[6 + 22 * k:6 + 22 * (k + 1)] for k in range(n)], data[6 + 22 * n:]


def join_markers_(entries: list[bytes], footer: bytes) -> bytes:
    return b"\x02\x05" + struct.pack(">I", len(entries)) + b"".join(entries) + footer


def audio_hash(path: Path) -> str:
    """SHA-256 of the decoded samples, read in blocks (constant memory for any length)."""
    import soundfile as sf

    h = hashlib.sha256()
    try:
        with sf.SoundFile(str(path)) as f:
            h.update(f"{f.samplerate} {f.channels}".encode())
            for block in f.blocks(blocksize=1 << 16, dtype="int32"):
                h.update(block.tobytes())
    except Exception as err:
        raise ExportError(f"{path}: cannot decode the audio to check it stays unchanged ({err}); is the file damaged?") from err
    return h.hexdigest()


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
    if getattr(f.tags, "version", None) == (2, 3, 0):
        # mutagen turns a v2.3 tag into v2.4 frames as it loads (TYER+TDAT -> TDRC, RVAD dropped), which a
        # v2.3 tag saved back would carry wrongly or lose: keep the frames as the file has them
        try:
            f = type(f)(str(path), translate=False)
        except Exception as err:
            raise ExportError(f"{path}: tags cannot be read ({err}); is the file damaged?") from err
    return f


def _geob(f, desc: str):
    frames = [fr for fr in f.tags.getall("GEOB") if fr.desc == desc] if f.tags is not None else []
    return frames[0] if frames else None


def _body(f, flac: bool) -> bytes | None:
    """The Markers2 ID3 body of a loaded file, or None when it has none."""
    if flac:
        v = (f.tags or {}).get(FLAC_FIELD)
        return flac_body(v[0]) if v else None
    fr = _geob(f, GEOB_DESC)
    return fr.data if fr else None


def read_body(path: Path) -> bytes | None:
    path = Path(path)
    return _body(_load(path), path.suffix.lower() == ".flac")


def read_cues(path: Path) -> list[dict]:
    body = read_body(Path(path))
    return [parse_cue(d) for t, d in decode_markers(body) if t == b"CUE"] if body else []


def tag_state(f, flac: bool) -> dict:
    """What iram may change, exactly as it is now (JSON-ready): the backup of one file."""
    if flac:
        v = (f.tags or {}).get(FLAC_FIELD)
        return {"kind": "flac", "had_tags": f.tags is not None, "fields": {FLAC_FIELD: list(v) if v else None}}
    frames = {}
    for desc in (GEOB_DESC, MARKERS_DESC):
        fr = _geob(f, desc)
        frames[desc] = None if fr is None else {"encoding": int(fr.encoding), "mime": fr.mime, "filename": fr.filename,
                                                "data": base64.b64encode(fr.data).decode()}
    return {"kind": "id3", "version": list(f.tags.version) if f.tags is not None else None, "frames": frames}


def _set_geob(f, desc: str, data: bytes) -> None:
    from mutagen.id3 import GEOB

    old = _geob(f, desc)
    f.tags.delall("GEOB:" + desc)
    if old is None:
        f.tags.add(GEOB(encoding=0, mime="application/octet-stream", desc=desc, data=data))
    else:
        f.tags.add(GEOB(encoding=old.encoding, mime=old.mime, filename=old.filename, desc=desc, data=data))


def _save(f, version) -> None:
    if hasattr(f.tags, "version"):  # ID3: keep the version the file had (v2.3 stays v2.3)
        f.save(v2_version=3 if version and version[1] == 3 else 4)
    else:
        f.save()


def _rewrite(path: Path, edit) -> None:
    """Apply ``edit(mutagen file)`` to a copy of ``path``, check the audio, then swap the copy in."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        shutil.copy2(path, tmp)
        before = audio_hash(path)
        edit(_load(tmp))
        if audio_hash(tmp) != before:
            raise ExportError(f"{path}: writing the tags would change the audio data; the file was left as it was")
        os.replace(tmp, path)
    except OSError as err:
        raise ExportError(f"{path}: cannot write the tags ({err.strerror or err}); the file was left as it was") from err
    finally:
        tmp.unlink(missing_ok=True)


def _dump_state(state: dict):
    return lambda dest: dest.write_text(json.dumps(state, indent=1), encoding="utf-8")


def write(a) -> str:
    path = Path(a.path)
    if not path.exists():
        raise ExportError(f"{path}: audio file not found; Serato cues are written into the audio file itself")
    _load(path)
    check_writable(path)
    flac = path.suffix.lower() == ".flac"
    with locked(path) as d:
        ledger = load_ledger(d, "serato")
        mine = ledger["tracks"].get(path.name, {})
        f = _load(path)
        state = tag_state(f, flac)
        body = _body(f, flac)
        try:
            entries = decode_markers(body) if body else [(b"COLOR", b"\x00\xff\xff\xff"), (b"BPMLOCK", b"\x00")]
            old_m = None if flac or _geob(f, MARKERS_DESC) is None else split_markers_(_geob(f, MARKERS_DESC).data)
            short = [len(data) for kind, data in entries if kind == b"CUE" and len(data) < 13]
            if short:  # a cue takes 13 bytes at least (Mixxx's SeratoMarkers2CueEntry::parse)
                raise ValueError(f"a CUE entry of {short[0]} bytes")
        except (ValueError, struct.error) as err:
            raise ExportError(f"{path}: its Serato tags are damaged ({err}); let Serato re-analyse the file, then export again") from err
        cue_rows = [k for k, (t, _) in enumerate(entries) if t == b"CUE"]
        ours = dict(zip(cue_rows, owned([entries[k][1].hex() for k in cue_rows], mine.get("cues", []))))
        kept = [e for k, e in enumerate(entries) if not ours.get(k)]
        taken = {parse_cue(d)["index"] for t, d in kept if t == b"CUE"}
        m_ours = owned([e.hex() for e in old_m[0][:5]], mine.get("markers_", [])) if old_m else []
        if old_m:  # a cue Serato shows from Markers_ alone holds its slot too
            taken |= {k for k, e in enumerate(old_m[0][:5]) if e[0] == 0 and not m_ours[k]}
        cues, unplaced = place(cues_for(a), taken)
        hot = [c for c in cues if c.hot is not None]
        new = [cue_entry(c.hot, int(round(c.start * 1000)), c.colour, c.name) for c in hot]
        at = max([k + 1 for k, (t, _) in enumerate(kept) if t in (b"CUE", b"COLOR")], default=0)
        entries = kept[:at] + new + kept[at:]
        written = {"cues": [d.hex() for _, d in new], "markers_": []}
        new_m = None
        if old_m:
            rows = list(old_m[0])
            yours = {c["index"]: c for c in (parse_cue(d) for t, d in kept if t == b"CUE")}
            for k in range(min(5, len(rows))):
                if m_ours[k]:  # iram's entry goes; a cue of yours in that slot (Markers2) is mirrored instead
                    rows[k] = markers_cue(yours[k]["ms"], yours[k]["colour"]) if k in yours else UNSET_CUE
            for c in hot:
                if c.hot < min(5, len(rows)):
                    rows[c.hot] = markers_cue(int(round(c.start * 1000)), c.colour)
                    written["markers_"].append(rows[c.hot].hex())
            new_m = join_markers_(rows, old_m[1])

        def edit(g) -> None:
            if g.tags is None:
                g.add_tags()
            if flac:
                g.tags[FLAC_FIELD] = flac_value(encode_markers(entries))
            else:
                _set_geob(g, GEOB_DESC, encode_markers(entries))
                if new_m is not None:
                    _set_geob(g, MARKERS_DESC, new_m)
            _save(g, state.get("version"))

        keep_backups(d, True, _dump_state(state))  # first: a tag change is never made without its backup
        new_ledger = {**ledger, "tracks": {**ledger["tracks"], path.name: written}}
        save_ledger(d, widened(ledger, new_ledger))  # old and new records both vouch while the file changes
        _rewrite(path, edit)
        ledger = new_ledger
        save_ledger(d, ledger)
    return f"{path}: Serato: {summary(cues, unplaced, taken, memory=False)}"


def restore(path: Path) -> str:
    """Put the Serato tags iram changed back exactly as they were before its first export."""
    path = Path(path)
    check_writable(path)
    with locked(path) as d:
        try:
            original = json.loads((d / "original").read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ExportError(f"{path}: iram's tag backup {d / 'original'} is missing or damaged ({err}); nothing restored") from err
        flac = original["kind"] == "flac"
        current = tag_state(_load(path), flac)

        def edit(g) -> None:
            if g.tags is None:
                g.add_tags()
            if flac:
                v = original["fields"][FLAC_FIELD]
                if v is None:
                    if FLAC_FIELD in g.tags:
                        del g.tags[FLAC_FIELD]
                else:
                    g.tags[FLAC_FIELD] = v
                g.save()
                return
            from mutagen.id3 import GEOB

            for desc, fr in original["frames"].items():
                g.tags.delall("GEOB:" + desc)
                if fr is not None:
                    g.tags.add(GEOB(encoding=fr["encoding"], mime=fr["mime"], filename=fr["filename"], desc=desc,
                                    data=base64.b64decode(fr["data"])))
            if original["version"] is None and not g.tags.keys():
                g.delete()  # iram added the whole tag: take it away again
            else:
                _save(g, original["version"])

        keep_backups(d, True, _dump_state(current))
        _rewrite(path, edit)
        save_ledger(d, {"format": "serato", "tracks": {}})  # a damaged ledger is replaced too
    return f"{path}: Serato tags restored to the original iram kept"
