"""Real stems re-mixed: more role combinations from the same human-made music.

The stems of a rendered tracker module (``iram data modules``) add up to its mix. A remix
silences every stem of a role with probability ``drop`` (each role drawn on its own; a stem
whose role changes in the song goes if any of its roles goes), sets each kept stem's gain
within +-``gain_db``, and sums the rest. Its truth is re-made by the module's own activity
rule from the per-row stem energies (``rows.npz``) scaled by the same gains, so a remix is
labelled exactly as a mix is (masked cells included). In the modules a bass or drums rest is
rare (about 4% and 11% of train segments); in remixes each is common.

Output: ``<slug>_remix<k>.wav`` (mono, the role model's input rate) + ``.truth.json`` per
remix, the annotated-track format ``iram train --tracks`` reads.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..roles import ROLES

RATE = 16000  # the role model's input rate: a remix is training material only


def stem_roles(label: dict | None) -> set[str]:
    """Every role one ``roles.json`` entry gives its stem anywhere in the song."""
    if not label:
        return set()
    return {label.get("role"), *(ch["role"] for ch in label.get("changes", []))} & set(ROLES)


def remix_gains(stems: list[dict], labels: dict, rng: np.random.Generator, *, drop: float, gain_db: float) -> np.ndarray:
    """Linear gain per stem (0 = silenced): whole roles dropped with probability ``drop`` each,
    never all of them."""
    roles = [stem_roles(labels.get(str(s["n"]))) for s in stems]
    present = sorted(set().union(*roles))
    while True:
        gone = {r for r in present if rng.random() < drop}
        if len(gone) < len(present):
            break
    keep = np.array([not (r & gone) for r in roles])
    return keep * 10 ** (rng.uniform(-gain_db, gain_db, len(stems)) / 20)


def remix_truth(rows: dict, entry, labels: dict, stem_n: list[int], gains: np.ndarray) -> dict:
    """The truth of a remix: the module's rule on its stem energies scaled by ``gains``
    (one per ``stem_n``; the mix energy taken as the sum of the kept stems', uncorrelated)."""
    from .modules import truth_from_rows

    g2 = np.zeros(len(rows["stem_n"]))
    where = {int(n): k for k, n in enumerate(rows["stem_n"])}
    for n, g in zip(stem_n, gains):
        g2[where[int(n)]] = g ** 2
    stems = np.asarray(rows["stems"], float).reshape(len(g2), -1) * g2[:, None]
    return truth_from_rows({**rows, "stems": stems, "mix": stems.sum(axis=0)}, entry, labels)


def make_remixes(*, modules: str | Path, split: str, per_module: int, out: str | Path, seed: int = 0,
                 drop: float = 0.4, gain_db: float = 4.0, annotations: str | Path | None = None,
                 progress: bool = False) -> Path:
    """Write ``per_module`` remixes of every rendered module of ``split`` under ``modules`` into ``out``
    (labels from ``annotations``, default this checkout's ``annotations/modules``)."""
    import soundfile as sf
    from tqdm import tqdm

    from ..audio import load as load_audio
    from ..errors import AudioError
    from ..io import atomic_path, output_dir, write_text
    from .modules import ANNOTATIONS, SPLITS, read_roles, read_table

    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose train, valid or test")
    if per_module <= 0:
        raise DataError(f"--per-module must be a positive number of remixes, got {per_module}")
    folders = sorted(p.parent for p in (Path(modules) / split).glob("*/rows.npz"))
    if not folders:
        raise DataError(f"{modules}: no rendered module in split {split!r}; render them with 'iram data modules --out {modules}'")
    annotations = annotations or ANNOTATIONS
    table, roles = {e.slug: e for e in read_table(annotations)}, read_roles(annotations)
    out = output_dir(out, option="--out", error=DataError)
    rng = np.random.default_rng(seed)
    for folder in tqdm(folders, desc="remixing", unit="module", disable=not progress):
        entry, labels = table.get(folder.name), roles.get(folder.name, {})
        if entry is None or entry.split != split:
            continue  # excluded or moved since it was rendered
        stems = json.loads((folder / "truth.json").read_text())["stems"]
        with np.load(folder / "rows.npz") as z:
            rows = {k: z[k] for k in z.files}
        audio = []
        for s in stems:
            try:
                audio.append(load_audio(folder / s["file"], rates=(RATE,)).at(RATE))
            except AudioError:  # a stem that is silence once mono: it adds nothing
                audio.append(None)
        n = max(len(a) for a in audio if a is not None)
        for k in range(per_module):
            gains = remix_gains(stems, labels, rng, drop=drop, gain_db=gain_db)
            y = np.zeros(n, np.float32)
            for a, g in zip(audio, gains):
                if a is not None and g > 0:
                    y[: len(a)] += g * a
            peak = float(np.abs(y).max())
            if peak < 1e-4:
                continue
            truth = remix_truth(rows, entry, labels, [s["n"] for s in stems], gains)
            truth["source"] = {"module": folder.name, "gain_db": {str(s["n"]): (round(20 * np.log10(g), 2) if g > 0 else None)
                                                               for s, g in zip(stems, gains)}}
            name = f"{folder.name}_remix{k}"
            with atomic_path(out / f"{name}.wav") as tmp:
                sf.write(tmp, y / max(1.0, peak / 0.99), RATE, subtype="PCM_16", format="WAV")
            write_text(out / f"{name}.truth.json", json.dumps(truth))
    return out


# -- across modules ---------------------------------------------------------------------------
def role_pieces(truth: dict, rows: dict, labels: dict, *, module: str) -> list[dict]:
    """One piece per 4-bar segment and active role of a rendered module: the stems that play the
    role there (by the labels at the segment's orders), the roles to mask where the piece sounds
    (its stems' ``alt_roles`` and any other role they take in the segment), and its local tempo."""
    from .modules import role_at
    from .openmpt import SR as MODULE_SR

    starts = np.asarray(rows["frame"], float) / MODULE_SR
    out = []
    for k, seg in enumerate(truth["segments"]):
        # rows from the one starting the segment to the last before its end (times in truth.json are rounded)
        lo, hi = np.searchsorted(starts, seg["start"] + 1e-4, side="right") - 1, np.searchsorted(starts, seg["end"] - 1e-4)
        orders = {int(o) for o in np.asarray(rows["order"])[max(lo, 0):max(hi, lo + 1)]}
        here = {s["file"]: [role_at(labels.get(str(s["n"])), o) for o in orders] for s in truth["stems"]}
        for role in ROLES:
            if seg["active"][role] != 1:
                continue
            files, mask = [], set()
            for f, played in here.items():
                if any(r == role for r, _ in played):
                    files.append(f)
                    mask |= {x for r, alts in played for x in [r, *alts]}
            if files:
                out.append({"module": module, "segment": k, "role": role, "start": seg["start"], "end": seg["end"],
                            "stems": files, "mask": sorted((mask & set(ROLES)) - {role}),
                            "bpm": 16 * 60 / (seg["end"] - seg["start"])})
    return out


def crossmix_truth(parts: dict[str, np.ndarray], masks: dict[str, list[str]], beat: int, *, rule=None) -> dict:
    """The activity of one crossmix segment: ``parts`` maps each role put in to its audio (gains
    applied, all one length), ``beat`` is samples per beat. A role is active when its piece sounds
    (the modules' rule, floor and audibility against the mix) on at least ``min_beats`` beats;
    roles left out are 0 unless a sounding piece's stems may play them (masked, None)."""
    from .modules import RULE

    rule = rule or RULE
    db = lambda x: 10 * np.log10(np.maximum(x, 1e-30))  # noqa: E731
    mix = sum(parts.values())
    n = len(mix) // beat
    e_mix = db(np.array([np.mean(mix[b * beat:(b + 1) * beat] ** 2) for b in range(n)]))
    active = {r: 0 for r in ROLES}
    for role, y in parts.items():
        e = db(np.array([np.mean(y[b * beat:(b + 1) * beat] ** 2) for b in range(n)]))
        active[role] = int(np.count_nonzero((e >= rule.floor_db) & (e >= e_mix + rule.mix_db)) >= rule.min_beats)
    for role, y in parts.items():
        if active[role]:
            for r in masks.get(role, []):
                if active[r] != 1:
                    active[r] = None
    return active


def make_crossmixes(*, modules: str | Path, split: str, n: int, out: str | Path, seed: int = 0, segments: int = 8,
                    keep: float = 0.5, tolerance: float = 0.08, gain_db: float = 4.0,
                    annotations: str | Path | None = None, progress: bool = False) -> Path:
    """Write ``n`` crossmixes of the rendered 4/4 modules of ``split``: tracks of ``segments`` 4-bar
    segments at one tempo, each segment a fresh draw of roles (each in with probability ``keep``,
    at least one), each role's piece (:func:`role_pieces`) from a module no other role of the
    segment comes from, within ``tolerance`` of the track's tempo and resampled to it, at its
    module's level within +-``gain_db``. The track's tempo is that of a random piece."""
    import soundfile as sf
    from tqdm import tqdm

    from ..audio import load as load_audio
    from ..errors import AudioError
    from ..io import atomic_path, output_dir, write_text
    from .modules import ANNOTATIONS, SPLITS, read_roles, read_table

    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose train, valid or test")
    if n <= 0 or segments <= 0:
        raise DataError(f"--n and --segments must be positive, got {n} and {segments}")
    folders = sorted(p.parent for p in (Path(modules) / split).glob("*/rows.npz"))
    annotations = annotations or ANNOTATIONS
    table, roles = {e.slug: e for e in read_table(annotations)}, read_roles(annotations)
    pieces = []
    for folder in folders:
        entry = table.get(folder.name)
        if entry is None or entry.split != split or entry.beats_per_bar != 4:
            continue  # excluded, moved since it was rendered, or not in 4/4
        with np.load(folder / "rows.npz") as z:
            rows = {k: z[k] for k in z.files}
        pieces += role_pieces(json.loads((folder / "truth.json").read_text()), rows, roles.get(folder.name, {}), module=folder.name)
    if len({p["module"] for p in pieces}) < 2:
        raise DataError(f"{modules}: crossmixes need rendered 4/4 modules of split {split!r} from at least two modules; "
                        f"render them with 'iram data modules --out {modules}'")
    out = output_dir(out, option="--out", error=DataError)
    rng = np.random.default_rng(seed)
    bpm = np.array([p["bpm"] for p in pieces])
    by_role = {r: np.flatnonzero([p["role"] == r for p in pieces]) for r in ROLES}
    plans = []
    for t in range(n):
        tempo = float(bpm[rng.integers(len(pieces))])
        near = np.abs(bpm / tempo - 1) <= tolerance
        plan = []
        for _ in range(segments):
            while True:
                wanted = [r for r in ROLES if rng.random() < keep and near[by_role[r]].any()]
                if wanted:
                    break
            used, seg = set(), []
            for r in rng.permutation(wanted):
                cand = [i for i in by_role[r] if near[i] and pieces[i]["module"] not in used]
                if cand:
                    i = int(rng.choice(cand))
                    used.add(pieces[i]["module"])
                    seg.append((i, float(rng.uniform(-gain_db, gain_db))))
            plan.append(seg)
        plans.append((tempo, plan))
    # cut only the pieces the plans use, one module's stems at a time
    need = sorted({i for _, plan in plans for seg in plan for i, _ in seg}, key=lambda i: pieces[i]["module"])
    audio: dict[int, np.ndarray] = {}
    for module in tqdm(sorted({pieces[i]["module"] for i in need}), desc="cutting pieces", unit="module", disable=not progress):
        mine = [i for i in need if pieces[i]["module"] == module]
        stems = {}
        for f in sorted({f for i in mine for f in pieces[i]["stems"]}):
            try:
                stems[f] = load_audio(Path(modules) / split / module / f, rates=(RATE,)).at(RATE)
            except AudioError:  # a stem that is silence once mono
                stems[f] = None
        for i in mine:
            p = pieces[i]
            a, b = int(p["start"] * RATE), int(p["end"] * RATE)
            y = np.zeros(b - a, np.float32)
            for f in p["stems"]:
                if stems[f] is not None:
                    s = stems[f][a:b]
                    y[:len(s)] += s
            audio[i] = y
    import librosa

    for t, (tempo, plan) in enumerate(tqdm(plans, desc="crossmixing", unit="track", disable=not progress)):
        beat = int(round(60 / tempo * RATE))
        seg_len = 16 * beat
        y = np.zeros(seg_len * len(plan), np.float32)
        segs, source = [], []
        for k, seg in enumerate(plan):
            parts, masks = {}, {}
            for i, g in seg:
                p = pieces[i]
                x = librosa.resample(audio[i], orig_sr=len(audio[i]), target_sr=seg_len, res_type="soxr_hq")
                parts[p["role"]] = librosa.util.fix_length(x, size=seg_len) * 10 ** (g / 20)
                masks[p["role"]] = p["mask"]
            y[k * seg_len:(k + 1) * seg_len] = sum(parts.values())
            segs.append({"start": round(k * seg_len / RATE, 6), "end": round((k + 1) * seg_len / RATE, 6),
                         "bars": [4 * k + 1, 4 * k + 4], "active": crossmix_truth(parts, masks, beat)})
            source.append([{"module": pieces[i]["module"], "segment": pieces[i]["segment"], "role": pieces[i]["role"],
                            "gain_db": round(g, 2)} for i, g in seg])
        peak = float(np.abs(y).max())
        if peak < 1e-4:
            continue
        beats = [round(b * beat / RATE, 6) for b in range(16 * len(plan))]
        truth = {"roles": list(ROLES), "tempo": round(60 * RATE / beat, 4), "duration": round(len(y) / RATE, 6),
                 "beats": beats, "downbeats": beats[::4], "segments": segs,
                 "activations": [[s["active"][r] for s in segs] for r in ROLES], "source": source}
        name = f"crossmix{t:04d}"
        with atomic_path(out / f"{name}.wav") as tmp:
            sf.write(tmp, y / max(1.0, peak / 0.99), RATE, subtype="PCM_16", format="WAV")
        write_text(out / f"{name}.truth.json", json.dumps(truth))
    return out
