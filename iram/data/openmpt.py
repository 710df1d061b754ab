"""Tracker modules through Debian's ``libopenmpt0`` (its C API, via ctypes).

One job: load a module (MOD, XM, S3M, IT) from bytes, read its names and pattern
cells, and render it to stereo float audio, optionally with the playback position
(order, pattern, row) read back while rendering, from which row start times are
exact to ``POSITION_BLOCK`` frames.

libopenmpt rounds every tick to whole frames, so row times must be read back from
playback, not computed from tempo and speed (see shared/REAL_MATERIAL.md).
"""
from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import IramError

SR = 44100
POSITION_BLOCK = 16  # frames per read while positions are tracked: row starts within 0.18 ms at 44.1 kHz
RENDER_BLOCK = 8192
CHUNK = 1 << 18  # frames collected before a copy
# pattern cell fields (libopenmpt.h: OPENMPT_MODULE_COMMAND_*)
NOTE, INSTRUMENT, VOLUMEEFFECT, EFFECT, VOLUME, PARAMETER = range(6)


class ModuleError(IramError):
    """A tracker module that libopenmpt cannot load, or libopenmpt missing."""


@lru_cache(maxsize=1)
def lib() -> ctypes.CDLL:
    """The libopenmpt shared library with the argument types of the calls used here."""
    name = ctypes.util.find_library("openmpt") or "libopenmpt.so.0"
    try:
        so = ctypes.CDLL(name)
    except OSError as err:
        raise ModuleError("libopenmpt not found; install it: apt-get install libopenmpt0 (or run .ci/setup-system.sh)") from err
    vp, i32, c = ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p
    sig = {
        "openmpt_module_create_from_memory2": (vp, [c, ctypes.c_size_t, vp, vp, vp, vp, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(vp), vp]),
        "openmpt_module_destroy": (None, [vp]),
        "openmpt_module_set_repeat_count": (ctypes.c_int, [vp, i32]),
        "openmpt_module_ctl_set_text": (ctypes.c_int, [vp, c, c]),
        "openmpt_module_read_float_stereo": (ctypes.c_size_t, [vp, i32, ctypes.c_size_t, vp, vp]),
        "openmpt_module_get_duration_seconds": (ctypes.c_double, [vp]),
        "openmpt_module_get_current_order": (i32, [vp]),
        "openmpt_module_get_current_pattern": (i32, [vp]),
        "openmpt_module_get_current_row": (i32, [vp]),
        "openmpt_module_get_current_speed": (i32, [vp]),
        "openmpt_module_get_current_tempo": (i32, [vp]),
        "openmpt_module_get_num_channels": (i32, [vp]),
        "openmpt_module_get_num_orders": (i32, [vp]),
        "openmpt_module_get_num_patterns": (i32, [vp]),
        "openmpt_module_get_num_instruments": (i32, [vp]),
        "openmpt_module_get_num_samples": (i32, [vp]),
        "openmpt_module_get_order_pattern": (i32, [vp, i32]),
        "openmpt_module_get_pattern_num_rows": (i32, [vp, i32]),
        "openmpt_module_get_pattern_row_channel_command": (ctypes.c_uint8, [vp, i32, i32, i32, ctypes.c_int]),
        "openmpt_module_get_instrument_name": (vp, [vp, i32]),
        "openmpt_module_get_sample_name": (vp, [vp, i32]),
        "openmpt_module_get_metadata": (vp, [vp, c]),
        "openmpt_error_string": (vp, [ctypes.c_int]),
        "openmpt_free_string": (None, [vp]),
    }
    for fn, (res, args) in sig.items():
        f = getattr(so, fn)
        f.restype, f.argtypes = res, args
    return so


def _text(ptr: int | None) -> str:
    """Copy and free a string libopenmpt allocated."""
    if not ptr:
        return ""
    try:
        return ctypes.string_at(ptr).decode("latin-1")
    finally:
        lib().openmpt_free_string(ptr)


@dataclass(frozen=True)
class Positions:
    """Playback positions read back while rendering: row ``k`` starts at frame ``frame[k]``.

    Arrays of shape (n_rows_played,): ``frame`` (int, at :data:`SR`), ``order``,
    ``pattern``, ``row`` (pattern row), ``speed`` (ticks per row), ``tempo``.
    A row played twice (a pattern loop) appears twice.
    """

    frame: np.ndarray
    order: np.ndarray
    pattern: np.ndarray
    row: np.ndarray
    speed: np.ndarray
    tempo: np.ndarray

    @property
    def seconds(self) -> np.ndarray:
        return self.frame / SR


