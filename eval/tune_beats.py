"""Beat, downbeat and tempo scores of iram's reading and of madmom's DBN alone, per track.

For choosing the settings of ``iram/beats/reading.py``: run it on the *train* and *valid*
modules (``work/modules/{train,valid}``-style folders of ``<slug>/mix.flac`` +
``truth.json``) and on composed tracks from the training or validation sources
(``iram data tracks --split valid``), never on a test split. madmom's activations, its
DBN decoding and the spectral curves are cached beside each track (``*.act.npz``), so a
rerun after changing the reading takes seconds.

    python eval/tune_beats.py DATA/modules/valid work/cvalid
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import mir_eval
import numpy as np


def track_files(folders) -> list[tuple[Path, Path]]:
    """(audio, truth) of every track in ``folders``: composed ``track_*.wav`` beside
    ``*.truth.json``, or module folders ``<slug>/mix.flac`` with ``truth.json``."""
    out = []
    for f in map(Path, folders):
        out += [(w, w.with_name(w.name.replace(".wav", ".truth.json"))) for w in sorted(f.glob("track_*.wav"))]
        out += [(m, m.with_name("truth.json")) for m in sorted(f.glob("*/mix.flac")) if m.with_name("truth.json").exists()]
    return out


def cached_inputs(audio_path: Path) -> dict:
    """madmom's activations and DBN decoding, the spectral curves and the duration of a track,
    computed once and kept in ``<audio>.act.npz``."""
    cache = audio_path.with_name(audio_path.name + ".act.npz")
    if not cache.exists():
        from iram import audio
        from iram.beats import curves, madmom_adapter

        au = audio.load(audio_path, rates=(madmom_adapter.SR, 16000))
        low, bands = curves.spectral_curves(au.at(16000))
        act = madmom_adapter.rnn_activations(au.at(madmom_adapter.SR))
        np.savez(cache, act=act, low=low, bands=bands, duration=au.duration, decoded=madmom_adapter.dbn_decode(act))
    d = np.load(cache)
    return {k: d[k] for k in d.files}


def refuse_held_out(folders) -> None:
    """Exit if a folder is a test split of modules or holds composed tracks made from
    test-split sources: nothing may be fitted or chosen on them."""
    from iram.data.tracks import refuse_held_out as refuse_composed

    for f in map(Path, folders):
        if f.name == "test":
            raise SystemExit(f"{f}: a test split; tune only on train and valid data")
    refuse_composed(folders)


def beat_scores(truth: dict, beats: np.ndarray, downbeats: np.ndarray) -> dict:
    ref_b, ref_d = (mir_eval.beat.trim_beats(np.array(truth[k], float)) for k in ("beats", "downbeats"))
    tempo = float(truth.get("tempo", truth.get("bpm", 0)))
    from iram.beats.reading import bpm_of

    bpm = bpm_of(beats)
    return {"bpm": round(bpm, 2), "tempo_4pc": abs(bpm / tempo - 1) < 0.04 if tempo else None,
            "beat_f": mir_eval.beat.f_measure(ref_b, mir_eval.beat.trim_beats(np.asarray(beats))),
            "downbeat_f": mir_eval.beat.f_measure(ref_d, mir_eval.beat.trim_beats(np.asarray(downbeats)))}


def score_track(audio_path: Path, truth_path: Path, params: dict | None = None) -> dict:
    """iram's and madmom's scores on one track (``params``: reading settings to try)."""
    from iram.beats import from_activations

    truth = json.loads(truth_path.read_text())
    d = cached_inputs(audio_path)
    b = from_activations(d["act"], duration=float(d["duration"]), low=d["low"], bands=d["bands"],
                         decoded=d["decoded"], params=params)
    name = audio_path.parent.name if audio_path.name == "mix.flac" else audio_path.stem
    iram = beat_scores(truth, b.beats, b.downbeats)
    mm = beat_scores(truth, b.madmom_beats, b.madmom_downbeats)
    return {"track": name, "tempo": truth.get("tempo", truth.get("bpm")), **iram,
            **{f"madmom_{k}": v for k, v in mm.items()}, **{f"check_{k}": v for k, v in b.checks.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="+", help="folders of train/valid modules or composed tracks")
    args = ap.parse_args()
    import pandas as pd

    refuse_held_out(args.folders)
    df = pd.DataFrame([score_track(a, t) for a, t in track_files(args.folders)])
    pd.set_option("display.width", 250)
    print(df.round(3).to_string(index=False))
    print(f"\n{len(df)} tracks            beat F  downbeat F  tempo within 4%")
    for who, p in (("iram", ""), ("madmom DBN alone", "madmom_")):
        print(f"{who:>20s}  {df[p + 'beat_f'].mean():.3f}   {df[p + 'downbeat_f'].mean():.3f}       "
              f"{df[p + 'tempo_4pc'].mean():.3f}")


if __name__ == "__main__":
    main()
