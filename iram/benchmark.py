"""Score IRAMs against annotations.

Each ground-truth segment is compared with the time-overlap-weighted mean of
the predicted probabilities of the segments that overlap it; metrics pool all
annotated segments of a set (scikit-learn), plus tempo, beat and downbeat
F-measure and section-boundary hit rates (mir_eval) where the annotation has them.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from .annotations import DRYSDALE_MAPPINGS, SETS, Truth
from .errors import AnnotationError
from .evaluate import classification_scores
from .roles import ROLES

TRACKER_KEYS = ("within_1pc", "within_4pc", "within_4pc_octave", "on_phrase_grid", "beat_f", "downbeat_f")
"""Per-track tempo, phrase-grid and beat scores averaged in the summary, for iram and (``madmom_*``) madmom alone."""

DEFAULT_OUT = Path("iram-benchmark")
"""Where ``iram benchmark`` writes when no ``--out`` is given: a folder in the current directory."""
LENGTH_TOLERANCE = 0.1  # annotation and prediction may differ in length by this share of the track


def align(truth_intervals: np.ndarray, pred_intervals: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(R, n_truth): for each truth interval, the overlap-weighted mean of ``pred`` (R, n_pred) columns.
    Truth intervals no prediction overlaps get NaN."""
    out = np.full((pred.shape[0], len(truth_intervals)), np.nan)
    for k, (s, e) in enumerate(truth_intervals):
        w = np.clip(np.minimum(e, pred_intervals[:, 1]) - np.maximum(s, pred_intervals[:, 0]), 0, None)
        if w.sum() > 0:
            out[:, k] = pred @ w / w.sum()
    return np.round(out, 6)  # equal inputs give equal outputs, not float noise


def check_lengths(truth: Truth, pred_end: float) -> None:
    t_end = float(truth.intervals[-1, 1]) if len(truth.intervals) else 0.0
    ref = max(t_end, truth.duration or 0.0)
    if ref > 0 and (t_end - pred_end) / ref > LENGTH_TOLERANCE + 0.2 * (truth.duration is None):
        raise AnnotationError(f"{truth.name}: annotation runs to {t_end:.0f} s but the prediction ends at {pred_end:.0f} s; "
                              "are they the same track?")


def tempo_scores(ref: float, est: float) -> dict:
    rel = abs(est / ref - 1)
    return {"within_4pc": bool(rel <= 0.04), "within_1pc": bool(rel <= 0.01),
            "within_4pc_octave": bool(min(abs(est * m / ref - 1) for m in (0.5, 1, 2)) <= 0.04)}


def beat_scores(truth: Truth, a) -> dict:
    import mir_eval

    out = {}
    if truth.beats is not None:
        out["beat_f"] = float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(truth.beats), mir_eval.beat.trim_beats(np.asarray(a.beats))))
    if truth.downbeats is not None:
        out["downbeat_f"] = float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(truth.downbeats), mir_eval.beat.trim_beats(np.asarray(a.downbeats))))
    if len(truth.intervals):
        starts = np.array([s.start for s in a.segments if not s.partial])
        grid0, seg = truth.intervals[0, 0], truth.intervals[0, 1] - truth.intervals[0, 0]
        off = np.abs(((starts - grid0) / seg + 0.5) % 1 - 0.5) * seg if len(starts) else np.array([np.inf])
        out["on_phrase_grid"] = bool(np.mean(off < 0.1) >= 0.9)
    return out


