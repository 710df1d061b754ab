"""The ``iram`` command: a thin argparse layer over the library.

Heavy imports wait until after argument parsing, so ``iram --help`` is instant.
Every user error is one line on stderr naming the file and the fix, exit 1.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
from pathlib import Path

from . import __version__
from .annotations import SETS
from .benchmark import DEFAULT_OUT
from .choices import DEVICES, MODES
from .export import FORMATS as EXPORT_FORMATS


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="iram", description="Instrumentation role activation maps for electronic music.")
    p.add_argument("--version", action="version", version=f"iram {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", help="analyse tracks: IRAM .npy/.json/.png beside each (or in -o)")
    a.add_argument("paths", nargs="*", help="audio files, folders, glob patterns or .txt lists (one path per line)")
    a.add_argument("--demo", action="store_true", help="also analyse the bundled one-minute demo track (outputs to -o, default .)")
    a.add_argument("-o", "--outdir", help="output folder (default: beside each input)")
    a.add_argument("--model", help="checkpoint to use instead of the bundled one")
    a.add_argument("--device", default="auto", choices=DEVICES)
    a.add_argument("--mode", default="segment", choices=MODES, help="how a segment's frames become one score")
    a.add_argument("--skip-existing", action="store_true", help="skip inputs whose .iram.json exists")
    a.add_argument("--no-plot", action="store_true", help="do not draw the PNG")
    a.add_argument("--export", action="append", choices=EXPORT_FORMATS, default=[], help="also export sections as cues (repeatable)")
    a.add_argument("--export-to", help="target library file for --export (rekordbox XML, Traktor NML, Mixxx DB)")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    a.add_argument("--engine", default="local", choices=("local", "ray"), help="ray: a Ray Data pipeline, on this machine "
                   "or a cluster (needs pip install 'iram[ray]'); writes a catalogue.csv manifest")
    a.add_argument("--address", help="ray: cluster to join (auto or HOST:PORT; default: start a local Ray)")
    a.add_argument("--gpus-per-model", type=float, help="ray: GPUs per role-model actor (default 1 when the cluster has GPUs; "
                   "0.5 packs two on one GPU)")
    a.add_argument("--manifest", help="ray: manifest CSV to append to (default: catalogue.csv in -o, else .)")

    pl = sub.add_parser("plot", help="redraw the PNG from saved .iram.json results (no model needed)")
    pl.add_argument("results", nargs="+")
    pl.add_argument("-o", "--outdir")

    e = sub.add_parser("export", help="write sections as cue points for DJ software")
    e.add_argument("results", nargs="*", help=".iram.json files")
    e.add_argument("--format", choices=EXPORT_FORMATS)
    e.add_argument("-o", "--target", help="library file to create or merge into (rekordbox XML, NML, Mixxx DB) or folder for plain exports")
    e.add_argument("--restore", metavar="TARGET", help="put back the library (or Serato-tagged audio file) as it was before "
                   "iram first wrote to it, from the copy kept in .iram/ beside it")

    t = sub.add_parser("train", help="train a role classifier on dataset folders")
    t.add_argument("--data", action="append", required=True, help="training dataset folder (repeatable)")
    t.add_argument("--valid", required=True, help="validation dataset folder")
    t.add_argument("--test", help="test dataset folder: metrics stored in the checkpoint")
    t.add_argument("--out", required=True, help="checkpoint path to write")
    t.add_argument("--no-harmonic", action="store_true", help="ablation: log-mel front-end instead of harmonic filters")
    t.add_argument("--bands", type=int, default=192, help="front-end bands: harmonic, 2 per semitone from C1 (default 192: "
                   "channel 1 up to Nyquist; 128: harmonic 6 of the top band at Nyquist); log-mel: mel bands (the ablation used 128)")
    t.add_argument("--tracks", action="append", help="folder of annotated tracks (NAME.wav + NAME.truth.json) whose 4-bar segments are trained on too (repeatable)")
    t.add_argument("--valid-tracks", action="append", help="folder of annotated validation tracks: early stopping also counts their segments (repeatable)")
    t.add_argument("--modules", help="folder of rendered tracker modules ('iram data modules --out'): train on their train split's "
                   "segments; early stopping and the thresholds use the valid split's segments alone")
    t.add_argument("--fold", help="K/N: hold out fold K of N of the train modules' packages (with --modules): not trained on, "
                   "scored after training, so N runs score every train module out of fold")
    t.add_argument("--init", help="start from this checkpoint's weights and configuration (fine-tuning)")
    t.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--steps", type=int, default=300, help="batches per epoch")
    t.add_argument("--max-minutes", type=float, default=40.0)
    t.add_argument("--eq-db", type=float, default=0.0, help="random-EQ augmentation strength in dB (default 0: off)")
    t.add_argument("--shift", type=float, default=0.0, help="random pitch-and-formant shift of each crop, up to +-SHIFT semitones (default 0: off)")
    t.add_argument("--master", type=float, default=0.0, help="share of examples sent through a random mastering chain: "
                   "EQ tilt, bus compression, limiter drive, MP3 round trip (default 0: off)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", choices=DEVICES)
    t.add_argument("-q", "--quiet", action="store_true")

    b = sub.add_parser("benchmark", help="score maps against annotations")
    b.add_argument("--set", required=True, dest="set_name", help=" or ".join(SETS))
    b.add_argument("dir", nargs="?", help="composed: folder of tracks (default: generate a small set); custom: annotation folder; "
                   "modules: the folder 'iram data modules --out' rendered to")
    b.add_argument("--split", default="test", choices=("train", "valid", "test", "all"), help="modules: which split to score (default test)")
    b.add_argument("--audio", help="drysdale2022: folder with the user's copies of the ten tracks")
    b.add_argument("--annotations", help="drysdale2022: annotation folder (default ../shared/annotations/drysdale2022)")
    b.add_argument("--predictions", help="reuse saved .iram.json results from this folder")
    b.add_argument("--model", help="checkpoint to use instead of the bundled one")
    b.add_argument("--n", type=int, default=10, help="composed: tracks to generate when no folder is given")
    b.add_argument("--out", default=str(DEFAULT_OUT), help=f"where JSON and Markdown results go (default: ./{DEFAULT_OUT})")
    b.add_argument("-q", "--quiet", action="store_true")

    tg = sub.add_parser("tag", help="tag loops and one-shots with roles, tempo and bars: a table, or the files' own metadata")
    tg.add_argument("paths", nargs="+", help="audio files, folders (searched recursively) or glob patterns")
    tg.add_argument("-o", "--out", help="tag table to write, .csv or .json (default: CSV on stdout)")
    tg.add_argument("--write-tags", action="store_true", help="also write the roles into each file's metadata (audio samples unchanged)")
    tg.add_argument("--skip-existing", action="store_true", help="keep files already in the -o table (or, with --write-tags, already tagged) as they are")
    tg.add_argument("--read", action="store_true", help="no model: read the tags that --write-tags stored in the files")
    tg.add_argument("--no-tempo", action="store_true", help="skip the beat tracker (faster; no bpm or bars)")
    tg.add_argument("--model", help="checkpoint to use instead of the bundled one")
    tg.add_argument("--device", default="auto", choices=DEVICES)
    tg.add_argument("--jobs", type=int, default=2, help="threads decoding and beat-tracking ahead of the model (default 2)")
    tg.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    fd = sub.add_parser("find", help="print the paths of tagged loops that match, one per line")
    fd.add_argument("source", nargs="+", help="a tag table (.csv/.json from iram tag) or audio files/folders tagged with --write-tags")
    fd.add_argument("--role", action="append", default=[], help="role that must be on (repeatable)")
    fd.add_argument("--not", dest="not_roles", action="append", default=[], help="role that must be off (repeatable)")
    fd.add_argument("--tempo", help="tempo range LOW-HIGH in BPM (e.g. 120-130), or one tempo (within 0.5 BPM)")

    d = sub.add_parser("data", help="make role-labelled training material")
    dsub = d.add_subparsers(dest="what", required=True)
    lo = dsub.add_parser("loops", help="mixed multi-role loops + labels.csv")
    lo.add_argument("--n", type=int, required=True)
    lo.add_argument("--split", required=True)
    lo.add_argument("--out", required=True)
    lo.add_argument("--seed", type=int, default=0)
    lo.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    lo.add_argument("-q", "--quiet", action="store_true")
    tr = dsub.add_parser("tracks", help="composed tracks with ground truth")
    tr.add_argument("--n", type=int, required=True)
    tr.add_argument("--out", required=True)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--split", default="test", help="sources to use (default test: never heard in training)")
    tr.add_argument("--jobs", type=int, default=1)
    tr.add_argument("-q", "--quiet", action="store_true")
    mo = dsub.add_parser("modules", help="Debian's tracker modules: mix, stems, exact grid and role truth per module")
    mo.add_argument("--out", required=True, help="folder: OUT/<split>/<slug>/{mix.flac,stems/,truth.json}")
    mo.add_argument("--split", default="all", choices=("train", "valid", "test", "all"))
    mo.add_argument("--jobs", type=int, default=1)
    mo.add_argument("--annotations", help="folder with modules.csv and roles.json (default: annotations/modules of this checkout)")
    mo.add_argument("--truth-only", action="store_true", help="re-make truth.json of rendered modules from the tables; render nothing")
    mo.add_argument("-q", "--quiet", action="store_true")

    def from_modules(name: str, help: str, split_help: str = "modules of this split") -> argparse.ArgumentParser:
        """A data command that makes annotated tracks from rendered modules: its shared options."""
        q = dsub.add_parser(name, help=help)
        q.add_argument("--modules", required=True, help="folder the modules were rendered to ('iram data modules --out')")
        q.add_argument("--split", required=True, choices=("train", "valid", "test"), help=split_help)
        q.add_argument("--out", required=True)
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("-q", "--quiet", action="store_true")
        return q

    rx = from_modules("remix", "real stems of rendered modules re-mixed with whole roles left out (annotated tracks)")
    rx.add_argument("--per-module", type=int, default=2, help="remixes of each module (default 2)")
    rx.add_argument("--drop", type=float, default=0.4, help="chance that each role is left out of a remix (default 0.4)")
    cx = from_modules("crossmix", "role pieces of rendered modules' stems mixed across modules at one tempo (annotated tracks)")
    cx.add_argument("--n", type=int, default=100, help="crossmixes to write (default 100)")
    cx.add_argument("--segments", type=int, default=8, help="4-bar segments in each (default 8)")
    vo = from_modules("voiceover", "recorded voices over instrumental 4-bar segments of rendered modules (annotated tracks)",
                      "modules and speakers of this split")
    vo.add_argument("--n", type=int, required=True)
    return p


def expand(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Files, folders (recursively), glob patterns and .txt lists of paths, in order; and a
    one-line error for each folder that holds no audio (a folder named ``x.wav`` among ``*.wav`` included)."""
    from .audio import find_audio
    from .errors import AudioError

    out: list[Path] = []
    errors: list[str] = []
    for p in paths:
        if p.lower().endswith(".txt") and os.path.isfile(p):
            from .catalogue import read_list

            hits = [str(f) for f in read_list(p)]
        else:
            hits = sorted(glob.glob(p, recursive=True)) if not os.path.lexists(p) and any(c in p for c in "*?[") else [p]
        for h in hits or [p]:
            try:
                out += find_audio([h])
            except AudioError as err:
                errors.append(str(err))
    return out, errors


