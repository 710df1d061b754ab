"""Beat, downbeat and tempo scores of iram's corrections on composed tracks, per track.

For tuning the constants of ``iram/beats.py``: run it on tracks composed from the
*validation* sources only (``iram data tracks --split valid``), never on the test
tracks that the benchmark reports. madmom's activations and the spectral curves
are cached beside each track (``NAME.act.npz``), so a rerun after changing the
corrections takes seconds.

    python eval/tune_beats.py work/tune work/tune2
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import mir_eval
import numpy as np


def cached_inputs(wav: Path) -> dict:
    cache = wav.with_suffix(".act.npz")
    if not cache.exists():
        from iram import audio, beats

        au = audio.load(wav, rates=(beats.SR, 16000))
        low, bands = beats.spectral_curves(au.at(16000))
        act = beats.activations(au.at(beats.SR))
        np.savez(cache, act=act, low=low, bands=bands, duration=au.duration)
    d = np.load(cache)
    return {k: d[k] for k in d.files}


def truth_of(wav: Path) -> dict:
    """The ground truth saved beside a composed track."""
    return json.loads(wav.with_name(wav.name.replace(".wav", ".truth.json")).read_text())


def score_track(wav: Path) -> dict:
    from iram import beats

    truth = truth_of(wav)
    d = cached_inputs(wav)
    b = beats.from_activations(d["act"], float(d["duration"]), d["low"], d["bands"])
    ref_b, ref_d = (mir_eval.beat.trim_beats(np.array(truth[k])) for k in ("beats", "downbeats"))
    return {
        "track": wav.stem, "genre": truth["genre"], "lead_in": truth["lead_in"], "tempo": truth["tempo"],
        "bpm": round(b.bpm, 2), "fixed": b.fixed_grid,
        "tempo_1pc": abs(b.bpm / truth["tempo"] - 1) < 0.01,
        "beat_f": mir_eval.beat.f_measure(ref_b, mir_eval.beat.trim_beats(b.beats)),
        "downbeat_f": mir_eval.beat.f_measure(ref_d, mir_eval.beat.trim_beats(b.downbeats)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="+", help="folders of composed tracks (validation sources)")
    args = ap.parse_args()
    import pandas as pd

    from iram.data.tracks import refuse_held_out

    refuse_held_out(args.folders)
    wavs = sorted(w for f in args.folders for w in Path(f).glob("track_*.wav"))
    df = pd.DataFrame([score_track(w) for w in wavs])
    df["track"] = [f"{w.parent.name}/{w.stem}" for w in wavs]
    pd.set_option("display.width", 200)
    print(df.round(3).to_string(index=False))
    print(f"\n{len(df)} tracks: tempo within 1% {df.tempo_1pc.mean():.3f}, beat F {df.beat_f.mean():.3f}, "
          f"downbeat F {df.downbeat_f.mean():.3f}")


if __name__ == "__main__":
    main()
