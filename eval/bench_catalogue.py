"""Catalogue throughput: `iram analyze` with the local engine, and with the Ray engine on a
local Ray of 1 and of 2 CPUs (workers), on the same composed tracks, in one run.

Usage: python eval/bench_catalogue.py [--n 20] [--bars 32] [--out eval/results/bench_catalogue.json]

Each engine runs in its own fresh process, as a user would start it (the local engine through
the CLI; Ray through iram.catalogue.analyze_catalogue, which the CLI calls, to set its CPUs), and
writes every output, PNG included. A track counts as finished when its last output (the PNG)
is written, so both engines are timed the same way, from their outputs' modification times:

- tracks/min: tracks over the wall time from starting the process to the last output;
- steady tracks/min: from the first finished track to the last (start-up left out);
- start-up: process start to the first finished track (Ray: starting Ray, its workers and the
  model actor, plus one track);
- CPU s/track: CPU time (user + system) of the process and every process under it (Ray's
  own: GCS, raylet, agents, workers), sampled twice a second, over the tracks;
- overhead per track: the Ray engine's minus the local engine's, in wall seconds (and
  steady-state seconds) per track, and in CPU seconds per track.

The machine's load average is recorded before and after each engine. On a shared machine the
numbers are under contention and vary from run to run; wall times then also favour the engine
with more processes (each gets its share of the cores), CPU seconds much less so.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_tracks(folder: Path, n: int, bars: int, seed: int = 60) -> list[Path]:
    """``n`` composed tracks (test-split sources) of ``bars`` bars each: intro, drop, breakdown."""
    from iram.data.tracks import compose, save_track

    q = bars // 4
    plan = [("intro", 4 * (q // 4), [{"percussion", "chord"}] * (q // 4)),
            ("drop", 4 * (q - 2 * (q // 4)), [{"percussion", "bass", "melody", "voice"}] * (q - 2 * (q // 4))),
            ("breakdown", 4 * (q // 4), [{"chord", "fx"}] * (q // 4))]
    plan = [p for p in plan if p[1]]
    paths = []
    for i in range(n):
        audio, truth = compose(i, seed=seed, plan=plan)
        paths.append(save_track(audio, truth, folder / f"track_{i:03d}.flac"))
    return paths


def cpu_seconds(proc: subprocess.Popen, every: float = 0.5) -> float:
    """Wait for ``proc``; CPU seconds (user + system) used by it and all processes under it."""
    import psutil

    root = psutil.Process(proc.pid)
    seen: dict[int, float] = {}
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in procs:
            try:
                t = p.cpu_times()
                seen[p.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                pass
        time.sleep(every)
    proc.wait()
    return sum(seen.values())


def run_engine(engine: str, tracks: Path, out: Path) -> dict:
    """Run one engine in a fresh process; times from its outputs."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    if engine == "local":
        cmd = [sys.executable, "-m", "iram", "analyze", str(tracks), "-o", str(out), "-q"]
    else:
        workers = int(engine.split(":")[1])
        code = ("import sys; from pathlib import Path; from iram.catalogue import analyze_catalogue; "
                f"r = analyze_catalogue(sorted(Path({str(tracks)!r}).glob('*.flac')), outdir={str(out)!r}, "
                f"num_cpus={workers}, progress=False); sys.exit(1 if r.failed else 0)")
        cmd = [sys.executable, "-c", code]
    load_before = os.getloadavg()
    t0 = time.time()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        cpu = cpu_seconds(proc)
        t_end = time.time()
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{engine} failed:\n{err.read()[-3000:]}")
    done = sorted(p.stat().st_mtime for p in out.glob("*.iram.png"))
    n = len(done)
    wall = done[-1] - t0
    return {"engine": engine, "tracks": n, "wall_s": round(wall, 2), "process_s": round(t_end - t0, 2),
            "startup_s": round(done[0] - t0, 2), "tracks_per_min": round(60 * n / wall, 2), "cpu_s": round(cpu, 1),
            "cpu_s_per_track": round(cpu / n, 2),
            "steady_tracks_per_min": round(60 * (n - 1) / (done[-1] - done[0]), 2),
            "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="tracks (default 20)")
    ap.add_argument("--bars", type=int, default=32, help="bars per track (default 32: about a minute)")
    ap.add_argument("--engines", default="local,ray:1,ray:2")
    ap.add_argument("--out", default="eval/results/bench_catalogue.json")
    args = ap.parse_args()
    import ray

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "tracks").mkdir()
        t = time.time()
        paths = make_tracks(tmp / "tracks", args.n, args.bars)
        import soundfile as sf

        minutes = sum(sf.info(p).duration for p in paths) / 60
        print(f"{len(paths)} tracks, {minutes:.1f} min of audio, made in {time.time() - t:.0f} s", file=sys.stderr)
        results = []
        for engine in args.engines.split(","):
            out = tmp / engine.replace(":", "-")
            out.mkdir()
            results.append(run_engine(engine, tmp / "tracks", out))
            print(json.dumps(results[-1]), file=sys.stderr)
    local = next((r for r in results if r["engine"] == "local"), None)
    for r in results:
        if local is not None and r is not local:
            r["overhead_s_per_track"] = round((r["wall_s"] - local["wall_s"]) / r["tracks"], 2)
            r["steady_overhead_s_per_track"] = round(60 / r["steady_tracks_per_min"] - 60 / local["steady_tracks_per_min"], 2)
            r["cpu_overhead_s_per_track"] = round(r["cpu_s_per_track"] - local["cpu_s_per_track"], 2)
    report = {"n_tracks": args.n, "bars": args.bars, "audio_minutes": round(minutes, 2), "cpus": os.cpu_count(),
              "ray": ray.__version__, "python": platform.python_version(),
              "note": "shared machine: numbers under contention (load averages recorded per engine)", "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print("| engine | tracks/min | steady tracks/min | start-up s | CPU s/track | overhead s/track: wall (steady), CPU "
          "| load before -> after |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        oh = (f"{r['overhead_s_per_track']} ({r['steady_overhead_s_per_track']}), {r['cpu_overhead_s_per_track']}"
              if "overhead_s_per_track" in r else "-")
        print(f"| {r['engine']} | {r['tracks_per_min']} | {r['steady_tracks_per_min']} | {r['startup_s']} | "
              f"{r['cpu_s_per_track']} | {oh} | {r['load_before'][0]} -> {r['load_after'][0]} |")


if __name__ == "__main__":
    main()