def madmom_dbn(audio_path: str | Path, a=None) -> dict:
    """madmom's own downbeat tracker alone (RNN activations, then ``DBNDownBeatTrackingProcessor``
    in 4/4 as :mod:`iram.beats.madmom_adapter` runs it): {bpm, beats, downbeats} in seconds, and
    phrase_offset (bars) when known. From the analysis ``a`` when it kept madmom's reading (decoded
    by the beat stage from the same activations), else madmom is run on the audio."""
    if a is not None and a.madmom:
        return {"bpm": float(a.madmom["bpm"]), "beats": [round(float(b), 4) for b in a.madmom["beats"]],
                "downbeats": [round(float(b), 4) for b in a.madmom["downbeats"]],
                "phrase_offset": int(a.madmom.get("phrase_offset", 0))}
    from . import audio as audio_mod
    from .analyze import BEAT_SR
    from .beats.madmom_adapter import dbn_decode, rnn_activations
    from .beats.reading import bpm_of

    y = audio_mod.to_int16(audio_mod.load(audio_path, rates=(BEAT_SR,)).at(BEAT_SR))
    d = dbn_decode(rnn_activations(y, BEAT_SR))
    beats = d[:, 0] if len(d) else np.zeros(0)
    return {"bpm": bpm_of(beats),
            "beats": [round(float(b), 4) for b in beats], "downbeats": [round(float(b), 4) for b in d[d[:, 1] == 1, 0]] if len(d) else []}


def madmom_scores(truth: Truth, m: dict, duration: float | None = None) -> dict:
    """Tempo, beat and downbeat scores of madmom's tracker alone, keys prefixed ``madmom_``; and the
    phrase grid of 4-bar segments on its downbeats, where its phrase offset and the track's
    ``duration`` (s) are known."""
    from types import SimpleNamespace

    from .segments import make_segments

    downs = np.array(m["downbeats"], float)
    segs = make_segments(downs, duration, m["phrase_offset"]) if "phrase_offset" in m and duration else []
    a = SimpleNamespace(beats=np.array(m["beats"]), downbeats=downs, segments=segs)
    keep = truth.intervals if segs else np.zeros((0, 2))
    out = beat_scores(Truth(truth.name, keep, truth.roles[:, :len(keep)], beats=truth.beats,
                            downbeats=truth.downbeats), a)
    if truth.tempo:
        out.update(tempo_scores(truth.tempo, m["bpm"]))
    return {f"madmom_{k}": v for k, v in out.items()}


def section_scores(truth: Truth, a) -> dict:
    import mir_eval

    if not truth.sections or not a.sections:
        return {}
    ref = np.array([[s["start"], s["end"]] for s in truth.sections])
    est = np.array([[s.start, s.end] for s in a.sections])
    out = {}
    for w in (0.5, 3.0):
        p, r, f = mir_eval.segment.detection(ref, est, window=w, trim=True)
        out[f"hit_f_{w}s"] = float(f)
    return out


def score_set(truths: list[Truth], analyses: list, thresholds, madmom: list[dict | None] | None = None) -> dict:
    """Pooled role metrics and per-track tempo/beat/section scores; with ``madmom`` (one
    :func:`madmom_dbn` result per track) also madmom's tracker alone, as ``madmom_*`` keys."""
    ys, ps, tracks = [], [], []
    for k, (t, a) in enumerate(zip(truths, analyses)):
        if a is None:
            continue
        pi = np.array([[s.start, s.end] for s in a.segments])
        check_lengths(t, float(pi[-1, 1]))
        ali = align(t.intervals, pi, a.iram)
        ys.append(t.roles)
        ps.append(ali)
        row = {"track": t.name, "segments": int(t.roles.shape[1]), "bpm": a.bpm}
        if t.tempo:
            row.update(tempo_scores(t.tempo, a.bpm), ref_bpm=t.tempo)
        row.update(beat_scores(t, a))
        row.update(section_scores(t, a))
        if madmom and madmom[k]:
            row.update(madmom_scores(t, madmom[k], a.duration if "phrase_offset" in madmom[k] else None))
        annotated = ~np.isnan(t.roles) & ~np.isnan(ali)
        on = ali >= np.asarray(thresholds)[:, None]
        row["accuracy"] = float((on == (t.roles > 0.5))[annotated].mean()) if annotated.any() else None
        tracks.append(row)
    if not ys:
        raise AnnotationError("no track could be scored: no audio or predictions matched the annotations")
    y, p = np.concatenate(ys, axis=1), np.concatenate(ps, axis=1)
    roles = [r for i, r in enumerate(ROLES) if not np.all(np.isnan(y[i]))]
    idx = [ROLES.index(r) for r in roles]
    keep = ~np.isnan(p[idx]).any(axis=0) & ~np.isnan(y[idx]).all(axis=0)  # a masked cell leaves only its role
    scores = classification_scores(y[idx][:, keep].T, p[idx][:, keep].T, np.asarray(thresholds)[idx], roles=roles)
    summary = {}
    for k in (*TRACKER_KEYS, "hit_f_0.5s", "hit_f_3.0s", *(f"madmom_{m}" for m in TRACKER_KEYS)):
        v = [r[k] for r in tracks if k in r]
        if v:
            summary[k] = float(np.mean(v))
    return {"roles": scores, "tracks": tracks, "summary": summary, "n_tracks": len(tracks)}