def _err(msg: str) -> None:
    print(f"iram: error: {msg}", file=sys.stderr)


def cmd_analyze(args) -> int:
    from tqdm import tqdm

    from .analyze import analyze_file
    from .errors import IramError
    from .model import load, pick_device
    from .result import output_paths, unique_outputs

    if not args.paths and not args.demo:
        _err("no input: give audio files, folders or globs, or --demo for the bundled demo track")
        return 2
    if args.export_to and not args.export:
        _err(f"--export-to {args.export_to} without --export: say which format to write, e.g. --export rekordbox")
        return 2
    ray_only = [o for o, v in (("--address", args.address), ("--gpus-per-model", args.gpus_per_model), ("--manifest", args.manifest))
                if v is not None]
    if args.engine == "local" and ray_only:
        _err(f"{ray_only[0]} is for --engine ray; add --engine ray or leave it out")
        return 2
    if args.engine == "ray" and args.export:
        _err("--export with --engine ray: export afterwards with 'iram export --format FORMAT OUTDIR/*.iram.json'")
        return 2
    files, bad = expand(args.paths)
    if args.demo:
        from importlib.resources import files as package_files

        files.append(Path(str(package_files("iram").joinpath("demo/iram-demo.flac"))))
        args.outdir = args.outdir or "."  # not beside the demo, inside the installed package
    bad += [f"{f}: no such file; check the path" for f in files if not f.is_file()]
    files, clashes = unique_outputs([f for f in files if f.is_file()], outdir=args.outdir)
    for msg in bad + clashes:
        _err(msg)
    if not files:
        return 1
    if args.outdir:
        from .io import output_dir

        output_dir(args.outdir)
    if args.engine == "ray":
        return 1 if _analyze_on_ray(args, files) or bad or clashes else 0
    if not args.no_plot:  # matplotlib takes ~1 s to import: let it load on a spare core while madmom runs
        import importlib
        import threading

        threading.Thread(target=importlib.import_module, args=("matplotlib.pyplot",), daemon=True).start()
    model = load(args.model, device=pick_device(args.device))
    from .export import LIBRARY_FORMATS, export

    failed, for_libraries = len(bad) + len(clashes), []

    def report(lines: list[str]) -> None:
        for line in lines if not args.quiet else []:
            print(line, file=sys.stderr)

    for f in tqdm(files, desc="analyse", unit="track", disable=args.quiet or len(files) < 2, file=sys.stderr):
        try:
            a = analyze_file(f, outdir=args.outdir, model=model, mode=args.mode, plot=not args.no_plot,
                             skip_existing=args.skip_existing)
            if a is None:
                continue
            paths = output_paths(f, args.outdir)
            for fmt in args.export:  # a library is written once, after the batch
                if fmt not in LIBRARY_FORMATS:
                    report(export([a], fmt, args.export_to or paths["json"].parent, option="--export-to"))
            if set(args.export) & set(LIBRARY_FORMATS):
                for_libraries.append((a, paths["json"].parent))
            if a.segments and a.segments[0].partial and len(a.segments) == 1:
                print(f"iram: warning: {f}: shorter than 4 bars at {a.bpm:.1f} BPM; one partial segment", file=sys.stderr)
            if not args.quiet and len(files) < 2:
                print(f"{f}: {a.bpm:.1f} BPM, {len(a.segments)} segments, {len(a.sections)} sections -> {paths['json']}", file=sys.stderr)
        except IramError as err:
            failed += 1
            _err(str(err))
    for fmt in (f for f in dict.fromkeys(args.export) if f in LIBRARY_FORMATS):
        groups: dict = {}
        for a, folder in for_libraries:
            groups.setdefault(args.export_to or folder, []).append(a)
        for target, results in groups.items():
            try:
                report(export(results, fmt, target, option="--export-to"))
            except IramError as err:
                failed += 1
                _err(str(err))
    return 1 if failed else 0


