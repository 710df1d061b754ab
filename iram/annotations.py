"""Ground-truth role activations: loaders for the three annotation sets.

Every loader returns :class:`Truth` objects: segment intervals (seconds) and a
(6, n) matrix of 0/1 with NaN for roles the set does not annotate. Schemas are
described in ``annotations/README.md``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import AnnotationError
from .roles import ROLES

SETS: tuple[str, ...] = ("drysdale2022", "composed", "custom", "modules")
"""Names of the annotation sets :func:`load_set` reads and ``iram benchmark --set`` accepts."""


def drysdale_candidates() -> tuple[Path, ...]:
    """Where the drysdale2022 annotations are looked for: ``shared/`` beside the checkout, then beside the current folder."""
    tail = Path("shared") / "annotations" / "drysdale2022"
    return Path(__file__).resolve().parent.parent.parent / tail, Path.cwd().parent / tail


# index: (title, artist, genre, BPM, duration "m:ss"), from the set's README
DRYSDALE_TRACKS = {
    0: ("Come On Let's Go", "Le Gang", "Hip Hop", 154, "2:26"),
    1: ("Rap Instrumental (Eminem Type Beat)", "Rick Da Sauce", "Hip Hop", 172, "3:10"),
    2: ("Fear Bomb", "Skorpion", "DnB", 170, "3:51"),
    3: ("The Way It Is", "Sonido Berzerk", "Garage", 140, "4:13"),
    4: ("I Don't Need U 2 Say Anything", "Le Gang", "Hip Hop", 136, "2:23"),
    5: ("Robinson Jr.", "Stoertebeker", "House", 126, "6:13"),
    6: ("Neuroluminescence", "Medular", "Psytrance", 128, "9:25"),
    7: ("Slow It Down", "Aztek, Prinsh", "House (EDM)", 124, "5:48"),
    8: ("East", "Chump Change", "Jungle", 160, "4:04"),
    9: ("Minotauro", "Langax", "Acid", 119, "4:42"),
}
# Which role each annotated row holds. Row 0 is never annotated (all zeros) and is skipped.
DRYSDALE_MAPPINGS = {
    "figure": {1: "melody", 2: "fx", 3: "bass", 4: "percussion"},  # the blog figure's C, M, F, B, P labels
    "blog": {1: "bass", 2: "percussion", 3: "fx", 4: "melody"},  # the blog text's Bass, Drums, FX, Melody after row 0
}


@dataclass
class Truth:
    name: str
    intervals: np.ndarray  # (n, 2) seconds
    roles: np.ndarray  # (6, n) 0/1, NaN where not annotated
    tempo: float | None = None
    beats: np.ndarray | None = None
    downbeats: np.ndarray | None = None
    sections: list[dict] = field(default_factory=list)
    audio: Path | None = None
    duration: float | None = None
    sources: list[frozenset] | None = None  # the tracker modules each segment was made from (remixes, crossmixes)


def _check(name, intervals, roles):
    if roles.shape != (len(ROLES), len(intervals)):
        raise AnnotationError(f"{name}: role matrix shape {roles.shape} does not match {len(intervals)} segments")
    if len(intervals) and (np.any(intervals[:, 1] <= intervals[:, 0]) or np.any(intervals[:, 0] < 0)):
        raise AnnotationError(f"{name}: segment times must be non-negative with end > start (seconds)")


def load_drysdale(folder: str | Path | None = None, *, mapping: str = "figure") -> list[Truth]:
    """The ten tracks of Drysdale (2022), read in place; segments are 16 beats at the listed BPM from 0 s."""
    candidates = drysdale_candidates()
    folder = Path(folder) if folder else next((c for c in candidates if c.is_dir()), candidates[0])
    if mapping not in DRYSDALE_MAPPINGS:
        raise AnnotationError(f"unknown row mapping {mapping!r}; choose {' or '.join(DRYSDALE_MAPPINGS)}")
    if not folder.is_dir():
        raise AnnotationError(f"{folder}: drysdale2022 annotations not found; pass --annotations DIR")
    out = []
    for i, (title, artist, genre, bpm, dur) in DRYSDALE_TRACKS.items():
        f = folder / f"{i}_role_activations.npy"
        try:
            m = np.load(f)
        except (OSError, ValueError) as err:
            raise AnnotationError(f"{f}: cannot read annotation ({err}); is the folder complete?") from err
        if m.ndim != 2 or m.shape[0] != 5 or not np.isin(m, (0, 1)).all():
            raise AnnotationError(f"{f}: expected a (5, N) array of 0/1, got shape {m.shape}")
        seg = 16 * 60.0 / bpm
        n = m.shape[1]
        roles = np.full((len(ROLES), n), np.nan)
        for row, role in DRYSDALE_MAPPINGS[mapping].items():
            roles[ROLES.index(role)] = m[row]
        mm, ss = dur.split(":")
        out.append(Truth(f"{i}: {artist} - {title}", np.stack([np.arange(n) * seg, np.arange(1, n + 1) * seg], axis=1),
                         roles, tempo=float(bpm), duration=int(mm) * 60 + int(ss)))
    return out


def match_drysdale_audio(truths: list[Truth], audio_dir: str | Path) -> list[str]:
    """Attach audio files from ``audio_dir`` (by ``mapping.csv`` with index,file; by a leading
    index in the file name; or by title); returns a line per missing track."""
    from .audio import AUDIO_EXTENSIONS

    audio_dir = Path(audio_dir)
    if not audio_dir.is_dir():
        raise AnnotationError(f"{audio_dir}: audio folder not found; give the folder with your copies of the ten tracks")
    files = sorted(f for f in audio_dir.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS)
    by_index: dict[int, Path] = {}
    mapfile = audio_dir / "mapping.csv"
    if mapfile.exists():
        import pandas as pd

        for _, r in pd.read_csv(mapfile).iterrows():
            by_index[int(r["index"])] = audio_dir / str(r["file"])
    for f in files:
        m = re.match(r"^(\d+)[ _.\-]", f.name)
        if m and int(m.group(1)) in DRYSDALE_TRACKS:
            by_index.setdefault(int(m.group(1)), f)
        for i, (title, *_rest) in DRYSDALE_TRACKS.items():
            if re.sub(r"\W", "", title.lower()) in re.sub(r"\W", "", f.stem.lower()):
                by_index.setdefault(i, f)
    missing = []
    for i, t in enumerate(truths):
        t.audio = by_index.get(i)
        if t.audio is None or not t.audio.exists():
            t.audio = None
            missing.append(f"missing audio for track {t.name} (name it '{i}_<anything>.<ext>' or list it in mapping.csv)")
    if len(missing) == len(truths):
        raise AnnotationError(f"{audio_dir}: none of the ten drysdale2022 tracks found; see annotations/README.md for naming")
    return missing


def load_truth_json(path: str | Path) -> Truth:
    """A composed track's ``.truth.json`` (or a custom JSON in the same schema)."""
    path = Path(path)
    try:
        d = json.loads(path.read_text())
        segs = np.array([[s["start"], s["end"]] for s in d["segments"]], dtype=float).reshape(-1, 2)
        act = np.array(d["activations"], dtype=float)
        names = d.get("roles", list(ROLES))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise AnnotationError(f"{path}: malformed annotation ({err}); see annotations/README.md for the schema") from err
    roles = np.full((len(ROLES), len(segs)), np.nan)
    for row, name in zip(act, names):
        if name not in ROLES:
            raise AnnotationError(f"{path}: unknown role {name!r}; roles are {', '.join(ROLES)}")
        roles[ROLES.index(name)] = row
    _check(path.name, segs, roles)
    audio = next((p for p in (path.with_name(path.name.replace(".truth.json", ext)) for ext in (".wav", ".flac", ".mp3", ".aiff", ".ogg")) if p.exists()), None)
    return Truth(path.name.replace(".truth.json", ""), segs, roles, tempo=d.get("tempo"),
                 beats=np.array(d["beats"]) if "beats" in d else None,
                 downbeats=np.array(d["downbeats"]) if "downbeats" in d else None,
                 sections=d.get("sections", []), audio=audio, duration=d.get("duration"),
                 sources=_sources(d.get("source"), len(segs)))


