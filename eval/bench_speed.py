"""Speed and memory of `iram analyze`, stage by stage, beside madmom alone.

Usage: python eval/bench_speed.py [--minutes 5] [--mix-minutes 60] [--out eval/results/speed.json]

Takes a composed track (test-split sources) of --minutes, times each stage of the analysis on it, times madmom's downbeat
tracking alone on the same file in the same run, and measures the peak memory
(max RSS) of a whole `iram analyze` on a --mix-minutes mix (composed tracks
chained, so the tempo changes as in a DJ mix) in a subprocess.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def chain_tracks(minutes: float, folder: Path, seed: int = 50) -> Path:
    from iram.data.tracks import OUT_SR, compose

    parts, total, i = [], 0.0, 0
    while total < minutes * 60:
        audio, _ = compose(i, seed=seed)
        parts.append(audio)
        total += len(audio) / OUT_SR
        i += 1
    y = np.concatenate(parts)[: int(minutes * 60 * OUT_SR)]
    path = folder / f"chain_{minutes:g}min.flac"
    sf.write(path, y, OUT_SR)
    return path


def one_track(minutes: float, folder: Path, seed: int = 50) -> Path:
    """A composed techno track (test-split sources) of ``minutes`` at one tempo, like a
    single released track (a chain of tracks, below, is a DJ mix instead)."""
    from iram.data.tracks import OUT_SR, compose

    cycle = [("intro", {"percussion", "fx"}), ("build-up", {"chord", "melody", "fx"}),
             ("drop", {"percussion", "bass", "melody", "voice"}), ("breakdown", {"chord", "voice"})]
    plan = [(label, 16, [roles] * 4) for label, roles in cycle * int(minutes * 2)]  # 16 bars at ~128 BPM: 30 s
    audio, _ = compose(0, seed=seed, genre="techno", plan=plan)
    if len(audio) < minutes * 60 * OUT_SR:
        raise SystemExit(f"the composed track is shorter than {minutes} minutes")
    path = folder / f"track_{minutes:g}min.flac"
    sf.write(path, audio[: int(minutes * 60 * OUT_SR)], OUT_SR)
    return path


def stages(path: Path) -> dict:
    from iram.result import Analysis
    from iram import audio
    from iram.beats import FPS, from_activations, rnn_activations, spectral_curves
    from iram.activations import frame_features, score_segments
    from iram.model import load
    from iram.plots import plot_analysis
    from iram.sections import find_sections
    from iram.segments import bar_grid, bar_means, make_segments, novelty, phrase_offset

    t = {}
    s = time.perf_counter(); model = load(); t["load model"] = time.perf_counter() - s
    s = time.perf_counter(); au = audio.load(path, rates=(44100, 16000)); t["decode"] = time.perf_counter() - s
    y16 = au.at(16000)
    s = time.perf_counter()
    low, bands = spectral_curves(y16)
    bt = from_activations(rnn_activations(au.at(44100)), duration=au.duration, low=low, bands=bands)
    t["beats"] = time.perf_counter() - s
    s = time.perf_counter()
    z, fps = frame_features(model.net, y16)
    t["features+model frames"] = time.perf_counter() - s
    s = time.perf_counter()
    dur = len(y16) / 16000
    g = bar_grid(bt.downbeats, dur)
    off = phrase_offset(novelty(bar_means(bands, g, FPS)))  # as iram.analyze does
    segs = make_segments(bt.downbeats, dur, off)
    iram = score_segments(model.net, z, fps, [(x.start, x.end) for x in segs])
    secs = find_sections(iram, model.thresholds, segs)
    t["segments+scoring+sections"] = time.perf_counter() - s
    a = Analysis(str(path), dur, bt.bpm, bt.beats, bt.downbeats, tuple(segs), iram, model.thresholds, tuple(secs), {"name": model.name})
    with tempfile.TemporaryDirectory() as d:
        s = time.perf_counter(); plot_analysis(a, Path(d) / "x.png", audio=y16); t["plot"] = time.perf_counter() - s
    t["model scoring of all segments (frames + pooling)"] = t["features+model frames"] + t["segments+scoring+sections"]
    t["n_segments"] = len(segs)
    return t


def madmom_alone(path: Path) -> float:
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

    s = time.perf_counter()
    act = RNNDownBeatProcessor()(str(path))
    DBNDownBeatTrackingProcessor(beats_per_bar=[4], fps=100)(act)
    return time.perf_counter() - s


def whole(path: Path, outdir: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `iram analyze` in a child process; the child
    reports its own peak (RUSAGE_CHILDREN would give the largest child of this run)."""
    code = ("import resource, sys; from iram.cli import main; rc = main(sys.argv[1:]); "
            "print('maxrss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)")
    s = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code, "analyze", str(path), "-o", str(outdir), "-q"], capture_output=True, text=True)
    wall = time.perf_counter() - s
    if r.returncode:
        raise SystemExit(r.stderr)
    return wall, int(r.stdout.split("maxrss_kb")[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--mix-minutes", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3, help="madmom-alone and iram-analyze runs, medians reported")
    ap.add_argument("--out", default="eval/results/speed.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        res = {}
        if args.mix_minutes:
            # first, while this process is small: a child's peak RSS counts what it inherits before exec,
            # so the mix is composed in another child and measured before the stages below fill memory
            make = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); from bench_speed import chain_tracks; " \
                   f"from pathlib import Path; chain_tracks({args.mix_minutes}, Path({str(d)!r}), seed=51)"
            subprocess.run([sys.executable, "-c", make], check=True)
            mwall, rss = whole(d / f"chain_{args.mix_minutes:g}min.flac", d)
            res.update(mix_minutes=args.mix_minutes, mix_wall_s=mwall, mix_peak_rss_mb=rss)
        import torch

        track = one_track(args.minutes, d)
        st = stages(track)
        runs = [(madmom_alone(track), whole(track, d)[0]) for _ in range(args.repeat)]  # side by side, in turns
        mm, wall = (float(np.median(v)) for v in zip(*runs))
        res = {"track_minutes": args.minutes, "stages_s": st, "repeats": args.repeat, "madmom_alone_s": mm,
               "iram_analyze_wall_s": wall, "ratio_iram_to_madmom": wall / mm, "runs": runs,
               "torch_threads": torch.get_num_threads(), **res}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
