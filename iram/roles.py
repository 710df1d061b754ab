"""The six instrument roles, in the one order used everywhere in iram."""
from __future__ import annotations

ROLES: tuple[str, ...] = ("percussion", "bass", "chord", "melody", "fx", "voice")
"""Role names; rows of every IRAM matrix follow this order."""

INITIALS: tuple[str, ...] = ("P", "B", "C", "M", "F", "V")

#: The word each role goes by in cue and section names (``Drop 1 · drums bass``).
SHORT_NAMES: dict[str, str] = {"percussion": "drums", "bass": "bass", "chord": "chords", "melody": "melody", "fx": "fx",
                               "voice": "vocals"}

#: One colour per role (hex RGB), used by the plots and by every cue exporter.
COLOURS: dict[str, str] = {
    "percussion": "#E03C31",  # red
    "bass": "#F2A900",        # amber
    "chord": "#2EA043",       # green
    "melody": "#1F6FEB",      # blue
    "fx": "#8250DF",          # purple
    "voice": "#E85AAD",       # pink
}