class Module:
    """A loaded module; use as a context manager (``with Module(data, name) as m:``).

    ``data`` is the file's bytes; ``name`` is only for error messages.
    """

    def __init__(self, data: bytes, name: str = "module"):
        so = lib()
        self.name = name
        self._data = bytes(data)
        err, msg = ctypes.c_int(0), ctypes.c_void_p()
        self._mod = so.openmpt_module_create_from_memory2(self._data, len(self._data), None, None, None, None,
                                                          ctypes.byref(err), ctypes.byref(msg), None)
        if not self._mod:
            why = _text(msg.value) or "unknown format"
            raise ModuleError(f"{name}: libopenmpt cannot load it ({why}); give a MOD, XM, S3M or IT module")
        so.openmpt_module_set_repeat_count(self._mod, 0)
        so.openmpt_module_ctl_set_text(self._mod, b"play.at_end", b"stop")  # exact end, no fade

    @classmethod
    def open(cls, path: str | Path) -> "Module":
        path = Path(path)
        try:
            return cls(path.read_bytes(), str(path))
        except OSError as err:
            raise ModuleError(f"{path}: cannot read ({err.strerror}); check the path") from err

    def __enter__(self) -> "Module":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._mod:
            lib().openmpt_module_destroy(self._mod)
            self._mod = None

    def __del__(self):
        self.close()

    # -- what the module holds -------------------------------------------------------
    def metadata(self, key: str) -> str:
        """``type``, ``type_long``, ``title``, ``artist``, ``message``, ``tracker``, ``date``..."""
        return _text(lib().openmpt_module_get_metadata(self._mod, key.encode()))

    @property
    def n_channels(self) -> int:
        return lib().openmpt_module_get_num_channels(self._mod)

    @property
    def n_orders(self) -> int:
        return lib().openmpt_module_get_num_orders(self._mod)

    @property
    def n_patterns(self) -> int:
        return lib().openmpt_module_get_num_patterns(self._mod)

    @property
    def duration(self) -> float:
        """Seconds, as libopenmpt estimates it (one pass, no repeats)."""
        return lib().openmpt_module_get_duration_seconds(self._mod)

    def instrument_names(self) -> list[str]:
        so = lib()
        return [_text(so.openmpt_module_get_instrument_name(self._mod, i)) for i in range(so.openmpt_module_get_num_instruments(self._mod))]

    def sample_names(self) -> list[str]:
        so = lib()
        return [_text(so.openmpt_module_get_sample_name(self._mod, i)) for i in range(so.openmpt_module_get_num_samples(self._mod))]

    def order_pattern(self, order: int) -> int:
        return lib().openmpt_module_get_order_pattern(self._mod, order)

    def pattern_rows(self, pattern: int) -> int:
        return lib().openmpt_module_get_pattern_num_rows(self._mod, pattern)

    def cells(self, pattern: int) -> np.ndarray:
        """(rows, channels, 6) uint8: NOTE, INSTRUMENT, VOLUMEEFFECT, EFFECT, VOLUME, PARAMETER per cell.

        NOTE 1..120 is a note (61 = C-5 in libopenmpt's numbering), 0 none, >120 note-off/cut/fade;
        INSTRUMENT is 1-based (instrument in XM/IT-with-instruments, sample otherwise), 0 none.
        """
        f = lib().openmpt_module_get_pattern_row_channel_command
        rows, chans = self.pattern_rows(pattern), self.n_channels
        out = np.zeros((rows, chans, 6), np.uint8)
        for r in range(rows):
            for ch in range(chans):
                for k in range(6):
                    out[r, ch, k] = f(self._mod, pattern, r, ch, k)
        return out

    def instruments_used(self) -> set[int]:
        """The INSTRUMENT numbers (1-based; samples where the module has no instruments) that
        appear in the patterns of the order list: nothing else can sound."""
        f = lib().openmpt_module_get_pattern_row_channel_command
        chans, out = self.n_channels, set()
        for p in {self.order_pattern(o) for o in range(self.n_orders)}:
            if not 0 <= p < self.n_patterns:
                continue  # "+++" / "---" order markers
            for r in range(self.pattern_rows(p)):
                out.update(f(self._mod, p, r, ch, INSTRUMENT) for ch in range(chans))
        return out - {0}

    # -- rendering ---------------------------------------------------------------------
    def render(self, *, positions: bool = False, seconds: float | None = None,
               block: int = POSITION_BLOCK) -> tuple[np.ndarray, Positions | None]:
        """Render one pass from the start: ((n, 2) float32 stereo at :data:`SR`, row positions or None).

        With ``positions`` the module is read ``block`` frames at a time (default
        :data:`POSITION_BLOCK`; 1 gives sample-exact row starts, ~10x slower) and a row's
        start is dated to the middle of the read in which it became current, so row starts
        are off by at most ``block // 2`` frames (0.18 ms at 16). ``seconds`` stops the
        render after exactly that many frames (an excerpt).
        """
        so = lib()
        block = block if positions else RENDER_BLOCK
        limit = None if seconds is None else int(seconds * SR)
        buf = np.zeros((2, CHUNK), np.float32)  # reads land at an offset in one chunk: no per-read allocation
        base, f4 = buf.ctypes.data, buf.itemsize
        chunks, pos, done, fill, last = [], [], 0, 0, None
        while True:
            n = so.openmpt_module_read_float_stereo(self._mod, SR, block, base + fill * f4, base + (CHUNK + fill) * f4)
            if positions and n:
                now = (so.openmpt_module_get_current_order(self._mod), so.openmpt_module_get_current_row(self._mod))
                if now != last:  # a row started inside this read: date it to the read's middle
                    pos.append((done + n // 2, *now, so.openmpt_module_get_current_pattern(self._mod),
                                so.openmpt_module_get_current_speed(self._mod), so.openmpt_module_get_current_tempo(self._mod)))
                    last = now
            done, fill = done + n, fill + n
            if limit is not None and done >= limit:
                n = 0
            if n == 0 or fill + block > CHUNK:
                chunks.append(buf[:, :fill].T.copy())
                fill = 0
            if n == 0:
                break
        audio = np.concatenate(chunks)[:limit]
        if not positions:
            return audio, None
        p = np.array(pos, np.int64).reshape(-1, 6)
        p = p[p[:, 0] < len(audio)]
        return audio, Positions(frame=p[:, 0], order=p[:, 1], row=p[:, 2], pattern=p[:, 3], speed=p[:, 4], tempo=p[:, 5])