def _sources(src, n: int) -> list[frozenset] | None:
    """The modules each of ``n`` segments was made from, by a truth's ``source``: one module for
    the whole track (``iram data remix``, ``voiceover``) or a list of pieces per segment
    (``iram data crossmix``); None for anything else."""
    if isinstance(src, dict) and isinstance(src.get("module"), str):
        return [frozenset([src["module"]])] * n
    if (isinstance(src, list) and len(src) == n and all(isinstance(seg, list) for seg in src)
            and all(isinstance(p, dict) and isinstance(p.get("module"), str) for seg in src for p in seg)):
        return [frozenset(p["module"] for p in seg) for seg in src]
    return None


def load_custom_csv(path: str | Path) -> list[Truth]:
    """CSV rows ``file,start,end,<role columns>``; roles left out are not annotated."""
    import pandas as pd

    path = Path(path)
    try:
        df = pd.read_csv(path)
    except Exception as err:
        raise AnnotationError(f"{path}: not a readable CSV ({err})") from err
    missing = {"file", "start", "end"} - set(df.columns)
    roles_present = [r for r in ROLES if r in df.columns]
    if missing or not roles_present:
        raise AnnotationError(f"{path}: needs columns file, start, end and at least one of {', '.join(ROLES)}")
    out = []
    for f, g in df.groupby("file", sort=False):
        g = g.sort_values("start")
        roles = np.full((len(ROLES), len(g)), np.nan)
        for r in roles_present:
            roles[ROLES.index(r)] = g[r].to_numpy(float)
        iv = g[["start", "end"]].to_numpy(float)
        _check(f"{path}: {f}", iv, roles)
        audio = (path.parent / str(f))
        out.append(Truth(str(f), iv, roles, audio=audio if audio.exists() else None))
    return out


def load_set(name: str, folder: str | Path | None = None, *, mapping: str = "figure", split: str = "test") -> list[Truth]:
    """The Truth objects of a set; ``split`` picks the rendered modules' split (``modules`` only)."""
    if name == "drysdale2022":
        return load_drysdale(folder, mapping=mapping)
    if name == "modules":
        from .data.modules import load_set as load_modules

        if folder is None:
            raise AnnotationError("modules needs the folder the modules were rendered to: iram benchmark --set modules DIR "
                                  "(render with 'iram data modules --out DIR')")
        return load_modules(folder, split=split)
    folder = Path(folder) if folder else None
    if folder is None or not folder.is_dir():
        raise AnnotationError(f"{folder}: annotation folder not found")
    if name == "composed":
        files = sorted(folder.glob("*.truth.json"))
        if not files:
            raise AnnotationError(f"{folder}: no *.truth.json files; make tracks with 'iram data tracks'")
        return [load_truth_json(f) for f in files]
    if name == "custom":
        out = [t for c in sorted(folder.glob("*.csv")) for t in load_custom_csv(c)]
        out += [load_truth_json(f) for f in sorted(folder.glob("*.truth.json"))]
        if not out:
            raise AnnotationError(f"{folder}: no annotation CSV or .truth.json files; see annotations/README.md")
        return out
    raise AnnotationError(f"unknown set {name!r}; choose {', '.join(SETS)}")