def _analyze_on_ray(args, files: list[Path]) -> int:
    """``--engine ray``: returns the number of failed tracks."""
    from .catalogue import analyze_catalogue, import_ray

    import_ray()  # one line naming the fix, before the model loads
    run = analyze_catalogue(files, outdir=args.outdir, model=args.model, mode=args.mode, plot=not args.no_plot,
                            skip_existing=args.skip_existing, manifest=args.manifest, address=args.address,
                            gpus_per_model=args.gpus_per_model, device=args.device, progress=not args.quiet)
    if not args.quiet:
        print(f"{run.done} analysed, {run.failed} failed, {run.skipped} skipped; manifest {run.manifest}", file=sys.stderr)
    return run.failed


def cmd_plot(args) -> int:
    from .errors import IramError
    from .plots import plot_analysis
    from .result import load_results, plot_path

    failed = 0
    for r in args.results:
        try:
            plot_analysis(load_results(r), plot_path(r, args.outdir))
        except IramError as err:
            failed += 1
            _err(str(err))
    return 1 if failed else 0


def cmd_export(args) -> int:
    from .errors import IramError
    from .export import LIBRARY_FORMATS, export, restore
    from .result import load_results

    if args.restore:
        if args.results or args.target:
            _err("--restore takes only the library (or audio file) to restore; give no results and no -o")
            return 2
        print(restore(args.restore))
        return 0
    if not args.results or not args.format:
        _err("give .iram.json results and --format (or --restore TARGET)")
        return 2
    results = [load_results(r) for r in args.results]
    target = args.target or Path(args.results[0]).parent
    if args.format in LIBRARY_FORMATS:  # one library, written once for the whole batch
        batches = [results]
    else:  # each file on its own: a bad one is reported and the rest still written
        batches = [[a] for a in results]
    failed = 0
    for batch in batches:
        try:
            for line in export(batch, args.format, target):
                print(line)
        except IramError as err:
            if len(batches) == 1:
                raise
            failed += 1
            _err(str(err))
    return 1 if failed else 0


