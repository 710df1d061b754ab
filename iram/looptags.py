"""What ``iram tag`` says about one loop or sample: :class:`LoopTags`, and its
JSON and CSV forms (the pipeline is in :mod:`iram.tagging`)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .errors import IramError
from .roles import ROLES

FILLS = ("none", "tiled", "padded")
"""How audio shorter than the model's window was made to fill it: not at all (long
enough), repeated whole (a loop, 1 s or longer) or followed by silence (a one-shot)."""

CSV_COLUMNS = ("path", "roles", *ROLES, "duration", "bpm", "bars", "fill", "model")


@dataclass(frozen=True)
class LoopTags:
    """Role tags of one audio file.

    ``probabilities`` has one value per role in ROLES order (0..1); ``roles`` are
    those on at the model's loop thresholds, in ROLES order. ``duration`` is in
    seconds. ``bpm`` is None when the file is not rhythmic (a one-shot, a pad
    without pulse); ``bars`` is its length in 4/4 bars at ``bpm``, a whole number
    when the file is a whole-bar loop (the tempo is then the one that fits it
    exactly), else rounded to 0.01; None with ``bpm``.
    """

    path: str
    duration: float
    probabilities: tuple[float, ...]
    roles: tuple[str, ...]
    bpm: float | None = None
    bars: float | None = None
    fill: str = "none"
    model: str = ""

    def __post_init__(self):
        if len(self.probabilities) != len(ROLES):
            raise ValueError(f"probabilities needs {len(ROLES)} values (one per role in {ROLES}), got {len(self.probabilities)}")
        if any(r not in ROLES for r in self.roles):
            raise ValueError(f"roles {self.roles} are not all in {ROLES}")
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got {self.fill!r}")

    def probability(self, role: str) -> float:
        return self.probabilities[ROLES.index(role)]

    @property
    def name(self) -> str:
        return Path(self.path).name

    def to_json(self) -> dict:
        return {"path": self.path, "roles": list(self.roles),
                "probabilities": {r: round(float(p), 4) for r, p in zip(ROLES, self.probabilities)},
                "duration": round(self.duration, 4), "bpm": None if self.bpm is None else round(self.bpm, 2),
                "bars": self.bars, "fill": self.fill, "model": self.model}

    @classmethod
    def from_json(cls, d: dict) -> "LoopTags":
        try:
            probs = d["probabilities"]
            if sorted(probs) != sorted(ROLES):
                raise IramError(f"tags give probabilities for {sorted(probs)}; this iram needs {list(ROLES)}")
            return cls(path=str(d["path"]), duration=float(d["duration"]), probabilities=tuple(float(probs[r]) for r in ROLES),
                       roles=_in_order(d["roles"]), bpm=_num(d.get("bpm")), bars=_num(d.get("bars")),
                       fill=d.get("fill", "none"), model=d.get("model", ""))
        except (KeyError, TypeError, ValueError) as err:
            raise IramError(f"tags lack or mangle {err}; were they written by iram tag?") from err

    def to_row(self) -> dict:
        """One CSV row (CSV_COLUMNS): roles joined by ';', empty cells for None."""
        return {"path": self.path, "roles": ";".join(self.roles),
                **{r: round(float(p), 4) for r, p in zip(ROLES, self.probabilities)},
                "duration": round(self.duration, 4), "bpm": "" if self.bpm is None else round(self.bpm, 2),
                "bars": "" if self.bars is None else f"{self.bars:g}", "fill": self.fill, "model": self.model}

    @classmethod
    def from_row(cls, row: dict) -> "LoopTags":
        """Inverse of :meth:`to_row` (cells may be strings, as a CSV reader gives them)."""
        try:
            roles = [r for r in str(row.get("roles") or "").split(";") if r and r != "nan"]
            return cls(path=str(row["path"]), duration=float(row["duration"]), probabilities=tuple(float(row[r]) for r in ROLES),
                       roles=_in_order(roles), bpm=_num(row.get("bpm")), bars=_num(row.get("bars")),
                       fill=str(row.get("fill") or "none"), model=str(row.get("model") or ""))
        except (KeyError, TypeError, ValueError) as err:
            raise IramError(f"tag table row lacks or mangles {err}; was it written by iram tag?") from err


def _num(v) -> float | None:
    """A number from JSON or a CSV cell; None for empty, missing or NaN."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    x = float(v)
    return None if math.isnan(x) else x


def _in_order(roles) -> tuple[str, ...]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}")
    return tuple(r for r in ROLES if r in roles)
