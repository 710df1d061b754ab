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