def cmd_train(args) -> int:
    from .errors import DataError
    from .features import FrontEndConfig
    from .model import ModelConfig
    from .train import TrainConfig, train

    fold = None
    if args.fold:
        try:
            k, n = map(int, args.fold.split("/"))
        except ValueError:
            raise DataError(f"--fold {args.fold}: give it as K/N, e.g. 1/3") from None
        fold = (k, n)
    cfg = TrainConfig(epochs=args.epochs, steps_per_epoch=args.steps, max_minutes=args.max_minutes, seed=args.seed,
                      lr=args.lr, eq_db=args.eq_db, shift=args.shift, master=args.master)
    mcfg = ModelConfig(front=FrontEndConfig(harmonic=not args.no_harmonic, n_bands=args.bands))
    r = train(args.data, args.valid, args.out, model_cfg=mcfg, cfg=cfg, device=args.device, test_dir=args.test,
              tracks=args.tracks, valid_tracks=args.valid_tracks, modules=args.modules, init=args.init, fold=fold,
              progress=not args.quiet)
    m = r["metrics"].get("test", r["metrics"]["valid"])["macro"]
    print(f"{args.out}: macro ROC-AUC {m['roc_auc']:.4f}, PR-AUC {m['pr_auc']:.4f}, F1 {m['f1']:.4f} "
          f"({'test' if 'test' in r['metrics'] else 'valid'}), {r['training']['minutes']:.1f} min")
    return 0


