"""Real music with exact answers: Debian's tracker modules rendered to a mix, one stem per
instrument, an exact beat grid and per-segment role truth.

For every module of ``annotations/modules/modules.csv`` (split not ``exclude``) this
writes ``DIR/<split>/<slug>/``: ``mix.flac`` (44.1 kHz stereo, 24-bit), ``stems/<n>_<name>.flac``
(one per instrument or sample that sounds; ``n`` as in ``roles.json``), ``rows.npz``
(per played row: start frame, order, pattern, row, speed, tempo and the energy of the mix
and of every stem, so the truth can be re-made without rendering) and ``truth.json``.

Stems come from silencing the other samples' data in a copy of the file
(:mod:`iram.data.samples`), so playback is unchanged and the stems add up to the mix; the
residual is measured on the written 24-bit samples and reported (``sum_check_db``, must be
below :data:`SUM_LIMIT_DB`). Row times are read back while rendering
(:meth:`iram.data.openmpt.Module.render`), so beats fall on rendered rows within 0.2 ms.

The activity rule (also in ``annotations/modules/README.md``), per 4-bar segment:
a stem's *beat* sounds when its mean square over the beat is (1) within
``relative_db`` of the stem's own loudest segment, (2) above the absolute floor
``floor_db`` (dBFS), and (3) no more than ``mix_db`` below the mix over the same beat
(audible against the mix). A role is active in a segment when at least ``min_beats`` beats
of one stem playing that role sound. Cells are masked (``null``) when a stem that sounds in
the segment (``min_beats`` or more beats) has the role among its ``alt_roles``, when a
stem's role changes inside the segment and the role has fewer than ``min_beats`` sounding
beats of it, or when the stem has no label; a positive reading from any stem wins over a mask.
``level_db`` per role is 10 log10 of the summed mean squares of the role's stems over the
segment (dBFS; stems taken as uncorrelated), ``null`` where the role is silent.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..beats.reading import bpm_of
from ..errors import DataError, IramError
from ..roles import ROLES
from . import samples as smp
from .openmpt import SR, Module, ModuleError, Positions

ANNOTATIONS = Path(__file__).resolve().parents[2] / "annotations" / "modules"
SPLITS = ("train", "valid", "test")
SEGMENT_BARS = 4
SUM_LIMIT_DB = -60.0
FULL_SCALE = 2 ** 23  # 24-bit FLAC
RENDER_VERSION = "1"  # bump when the audio a module renders to changes: cached renders are redone


@dataclass(frozen=True)
class ActivityRule:
    """When a stem counts as sounding; see the module docstring. Levels are dB of mean square."""

    relative_db: float = -30.0
    floor_db: float = -70.0
    mix_db: float = -25.0
    min_beats: int = 2


RULE = ActivityRule()


@dataclass(frozen=True)
class Entry:
    """One row of ``modules.csv`` (see MODULES_SPEC / annotations/modules/README.md)."""

    slug: str
    package: str
    path: str
    format: str
    composer: str
    title: str
    split: str
    electronic: str
    rows_per_beat: int
    beats_per_bar: int
    downbeat_row: int
    count_from: str
    why: str = ""


def slug(package: str, path: str | Path) -> str:
    """``{package}-{file stem}`` lower-cased, every run outside [a-z0-9] -> ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", f"{package}-{Path(path).stem}".lower())