def markdown(result: dict, title: str) -> str:
    sc = result["roles"]
    lines = [f"### {title}", "", "| role | ROC-AUC | PR-AUC | F1 | accuracy | Pearson r | positives |", "|---|---|---|---|---|---|---|"]
    fmt = lambda v: "undefined" if v is None else f"{v:.3f}"  # noqa: E731
    for r, v in sc["roles"].items():
        lines.append(f"| {r} | {fmt(v['roc_auc'])} | {fmt(v['pr_auc'])} | {fmt(v['f1'])} | {fmt(v['accuracy'])} | {fmt(v['pearson'])} | {v['support']} |")
    m = sc["macro"]
    lines.append(f"| **macro** | {fmt(m['roc_auc'])} | {fmt(m['pr_auc'])} | {fmt(m['f1'])} | {fmt(m['accuracy'])} | {fmt(m['pearson'])} | {sc['n']} segments |")
    ours = {k: v for k, v in result["summary"].items() if not k.startswith("madmom_")}
    if ours:
        lines += ["", "| " + " | ".join(ours) + " |", "|" + "---|" * len(ours),
                  "| " + " | ".join(f"{v:.3f}" for v in ours.values()) + " |"]
    theirs = [k for k in TRACKER_KEYS if f"madmom_{k}" in result["summary"]]
    if theirs:
        lines += ["", "| tracker | " + " | ".join(theirs) + " |", "|---" * (len(theirs) + 1) + "|",
                  "| iram | " + " | ".join(fmt(ours.get(k)) for k in theirs) + " |",
                  "| madmom DBNDownBeatTrackingProcessor alone | " + " | ".join(fmt(result["summary"][f"madmom_{k}"]) for k in theirs) + " |"]
    return "\n".join(lines) + "\n"


def _analyses(truths: list[Truth], *, predictions: Path | None, model_path: str | Path | None,
               pred_dir: Path, quiet: bool, log, by_name: bool = False, madmom: list | None = None) -> list:
    """Analyses of every truth's audio (or reloaded predictions). ``by_name``: each track's results
    go to a subfolder named after it (rendered modules all call their audio mix.flac). A list
    given as ``madmom`` receives madmom's tracker alone per track (:func:`madmom_dbn`): from the
    analysis, or for results saved without it, saved beside the prediction as ``<stem>.madmom.json``
    and reloaded from there."""
    from tqdm import tqdm

    from .analyze import analyze_file
    from .model import load
    from .result import load_results

    out, model = [], None
    for t in tqdm(truths, desc="benchmark", disable=quiet, file=sys.stderr):
        stem = Path(t.audio).stem if t.audio else t.name
        sub = t.name if by_name else ""
        if predictions:
            f = predictions / sub / f"{stem}.iram.json"
            if not f.exists():
                log(f"no saved prediction {f}; skipped")
                out.append(None)
            else:
                out.append(load_results(f))
        elif t.audio is None:
            out.append(None)
        else:
            model = model or load(model_path)
            (pred_dir / sub).mkdir(parents=True, exist_ok=True)
            out.append(analyze_file(t.audio, outdir=pred_dir / sub, model=model))
        if madmom is not None:
            f = (predictions or pred_dir) / sub / f"{stem}.madmom.json"
            if out[-1] is not None and out[-1].madmom:  # kept by the beat stage: the same activations
                madmom.append(madmom_dbn(t.audio, out[-1]))
            elif f.exists():
                madmom.append(json.loads(f.read_text()))
            elif out[-1] is not None and t.audio is not None:
                from .io import write_text

                madmom.append(madmom_dbn(t.audio, out[-1]))
                f.parent.mkdir(parents=True, exist_ok=True)
                write_text(f, json.dumps(madmom[-1]))
            else:
                madmom.append(None)
    return out