def cmd_benchmark(args) -> int:
    from .benchmark import run_benchmark

    run_benchmark(args.set_name, folder=args.dir, audio=args.audio, annotations=args.annotations, predictions=args.predictions,
                  model=args.model, n=args.n, out=args.out, split=args.split, quiet=args.quiet)
    return 0


def cmd_tag(args) -> int:
    from .tagtable import format_table, tag_library

    files, bad = expand(args.paths)
    for msg in bad:
        _err(msg)
    tags, failed = tag_library(files, out=args.out, write=args.write_tags, skip_existing=args.skip_existing, read=args.read,
                               model=args.model, device=args.device, tempo=not args.no_tempo, jobs=args.jobs,
                               progress=not args.quiet, on_error=_err)
    if args.out is None:
        sys.stdout.write(format_table(tags, "csv"))
    elif not args.quiet:
        print(f"iram: {len(tags)} files tagged -> {args.out}" + (f"; {failed} failed" if failed else ""), file=sys.stderr)
    return 1 if failed or bad else 0


def cmd_find(args) -> int:
    from .tagtable import Query, find, load_tags, parse_tempo

    query = Query(with_roles=tuple(args.role), without_roles=tuple(args.not_roles),
                  tempo=parse_tempo(args.tempo) if args.tempo else None)
    bad: list[str] = []

    def files_of(paths: list[str]) -> list[Path]:
        files, errors = expand(paths)
        bad.extend(errors)
        return files

    tags, failed = load_tags(args.source, expand=files_of, on_error=_err)
    for msg in bad:
        _err(msg)
    for t in find(tags, query):
        print(t.path)
    return 1 if failed or bad else 0


def cmd_data(args) -> int:
    if args.what == "modules":
        from .data.modules import ANNOTATIONS, make_modules, report

        res = make_modules(out=args.out, split=args.split, jobs=args.jobs, annotations=args.annotations or ANNOTATIONS,
                           truth_only=args.truth_only, progress=not args.quiet)
        print(report(res))
        return 1 if any("error" in r for r in res) else 0
    if args.what == "remix":
        from .data.remix import make_remixes

        make_remixes(modules=args.modules, split=args.split, per_module=args.per_module, drop=args.drop, out=args.out,
                     seed=args.seed, progress=not args.quiet)
        return 0
    if args.what == "crossmix":
        from .data.remix import make_crossmixes

        make_crossmixes(modules=args.modules, split=args.split, n=args.n, segments=args.segments, out=args.out,
                        seed=args.seed, progress=not args.quiet)
        return 0
    if args.what == "voiceover":
        from .data.voiceover import make_voiceovers

        make_voiceovers(modules=args.modules, split=args.split, n=args.n, out=args.out, seed=args.seed)
        return 0
    if args.what == "loops":
        from .data.loops import make_loops

        make_loops(n=args.n, split=args.split, out=args.out, seed=args.seed, jobs=args.jobs, progress=not args.quiet)
    else:
        from .data.tracks import make_tracks

        make_tracks(n=args.n, out=args.out, seed=args.seed, split=args.split, jobs=args.jobs, progress=not args.quiet)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    import signal
    import warnings

    from .errors import IramError

    handler = {"analyze": cmd_analyze, "plot": cmd_plot, "export": cmd_export, "train": cmd_train,
               "benchmark": cmd_benchmark, "data": cmd_data, "tag": cmd_tag, "find": cmd_find}[args.command]
    try:  # SIGTERM unwinds like Ctrl-C, so temporary files are removed and outputs stay whole
        old_term = signal.signal(signal.SIGTERM, signal.default_int_handler)
    except ValueError:  # not the main thread: leave signals to the caller
        old_term = None
    try:
        with warnings.catch_warnings():
            # the one-line promise: library warnings (decoders, matplotlib, madmom) are not the user's business
            warnings.simplefilter("ignore")
            return handler(args)
    except IramError as err:
        _err(str(err))
        return 1
    except KeyboardInterrupt:
        _err("interrupted; outputs written so far are complete")
        return 130
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


if __name__ == "__main__":
    sys.exit(main())