# -- the annotation tables ------------------------------------------------------------------
def read_table(annotations: str | Path = ANNOTATIONS) -> list[Entry]:
    """The rows of ``modules.csv`` in ``annotations``."""
    f = Path(annotations) / "modules.csv"
    try:
        with open(f, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        out = [Entry(slug=r["slug"], package=r["package"], path=r["path"], format=r["format"].lower(),
                     composer=r["composer"], title=r.get("title", ""), split=r["split"], electronic=r.get("electronic", ""),
                     rows_per_beat=int(r["rows_per_beat"]), beats_per_bar=int(r["beats_per_bar"]),
                     downbeat_row=int(r["downbeat_row"]), count_from=r["count_from"], why=r.get("why", ""))
               for r in rows]
    except OSError as err:
        raise DataError(f"{f}: cannot read the module table ({err.strerror}); pass --annotations DIR") from err
    except (KeyError, ValueError, TypeError) as err:
        raise DataError(f"{f}: malformed module table ({err}); see annotations/modules/README.md") from err
    for e in out:
        if e.split not in SPLITS + ("exclude",) or e.count_from not in ("pattern", "song") or e.rows_per_beat < 1 or e.beats_per_bar < 1:
            raise DataError(f"{f}: {e.slug}: split, count_from, rows_per_beat or beats_per_bar out of range; see annotations/modules/README.md")
    return out


def _read_json(f: Path) -> dict:
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{f}: malformed roles file ({err}); see annotations/modules/README.md") from err


def combine(first: dict, second: dict) -> dict:
    """Two annotators' labels as one: the second annotator's role, alt_roles and changes, with the
    first annotator's role added to alt_roles (masked) where they differ. Slugs or instruments only
    one annotator labelled keep that label."""
    out = {slug: dict(insts) for slug, insts in first.items()}
    for slug, insts in second.items():
        for n, e in insts.items():
            f = first.get(slug, {}).get(n)
            other = [f["role"]] if f and f["role"] not in (e["role"], "none") else []
            alts = [r for r in dict.fromkeys([*e.get("alt_roles", []), *other]) if r != e["role"]]
            why = e.get("why", "") + (f" (first annotator: {f['role']}, masked)" if other else "")
            out.setdefault(slug, {})[n] = {**e, "alt_roles": alts, "why": why}
    return out


def read_roles(annotations: str | Path = ANNOTATIONS) -> dict:
    """``roles.json`` in ``annotations`` ({} when it is not there yet: every stem unlabelled), with the
    second annotator's train-split labels (``roles-train.json``, where present) combined in."""
    f, second = Path(annotations) / "roles.json", Path(annotations) / "roles-train.json"
    roles = _read_json(f) if f.exists() else {}
    return combine(roles, _read_json(second)) if second.exists() else roles


def package_folds(entries: list[Entry], folds: int) -> dict[str, int]:
    """Fold (0 .. folds-1) of every package of ``entries``: the packages in name order, dealt in
    turn, so a package's modules (one composer's or one game's) stay in one fold."""
    return {p: k % folds for k, p in enumerate(sorted({e.package for e in entries}))}


# -- the grid -------------------------------------------------------------------------------
def grid(pos: Positions, *, rows_per_beat: int, beats_per_bar: int, downbeat_row: int = 0,
         count_from: str = "pattern") -> tuple[np.ndarray, np.ndarray]:
    """Indices of the played rows that start a beat and a bar.

    A played row is a beat when ``(r - downbeat_row)`` is a multiple of ``rows_per_beat``
    and a downbeat when it is a multiple of ``rows_per_beat * beats_per_bar``, where ``r`` is
    the pattern row (``count_from="pattern"``) or the row's index in the played song
    (``"song"``).

    Returns
    -------
    beats, downbeats : np.ndarray [shape=(n,)] int, indices into ``pos`` (ascending)
    """
    r = pos.row if count_from == "pattern" else np.arange(len(pos.row))
    r = np.asarray(r, np.int64) - downbeat_row
    beats = np.flatnonzero(r % rows_per_beat == 0)
    downs = np.flatnonzero(r % (rows_per_beat * beats_per_bar) == 0)
    return beats, downs


def bars_and_segments(beats: np.ndarray, downs: np.ndarray, n_rows: int, beats_per_bar: int) -> list[tuple[int, int]]:
    """4-bar segments as (first row, end row) indices into the played rows.

    Bars run from one downbeat to the next (the last to the song's end); a last bar with
    fewer than ``beats_per_bar`` beats is dropped, as are bars left over after the last
    whole group of four and the pickup before the first downbeat.
    """
    edges = list(downs) + [n_rows]
    bars = [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    if bars and np.count_nonzero((beats >= bars[-1][0]) & (beats < bars[-1][1])) < beats_per_bar:
        bars = bars[:-1]
    return [(bars[k][0], bars[k + SEGMENT_BARS - 1][1]) for k in range(0, len(bars) - SEGMENT_BARS + 1, SEGMENT_BARS)]


# -- the truth ------------------------------------------------------------------------------
def role_at(label: dict | None, order: int) -> tuple[str | None, list[str]]:
    """(role, alt_roles) of one roles.json entry at an order index; (None, []) if unlabelled."""
    if not label:
        return None, []
    for ch in label.get("changes", []):
        first, last = ch["orders"]
        if first <= order <= last:
            return ch["role"], list(ch.get("alt_roles", []))
    return label.get("role"), list(label.get("alt_roles", []))


def sections_of(active: list[dict]) -> list[tuple[int, int]]:
    """Runs of segments with the same set of active (1) roles, as (first, end) segment indices:
    the derived section reading that tracker modules allow (a masked cell counts as inactive,
    so a doubtful role does not cut a section)."""
    active = [{r for r, v in a.items() if v == 1} for a in active]
    out, start = [], 0
    for k in range(1, len(active) + 1):
        if k == len(active) or active[k] != active[start]:
            out.append((start, k))
            start = k
    return out


def truth_from_rows(rows: dict, entry: Entry, labels: dict, *, rule: ActivityRule = RULE) -> dict:
    """The truth of one rendered module from its per-row record (``rows.npz``) and labels.

    Parameters
    ----------
    rows : mapping with ``frame``, ``order``, ``pattern``, ``row``, ``speed``, ``tempo``
        (shape (R,), one per played row; ``frame`` at 44.1 kHz), ``mix`` (R,) and ``stems``
        (S, R): sums of squares (over frames and both channels) from each row's start to the
        next, ``stem_n`` (S,) stem numbers, ``n_frames`` (the song's length in frames).
    entry : the module's row of modules.csv
    labels : the module's entry of roles.json, keyed by ``str(n)`` ({} if unlabelled)
    """
    pos = Positions(*(np.asarray(rows[k]) for k in ("frame", "order", "pattern", "row", "speed", "tempo")))
    n_frames = int(rows["n_frames"])
    frame = pos.frame.astype(np.int64).copy()
    frame[0] = 0
    beats, downs = grid(pos, rows_per_beat=entry.rows_per_beat, beats_per_bar=entry.beats_per_bar,
                        downbeat_row=entry.downbeat_row, count_from=entry.count_from)
    segs = bars_and_segments(beats, downs, len(frame), entry.beats_per_bar)
    times = pos.frame / SR
    ends = np.append(frame[1:], n_frames)
    mix_e = np.asarray(rows["mix"], float)
    stems_e, n = np.asarray(rows["stems"], float).reshape(-1, len(frame)), [str(int(x)) for x in rows["stem_n"]]

    def frames(a: int, b: int) -> int:  # frames in played rows a..b-1
        return max(int(ends[b - 1] - frame[a]), 1)

    db = lambda x: 10 * np.log10(np.maximum(x, 1e-30))  # noqa: E731
    seg_ms = np.array([stems_e[:, a:b].sum(axis=1) / (2 * frames(a, b)) for a, b in segs]).reshape(len(segs), len(n)).T
    ref = seg_ms.max(axis=1) if len(segs) else np.zeros(len(n))
    beat_edges = np.append(beats, len(frame))
    segments = []
    for k, (a, b) in enumerate(segs):
        count = {r: np.zeros(len(n), int) for r in ROLES}
        level = {r: 0.0 for r in ROLES}
        sounding = np.zeros(len(n), int)
        for i in np.flatnonzero((beats >= a) & (beats < b)):
            r0, r1 = beat_edges[i], min(beat_edges[i + 1], b)
            f = frames(r0, r1)
            e = stems_e[:, r0:r1].sum(axis=1) / (2 * f)
            sounds = (db(e) >= db(ref) + rule.relative_db) & (db(e) >= rule.floor_db) & (db(e) >= db(mix_e[r0:r1].sum() / (2 * f)) + rule.mix_db)
            sounding += sounds
            for s, key in enumerate(n):
                role = role_at(labels.get(key), int(pos.order[r0]))[0]
                if role in count:
                    level[role] += e[s] * 2 * f  # back to a sum of squares
                    count[role][s] += sounds[s]
        masked = set()
        orders = np.unique(pos.order[a:b])
        for s, key in enumerate(n):
            if sounding[s] < rule.min_beats:
                continue
            if not labels.get(key):
                masked |= set(ROLES)  # an unlabelled stem sounds: every role it might be is unknown
                continue
            here = [role_at(labels[key], int(o)) for o in orders]
            masked |= {x for _, alts in here for x in alts}
            if len({r for r, _ in here}) > 1:  # the role changes inside the segment
                masked |= {r for r, _ in here if r in count and 0 < count[r][s] < rule.min_beats}
        active = {r: 1 if (count[r] >= rule.min_beats).any() else (None if r in masked else 0) for r in ROLES}
        total = 2 * frames(a, b)
        segments.append({"start": round(float(times[a]), 6), "end": round(float(times[b] if b < len(times) else n_frames / SR), 6),
                         "bars": [SEGMENT_BARS * k + 1, SEGMENT_BARS * k + SEGMENT_BARS], "active": active,
                         "level_db": {r: (round(float(db(level[r] / total)), 2) if level[r] > 0 else None) for r in ROLES}})
    beat_t, down_t = times[beats], times[downs]
    bpm = round(bpm_of(beat_t), 4)
    sections = [{"label": "+".join(r[0].upper() for r in ROLES if segments[a]["active"][r]) or "-",
                 "start": segments[a]["start"], "end": segments[b - 1]["end"]}
                for a, b in sections_of([s["active"] for s in segments])]
    return {"slug": entry.slug, "package": entry.package, "composer": entry.composer, "title": entry.title,
            "split": entry.split, "electronic": entry.electronic, "format": entry.format,
            "duration": round(n_frames / SR, 6), "bpm": bpm, "tempo": bpm,
            "grid": {"rows_per_beat": entry.rows_per_beat, "beats_per_bar": entry.beats_per_bar,
                     "downbeat_row": entry.downbeat_row, "count_from": entry.count_from},
            "rule": asdict(rule),
            "beats": [round(float(t), 6) for t in beat_t], "downbeats": [round(float(t), 6) for t in down_t],
            "roles": list(ROLES), "segments": segments,
            "activations": [[s["active"][r] for s in segments] for r in ROLES],
            "sections": sections}


# -- rendering ------------------------------------------------------------------------------
def _quantise(x: np.ndarray, gain: float) -> np.ndarray:
    """float audio -> int32 holding 24-bit values (what the FLAC file stores)."""
    return np.round(np.clip(x * gain, -1.0, 1.0 - 1.0 / FULL_SCALE) * FULL_SCALE).astype(np.int32)


def cancels_in_mono(q: np.ndarray) -> bool:
    """True when the quantised stereo mix ``q`` (frames, 2) sounds but its mono downmix, what
    iram analyses, is silence by :data:`iram.audio.SILENCE_RMS` (surround channels in
    antiphase): iram would refuse the mix, so the module cannot be trained or scored on."""
    from ..audio import SILENCE_RMS

    x = q.astype(np.float64) / FULL_SCALE
    mono = x.mean(axis=1) if x.ndim == 2 else x
    return bool(x.std() >= SILENCE_RMS and mono.std() < SILENCE_RMS)


def _write_flac(path: Path, q: np.ndarray) -> None:
    import soundfile as sf

    sf.write(str(path), q << 8, SR, subtype="PCM_24", format="FLAC")


def _row_energy(q: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of squares (both channels, full scale 1) from each row start to the next."""
    x = q.astype(np.float32) / FULL_SCALE
    return np.add.reduceat((x * x).sum(axis=1, dtype=np.float64), starts) if len(x) else np.zeros(len(starts))


def _file_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "unnamed"


def module_bytes(entry: Entry) -> bytes:
    """The module file's bytes; one line naming the Debian package when it is not installed."""
    p = Path(entry.path)
    if not p.exists():
        raise ModuleError(f"{p}: not installed; apt-get install {entry.package} (or run .ci/setup-system.sh)")
    try:
        return p.read_bytes()
    except OSError as err:
        raise ModuleError(f"{p}: cannot read ({err.strerror}); check the file") from err


def render_module(entry: Entry, folder: str | Path, *, seconds: float | None = None) -> dict:
    """Render one module into ``folder`` (created; must not exist): mix, stems and ``rows.npz``.

    Returns the render record: sum check (dB), gain (dB), stems [{n, name, file, instruments,
    samples, peak_db}], length. ``seconds`` renders an excerpt (tests).
    """
    folder = Path(folder)
    raw = module_bytes(entry)
    with Module(raw, entry.path) as m:
        fmt = m.metadata("type")
    data = smp.deterministic(raw, fmt)
    samples, stems = smp.layout(data, fmt)
    with Module(data, entry.path) as m:
        used = m.instruments_used()
        mix, pos = m.render(positions=True, seconds=seconds)
    if not len(pos.frame):
        raise ModuleError(f"{entry.path}: the module plays no rows; set its split to exclude in modules.csv")
    peak = float(np.abs(mix).max()) if len(mix) else 0.0
    gain = 1.0 if peak < 1.0 else 0.999 / peak
    starts = np.clip(pos.frame, 0, max(len(mix) - 1, 0)).astype(np.int64)
    starts[0] = 0
    q_mix = _quantise(mix, gain)
    del mix
    if cancels_in_mono(q_mix):
        raise ModuleError(f"{entry.path}: its channels cancel in a mono downmix (silent to iram); "
                          "set its split to exclude in modules.csv")
    (folder / "stems").mkdir(parents=True)
    _write_flac(folder / "mix.flac", q_mix)
    acc = np.zeros_like(q_mix)
    energies, record = [], []
    by_number = {s.number: s for s in samples}
    for st in stems:
        if not any(by_number[i].size or by_number[i].compressed for i in st.samples) or not set(st.instruments or st.samples) & used:
            continue  # no sample data, or never played: silent by construction (the sum check would show otherwise)
        with Module(smp.keep_only(data, samples, set(st.samples)), entry.path) as m:
            y, _ = m.render(seconds=seconds)
        if len(y) != len(q_mix):
            raise ModuleError(f"{entry.path}: stem {st.n} renders {len(y)} frames, the mix {len(q_mix)}; its playback "
                              "depends on sample data, so it cannot be split into stems")
        q = _quantise(y, gain)
        del y
        if not q.any():
            continue
        acc += q
        file = f"{st.n}_{_file_name(st.name)}.flac"
        _write_flac(folder / "stems" / file, q)
        energies.append(_row_energy(q, starts))
        record.append({"n": st.n, "name": st.name, "file": f"stems/{file}", "instruments": list(st.instruments),
                       "samples": list(st.samples), "peak_db": round(float(20 * np.log10(np.abs(q).max() / FULL_SCALE)), 2)})
    diff = (acc.astype(np.int64) - q_mix).astype(np.float64)
    ref = float((q_mix.astype(np.float64) ** 2).sum())
    sum_db = float(10 * np.log10(max((diff ** 2).sum(), 1e-30) / max(ref, 1e-30))) if ref > 0 else float("-inf")
    save_rows(folder / "rows.npz", frame=pos.frame, order=pos.order, pattern=pos.pattern, row=pos.row,
              speed=pos.speed, tempo=pos.tempo, mix=_row_energy(q_mix, starts),
              stems=np.array(energies).reshape(len(energies), len(starts)),
              stem_n=np.array([r["n"] for r in record], np.int64), n_frames=np.int64(len(q_mix)))
    return {"format": fmt, "sum_check_db": round(sum_db, 2), "gain_db": round(float(20 * np.log10(gain)), 3),
            "n_frames": len(q_mix), "stems": record}


def save_rows(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez_compressed`` with fixed zip dates, so the same render gives the same bytes."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in arrays.items():
            buf = io.BytesIO()
            np.save(buf, np.asarray(v), allow_pickle=False)
            z.writestr(zipfile.ZipInfo(f"{k}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue(), zipfile.ZIP_DEFLATED)


def _key(raw: bytes, seconds: float | None) -> str:
    return hashlib.sha256(raw).hexdigest()[:16] + f"-v{RENDER_VERSION}-{seconds}"


def make_module(entry: Entry, labels: dict, out: str | Path, *, seconds: float | None = None,
                rule: ActivityRule = RULE, truth_only: bool = False) -> dict:
    """Render (or reuse) one module into ``out/<split>/<slug>`` and write its ``truth.json``.

    A render already in ``out/*/<slug>`` made from the same file bytes and renderer version
    is reused (moved if the split changed); the truth is always re-made from the labels.
    Nothing half-written: a new render is built in a hidden folder and renamed into place.
    Returns a summary {slug, split, minutes, stems, sum_check_db, segments, active per role};
    with ``truth_only`` a module not rendered yet is left alone ({slug, split, "unrendered": True}).
    """
    out = Path(out)
    final = out / entry.split / entry.slug
    key = _key(module_bytes(entry), seconds)
    old = next((d for d in (out / s / entry.slug for s in SPLITS) if (d / "render.json").exists()), None)
    render = None
    if old is not None:
        try:
            render = json.loads((old / "render.json").read_text())
        except (OSError, json.JSONDecodeError):
            render = None
        if render is None or render.get("key") != key:
            shutil.rmtree(old)
            render = None
        elif old != final:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(old, final)
    if render is None and truth_only:
        return {"slug": entry.slug, "split": entry.split, "unrendered": True}
    if render is None:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{entry.slug}.partial"
        if tmp.exists():
            shutil.rmtree(tmp)
        try:
            render = render_module(entry, tmp, seconds=seconds)
            render["key"] = key
            (tmp / "render.json").write_text(json.dumps(render, indent=1))
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    with np.load(final / "rows.npz") as z:
        rows = {k: z[k] for k in z.files}
    truth = truth_from_rows(rows, entry, labels, rule=rule)
    stems = []
    for r in render["stems"]:
        role, alts = role_at(labels.get(str(r["n"])), 0)
        stems.append({**r, "role": role, "alt_roles": alts, "why": (labels.get(str(r["n"])) or {}).get("why", "")})
    truth.update(sum_check_db=render["sum_check_db"], gain_db=render["gain_db"], stems=stems,
                 unlabelled=[r["n"] for r in stems if r["role"] is None])
    from ..io import write_text

    write_text(final / "truth.json", json.dumps(truth, indent=1))
    return summary(truth)


def summary(truth: dict) -> dict:
    """One module's line of the corpus summary."""
    act = np.array([[np.nan if v is None else v for v in row] for row in truth["activations"]], float).reshape(len(ROLES), -1)
    return {"slug": truth["slug"], "split": truth["split"], "minutes": truth["duration"] / 60, "stems": len(truth["stems"]),
            "sum_check_db": truth["sum_check_db"], "segments": act.shape[1], "bpm": truth["bpm"],
            "active": {r: int(np.nansum(act[i])) for i, r in enumerate(ROLES)},
            "masked": {r: int(np.isnan(act[i]).sum()) for i, r in enumerate(ROLES)}}


def _one(job):
    entry, labels, out, seconds, truth_only = job
    try:
        return make_module(entry, labels, out, seconds=seconds, truth_only=truth_only)
    except IramError as err:
        return {"slug": entry.slug, "split": entry.split, "error": str(err)}


def tidy(out: Path, table: list[Entry]) -> None:
    """Keep ``out`` in step with the table: a render left in a split the module is no longer in is
    moved to its new split without its truth (re-made when that split is rendered), and renders of
    excluded modules or of modules not in the table are removed. Only folders with a
    ``render.json`` (written by this module) are touched."""
    where = {e.slug: e.split for e in table}
    for s in SPLITS:
        for d in sorted((out / s).glob("*/render.json")):
            d = d.parent
            if d.name.startswith("."):
                continue  # a render still being built
            new = where.get(d.name, "exclude")
            if new == s:
                continue
            if new in SPLITS and not (out / new / d.name).exists():
                (out / new).mkdir(parents=True, exist_ok=True)
                os.replace(d, out / new / d.name)
                (out / new / d.name / "truth.json").unlink(missing_ok=True)
            else:
                shutil.rmtree(d)


def make_modules(*, out: str | Path, split: str = "all", jobs: int = 1, annotations: str | Path = ANNOTATIONS,
                 seconds: float | None = None, only: list[str] | None = None, truth_only: bool = False,
                 progress: bool = True) -> list[dict]:
    """Render every module of ``annotations/modules.csv`` in ``split`` (or ``all``) into ``out``.

    Returns one summary per module (see :func:`summary`), or ``{"slug", "error"}`` for a module
    that could not be rendered (the error is one line naming the fix); a module whose stems do
    not add up to the mix within :data:`SUM_LIMIT_DB` is rendered but carries ``"error"`` too.
    ``truth_only`` re-makes the truth of modules already rendered and renders nothing.
    """
    from tqdm import tqdm

    from ..io import output_dir

    if split not in SPLITS + ("all",):
        raise DataError(f"unknown split {split!r}; choose train, valid, test or all")
    full = read_table(annotations)
    table = [e for e in full if e.split != "exclude" and (split == "all" or e.split == split) and (not only or e.slug in only)]
    if not table:
        raise DataError(f"{annotations}: no modules in split {split!r}; check modules.csv")
    roles = read_roles(annotations)
    out = output_dir(out, option="--out", error=DataError)
    tidy(out, full)
    work = [(e, roles.get(e.slug, {}), str(out), seconds, truth_only) for e in table]
    if jobs > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(jobs) as pool:
            res = list(tqdm(pool.imap(_one, work), total=len(work), desc="modules", unit="module", disable=not progress, file=sys.stderr))
    else:
        res = [_one(w) for w in tqdm(work, desc="modules", unit="module", disable=not progress, file=sys.stderr)]
    for r in res:
        if "error" not in r and "unrendered" not in r and not r["sum_check_db"] < SUM_LIMIT_DB:
            r["error"] = f"{r['slug']}: stems add up to the mix only within {r['sum_check_db']:.1f} dB (limit {SUM_LIMIT_DB:.0f} dB)"
    return res


def report(results: list[dict]) -> str:
    """The CLI summary: a line per module, then per split: modules, minutes, active segments per role."""
    lines = []
    for r in results:
        if "minutes" in r:
            lines.append(f"{r['split']:5s} {r['slug']}: {r['minutes']:.1f} min, {r['bpm']:.1f} BPM, {r['stems']} stems, "
                         f"sum check {r['sum_check_db']:.1f} dB, {r['segments']} segments")
    if n := sum("unrendered" in r for r in results):
        lines.append(f"{n} modules not rendered yet (--truth-only): not in the table")
    lines.append(split_table(results))
    lines += [f"iram: error: {r['error']}" for r in results if "error" in r]
    return "\n".join(lines)


def split_table(results: list[dict]) -> str:
    """Markdown: modules, minutes, 4-bar segments and active (masked) segments per role, per split."""
    head = "| split | modules | minutes | segments | " + " | ".join(ROLES) + " |"
    lines = [head, "|---" * (4 + len(ROLES)) + "|"]
    for s in SPLITS:
        rs = [r for r in results if r.get("split") == s and "minutes" in r]
        if not rs:
            continue
        cells = [f"{sum(r['active'][k] for r in rs)}" + (f" ({m})" if (m := sum(r['masked'][k] for r in rs)) else "") for k in ROLES]
        lines.append(f"| {s} | {len(rs)} | {sum(r['minutes'] for r in rs):.1f} | {sum(r['segments'] for r in rs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def load_truth(folder: str | Path):
    """A rendered module as an :class:`iram.annotations.Truth` (name = slug, audio = mix.flac).

    ``folder`` is ``DIR/<split>/<slug>``; masked cells are NaN in ``roles``.
    """
    from ..annotations import load_truth_json

    folder = Path(folder)
    t = load_truth_json(folder / "truth.json")
    t.name, t.audio = folder.name, folder / "mix.flac"
    return t


def load_set(folder: str | Path, *, split: str = "test") -> list:
    """Every rendered module of ``split`` (or ``all``) under ``folder`` as Truth objects, by slug."""
    folder = Path(folder)
    splits = SPLITS if split == "all" else (split,)
    if split not in SPLITS + ("all",):
        raise DataError(f"unknown split {split!r}; choose train, valid, test or all")
    files = sorted(f for s in splits for f in (folder / s).glob("*/truth.json"))
    if not files:
        raise DataError(f"{folder}: no rendered modules in split {split!r}; render them with 'iram data modules --out {folder}'")
    return [load_truth(f.parent) for f in files]