def run_benchmark(set_name: str, *, folder: str | Path | None = None, audio: str | Path | None = None,
                  annotations: str | Path | None = None, predictions: str | Path | None = None,
                  model: str | Path | None = None, n: int = 10, out: str | Path = DEFAULT_OUT,
                  split: str = "test", quiet: bool = False) -> dict:
    """Analyse (or reload) every track of an annotated set, score it, and write ``<set>.json`` and ``<set>.md``.

    Parameters
    ----------
    set_name : one of :data:`iram.annotations.SETS`.
    folder : composed: folder of tracks (default: generate ``n`` test-split tracks in the user cache);
        custom: annotation folder.
    audio : drysdale2022: folder with the user's copies of the ten tracks.
    annotations : drysdale2022: annotation folder (default: found beside the checkout).
    predictions : reuse saved ``.iram.json`` results from this folder instead of running the model.
    model : checkpoint to use instead of the bundled one.
    n : composed: tracks to generate when no folder is given.
    split : modules: which split of the rendered modules in ``folder`` (train, valid, test or all);
        madmom's own downbeat tracker is scored beside iram for beats, downbeats and tempo.
    out : results folder; analyses go to ``out/predictions-<set>/``.
    quiet : no progress bar or log lines on stderr.
    """
    from .annotations import load_set, match_drysdale_audio
    from .io import shown_path, write_text

    log = (lambda m: None) if quiet else (lambda m: print(m, file=sys.stderr))
    name = set_name
    if name not in SETS:
        raise AnnotationError(f"unknown set {name!r}; choose {', '.join(SETS)}")
    if name == "drysdale2022" and not predictions and not audio:
        raise AnnotationError("drysdale2022 needs --audio DIR with your copies of the ten tracks (not included)")
    predictions = Path(predictions) if predictions else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    readings = list(DRYSDALE_MAPPINGS) if name == "drysdale2022" else ["default"]
    if name == "composed" and not folder:
        folder = Path.home() / ".cache" / "iram" / f"composed-n{n}"
        if not list(folder.glob("*.truth.json")):
            from .data.tracks import make_tracks

            log(f"generating {n} composed tracks in {folder} (test-split sources)")
            make_tracks(n=n, out=folder, seed=0, progress=not quiet)
    results = {}
    analyses = None
    for reading in readings:
        truths = load_set(name, annotations if name == "drysdale2022" else folder, mapping=reading, split=split)
        if name == "drysdale2022" and not predictions:
            for line in match_drysdale_audio(truths, audio):
                log(line)
        if analyses is None:
            (out / f"predictions-{name}").mkdir(parents=True, exist_ok=True)
            madmom = []  # madmom's tracker alone, beside iram's beats
            analyses = _analyses(truths, predictions=predictions, model_path=model, pred_dir=out / f"predictions-{name}",
                                 quiet=quiet, log=log, by_name=name == "modules", madmom=madmom)
        from .model import load

        thresholds = analyses[next(i for i, a in enumerate(analyses) if a is not None)].thresholds if any(analyses) else load(model).thresholds
        results[reading] = score_set(truths, analyses, thresholds, madmom=madmom)
    model_info = next((a.model for a in analyses if a is not None), {})
    report = {"set": name, "dir": shown_path(folder), **({"split": split} if name == "modules" else {}), "seconds": time.time() - t0, "results": results,
              "model": {k: v for k, v in model_info.items() if k != "path"}}  # no machine paths in a report meant to be shared
    md = "".join(markdown(r, f"{name}" + (f" (row reading: {k})" if name == "drysdale2022" else "")) + "\n" for k, r in results.items())
    write_text(out / f"{name}.json", json.dumps(report, indent=1))
    write_text(out / f"{name}.md", md)
    print(md)
    log(f"wrote {out / (name + '.json')} and {out / (name + '.md')}")
    return report
