"""Where a tracker module keeps its sample data, and a copy of the file with some of it silenced.

One job: byte surgery on MOD, XM, S3M and IT files so that a stem can be rendered
by playing the unchanged song with every *other* sample silent. Playback logic
(notes, effects, envelopes, loops, lengths) is untouched, so the stems add up to
the mix, where muting instruments in the player does not (see shared/REAL_MATERIAL.md).

Layouts follow the formats' own documents, checked against libopenmpt's loaders
(OpenMPT ``soundlib/Load_mod.cpp``, ``Load_xm.cpp``, ``Load_s3m.cpp``, ``Load_it.cpp``):

- MOD: ProTracker layout (``M.K.``): 20-byte title, 31 sample headers of 30 bytes
  (length in big-endian words at +22), song length, restart, 128 orders, 4-byte tag at
  1080, patterns of 64 rows x channels x 4 bytes from 1084, then the sample data in
  sample order. Signed 8-bit: zero bytes are silence.
- XM: "The XM module format description for XM files version $0104" (Mr.H of Triton,
  with MilkyTracker's corrections, ``xm-form.txt``): header size at 60, patterns then
  instruments; an instrument's sample headers (length in bytes at +0, type at +14,
  0xAD at +17 marks ModPlug ADPCM) follow its header, then the samples' data. Data are
  delta-coded, so zero bytes decode to a constant zero.
- S3M: FireLight's "Scream Tracker 3.01 file format" (``fs3mdoc.txt``): order count,
  instrument count at 0x20/0x22, sample format at 0x2A (1 signed, 2 unsigned), instrument
  parapointers after the orders; an instrument's data at its 24-bit ``MemSeg`` paragraph
  (0x0D-0x0F), length in samples at 0x10, flags at 0x1F (2 stereo, 4 16-bit). Unsigned
  silence is 0x80 (8-bit) or 0x8000 (16-bit).
- IT: Jeffrey Lim's ``ITTECH.TXT`` (Impulse Tracker 2.14): counts at 0x20-0x26, flags at
  0x2C (4: instruments), orders at 0xC0 then instrument, sample and pattern offsets.
  Sample header ``IMPS``: flags at 0x12 (2 16-bit, 4 stereo, 8 compressed), Cvt at 0x2E
  (1 signed), length in samples at 0x30, data offset at 0x48. A compressed sample is
  pointed at a zero block appended to the file, with its compression flag cleared.
  Instrument ``IMPI`` (format 0x200 on): random volume / pan swing at 0x1A / 0x1B, and the
  note -> (note, sample) keyboard table at 0x40 (240 bytes).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from .openmpt import ModuleError

FORMATS = ("mod", "xm", "s3m", "it")
MOD_CHANNELS = {b"M.K.": 4, b"M!K!": 4, b"FLT4": 4, b"4CHN": 4, b"6CHN": 6, b"8CHN": 8, b"FLT8": 8, b"CD81": 8, b"OKTA": 8}


@dataclass(frozen=True)
class Sample:
    """One sample's data in the file: bytes ``offset:offset+size``, silenced by ``fill`` repeated.

    ``header`` (IT only) is the offset of its ``IMPS`` header; ``compressed`` IT samples get
    ``plain_size`` bytes of silence appended instead.
    """

    number: int  # 1-based sample number in the file
    name: str
    offset: int
    size: int
    fill: bytes = b"\0"
    header: int = -1
    compressed: bool = False
    plain_size: int = 0


@dataclass(frozen=True)
class Stem:
    """What one stem plays: stem number ``n`` (instrument for XM and IT with instruments,
    else sample), its name, and the samples whose data it keeps."""

    n: int
    name: str
    samples: tuple[int, ...]
    instruments: tuple[int, ...] = ()


def _u16(b: bytes, o: int) -> int:
    return struct.unpack_from("<H", b, o)[0]


def _u32(b: bytes, o: int) -> int:
    return struct.unpack_from("<I", b, o)[0]


def _name(b: bytes) -> str:
    return b.split(b"\0")[0].decode("latin-1").strip()


def _mod(data: bytes) -> tuple[list[Sample], list[Stem]]:
    tag = data[1080:1084]
    if tag in MOD_CHANNELS:
        chans = MOD_CHANNELS[tag]
    elif tag[2:] in (b"CH", b"CN") and tag[:2].isdigit():
        chans = int(tag[:2])
    elif tag[1:] == b"CHN" and tag[:1].isdigit():
        chans = int(tag[:1])
    else:
        raise ModuleError("not a 31-sample MOD with a known channel tag; convert it to XM or IT")
    lengths = [struct.unpack_from(">H", data, 20 + 30 * i + 22)[0] * 2 for i in range(31)]
    names = [_name(data[20 + 30 * i:42 + 30 * i]) for i in range(31)]
    song_len, orders = data[950], data[952:1080]
    total = sum(lengths)
    # ProTracker counts patterns over all 128 orders; some files only over the song length.
    # Take the reading whose sample data end exactly at the end of the file.
    starts = [1084 + (max(o) + 1) * 64 * chans * 4 for o in (orders, orders[:max(song_len, 1)])]
    start = next((s for s in starts if s + total == len(data)), starts[0])
    out, off = [], start
    for i, n in enumerate(lengths):
        out.append(Sample(i + 1, names[i], off, max(0, min(n, len(data) - off))))
        off += n
    return out, [Stem(s.number, s.name, (s.number,)) for s in out]


def _xm(data: bytes) -> tuple[list[Sample], list[Stem]]:
    n_pat, n_ins = _u16(data, 70), _u16(data, 72)
    p = 60 + _u32(data, 60)
    for _ in range(n_pat):
        p += _u32(data, p) + _u16(data, p + 7)
    samples, stems = [], []
    for i in range(n_ins):
        size, n_smp = _u32(data, p), _u16(data, p + 27)
        name = _name(data[p + 4:p + 26])
        if n_smp == 0:
            p += size
            stems.append(Stem(i + 1, name, (), (i + 1,)))
            continue
        hsize = _u32(data, p + 29)
        q = p + size
        heads = []
        for _ in range(n_smp):
            length, kind, packing = _u32(data, q), data[q + 14], data[q + 17]
            adpcm = packing == 0xAD and not kind & 0x10
            heads.append((16 + (length + 1) // 2 if adpcm else length, _name(data[q + 18:q + 40])))
            q += hsize
        mine = []
        for nbytes, sname in heads:
            number = len(samples) + 1
            samples.append(Sample(number, sname, q, max(0, min(nbytes, len(data) - q))))
            mine.append(number)
            q += nbytes
        stems.append(Stem(i + 1, name, tuple(mine), (i + 1,)))
        p = q
    return samples, stems


def _s3m(data: bytes) -> tuple[list[Sample], list[Stem]]:
    n_ord, n_ins, ffi = _u16(data, 0x20), _u16(data, 0x22), _u16(data, 0x2A)
    out = []
    for i in range(n_ins):
        h = _u16(data, 0x60 + n_ord + 2 * i) * 16
        kind, flags = data[h], data[h + 0x1F]
        name = _name(data[h + 0x30:h + 0x4C])
        if kind != 1:  # empty slot (0) or AdLib (2+: no sample data to silence)
            if kind > 1:
                raise ModuleError("S3M AdLib (OPL) instruments have no sample data to silence; such files cannot be split into stems")
            out.append(Sample(i + 1, name, 0, 0))
            continue
        off = ((data[h + 0x0D] << 16) | _u16(data, h + 0x0E)) * 16
        width = (2 if flags & 4 else 1) * (2 if flags & 2 else 1)
        silence = b"\0" if ffi == 1 else (b"\0\x80" if flags & 4 else b"\x80")
        out.append(Sample(i + 1, name, off, max(0, min(_u32(data, h + 0x10) * width, len(data) - off)), silence))
    return out, [Stem(s.number, s.name, (s.number,)) for s in out]


def _it(data: bytes) -> tuple[list[Sample], list[Stem]]:
    n_ord, n_ins, n_smp, flags = _u16(data, 0x20), _u16(data, 0x22), _u16(data, 0x24), _u16(data, 0x2C)
    cmwt = _u16(data, 0x2A)
    ins_at = [_u32(data, 0xC0 + n_ord + 4 * i) for i in range(n_ins)]
    smp_at = [_u32(data, 0xC0 + n_ord + 4 * n_ins + 4 * i) for i in range(n_smp)]
    samples = []
    for i, h in enumerate(smp_at):
        f, cvt, length, ptr = data[h + 0x12], data[h + 0x2E], _u32(data, h + 0x30), _u32(data, h + 0x48)
        width = (2 if f & 2 else 1) * (2 if f & 4 else 1)
        fill = b"\0" if cvt & 1 else (b"\0\x80" if f & 2 else b"\x80")
        name = _name(data[h + 0x14:h + 0x2E])
        if not f & 1:
            samples.append(Sample(i + 1, name, 0, 0, header=h))
        elif f & 8:
            samples.append(Sample(i + 1, name, ptr, 0, header=h, compressed=True, plain_size=length * width))
        else:
            samples.append(Sample(i + 1, name, ptr, max(0, min(length * width, len(data) - ptr)), fill, header=h))
    if not flags & 4 or cmwt < 0x200:
        return samples, [Stem(s.number, s.name, (s.number,)) for s in samples]
    # instruments: a stem per instrument, from the samples its keyboard table plays; instruments
    # that share a sample cannot be told apart by their data and become one stem
    uses = {i + 1: sorted({data[h + 0x41 + 2 * k] for k in range(120)} - {0}) for i, h in enumerate(ins_at)}
    group = {i: i for i in uses}

    def root(i):
        while group[i] != i:
            i = group[i]
        return i

    owner: dict[int, int] = {}
    for i, used in uses.items():
        for s in used:
            if s in owner:
                group[root(i)] = root(owner[s])
            else:
                owner[s] = i
    members: dict[int, list[int]] = {}
    for i in uses:
        members.setdefault(root(i), []).append(i)
    stems = []
    for ins in sorted(members.values()):
        smp = sorted({s for i in ins for s in uses[i] if s <= len(samples)})
        stems.append(Stem(ins[0], _name(data[ins_at[ins[0] - 1] + 0x20:ins_at[ins[0] - 1] + 0x3A]), tuple(smp), tuple(ins)))
    return samples, sorted(stems, key=lambda s: s.n)


def layout(data: bytes, fmt: str) -> tuple[list[Sample], list[Stem]]:
    """The samples of a module file and how they group into stems.

    Parameters
    ----------
    data : the file's bytes
    fmt : ``mod``, ``xm``, ``s3m`` or ``it`` (libopenmpt's ``type`` metadata)
    """
    parse = {"mod": _mod, "xm": _xm, "s3m": _s3m, "it": _it}.get(fmt)
    if parse is None:
        raise ModuleError(f"format {fmt!r} not supported for stems; give {', '.join(FORMATS)}")
    try:
        return parse(data)
    except (struct.error, IndexError) as err:
        raise ModuleError(f"truncated or malformed {fmt.upper()} file ({err}); libopenmpt may play it but stems cannot be cut") from err


def deterministic(data: bytes, fmt: str) -> bytes:
    """A copy of ``data`` that renders the same every time: IT instruments' random volume and
    pan swing (bytes 0x1A, 0x1B of ``IMPI``, format 0x200 on) set to 0. Other formats unchanged."""
    if fmt != "it" or _u16(data, 0x2A) < 0x200:
        return bytes(data)
    out = bytearray(data)
    n_ord, n_ins = _u16(data, 0x20), _u16(data, 0x22)
    for i in range(n_ins):
        h = _u32(data, 0xC0 + n_ord + 4 * i)
        if out[h:h + 4] == b"IMPI":
            out[h + 0x1A] = out[h + 0x1B] = 0
    return bytes(out)


def keep_only(data: bytes, samples: list[Sample], keep: set[int]) -> bytes:
    """A copy of ``data`` with the data of every sample whose number is not in ``keep`` silenced."""
    out = bytearray(data)
    for s in samples:
        if s.number in keep:
            continue
        if s.compressed:
            at = len(out)
            out += bytes(s.plain_size)
            struct.pack_into("<I", out, s.header + 0x48, at)
            out[s.header + 0x12] &= ~8 & 0xFF
            out[s.header + 0x2E] = (out[s.header + 0x2E] | 1) & ~4 & 0xFF  # plain signed data
        elif s.size:
            out[s.offset:s.offset + s.size] = (s.fill * (s.size // len(s.fill) + 1))[:s.size]
    return bytes(out)
