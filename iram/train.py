"""Train a role classifier on one or more dataset folders.

Label-balanced sampling, random crops, on-the-fly mixing of two examples
(labels OR-ed), gain, random-EQ, pitch-shift and mastering-chain augmentation; early stopping on the validation
split's macro ROC-AUC; per-role thresholds chosen on validation for best F1.

Annotated tracks (``--tracks``: audio beside a ``.truth.json``, as ``iram data
tracks`` writes them) add a second kind of example: the 4-bar segments of full
arrangements, scored the way ``iram analyze`` scores them (all frames of the
segment pooled, edges left out). Each step then takes one batch of loops and
one of segments. With ``--valid-tracks`` the early-stopping score is the mean
of the loop and the segment macro ROC-AUC. ``--init`` starts from a checkpoint.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import __version__
from .data.dataset import Dataset, load_dataset, pack, unpack
from .data.render import repitch
from .errors import DataError
from .evaluate import best_thresholds, classification_scores, reliability
from .model import ModelConfig, RoleCNN, load, pick_device, save


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch: int = 32
    lr: float = 1e-3
    patience: int = 3
    steps_per_epoch: int = 300
    mix_prob: float = 0.5
    max_minutes: float = 40.0
    seed: int = 0
    segment_batch: int = 16  # segments per step when training on tracks
    segment_seconds: float = 8.0  # longest crop of a segment
    eq_db: float = 0.0  # random EQ: tilt up to +-eq_db at the band edges plus three smooth bumps (0: off)
    shift: float = 0.0  # random pitch-and-formant shift of every crop, uniform in +-shift semitones (0: off)
    master: float = 0.0  # share of examples sent through a random mastering chain (iram.augment.master; 0: off)


def crop(x: np.ndarray, n: int, rng: np.random.Generator | None) -> np.ndarray:
    """A window of ``n`` samples; loops shorter than that are tiled (they are loops)."""
    if len(x) < n:
        x = np.tile(x, -(-n // len(x)) + 1)
    start = 0 if rng is None else int(rng.integers(0, len(x) - n + 1))
    return x[start:start + n]


SHIFT_PAD = 2  # samples a shifted crop reads beyond n * ratio, so the resampled window fills n


def shifted_crop(x: np.ndarray, n: int, rng: np.random.Generator, semitones: float) -> np.ndarray:
    """A random window of ``n`` samples played up to ``semitones`` higher or lower (resampled,
    so pitch, formants and tempo move together, as a sampler's repitch does); 0 is :func:`crop`."""
    if semitones <= 0:
        return crop(x, n, rng)
    s = rng.uniform(-semitones, semitones)
    return repitch(crop(x, int(n * 2.0 ** (s / 12)) + SHIFT_PAD, rng), s)[:n].astype(np.float32)


def random_eq(x: np.ndarray, rng: np.random.Generator, db: float, sample_rate: int) -> np.ndarray:
    """``x`` through a random smooth equaliser: a spectral tilt of up to +-``db`` at the
    ends of 20 Hz..Nyquist (log frequency) plus three cosine bumps of ``db``/3 dB spread,
    as different mixes and masters colour the same instrument."""
    if db <= 0:
        return x
    f = np.fft.rfftfreq(len(x), 1 / sample_rate)
    u = np.log2(np.maximum(f, 20.0) / 20.0) / np.log2(sample_rate / 40.0)
    g = rng.uniform(-db, db) * (2 * u - 1)
    for k in (1, 2, 3):
        g += rng.normal(0, db / 3) * np.cos(np.pi * k * u + rng.uniform(0, 2 * np.pi))
    return np.fft.irfft(np.fft.rfft(x) * 10 ** (g / 20), n=len(x)).astype(np.float32)


def mastered(x: np.ndarray, rng: np.random.Generator, prob: float, sample_rate: int) -> np.ndarray:
    """``x`` through :func:`iram.augment.master` with probability ``prob`` (no random draw when 0)."""
    if prob <= 0 or rng.random() >= prob:
        return x
    from .augment import master

    return master(x, rng, sample_rate)


def batch_of(ds: Dataset, idx: np.ndarray, n: int, rng: np.random.Generator, mix_prob: float, weights: np.ndarray,
             eq_db: float = 0.0, shift: float = 0.0, master: float = 0.0):
    xs, ys = [], []
    sr = ds.sample_rate
    for i in idx:
        x = random_eq(shifted_crop(ds.clip(i), n, rng, shift), rng, eq_db, sr) * 10 ** (rng.uniform(-12, 6) / 20)
        y = ds.labels[i].copy()
        if rng.random() < mix_prob:
            j = int(rng.choice(len(ds.files), p=weights))
            x = x + random_eq(shifted_crop(ds.clip(j), n, rng, shift), rng, eq_db, sr) * 10 ** (rng.uniform(-12, 3) / 20)
            y = np.maximum(y, ds.labels[j])
        xs.append(mastered(x, rng, master, sr))
        ys.append(y)
    return torch.tensor(np.stack(xs)), torch.tensor(np.stack(ys))


def masked_bce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy over the labelled cells of ``y`` (NaN marks a masked cell)."""
    known = ~torch.isnan(y)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, torch.nan_to_num(y), weight=known.float(), reduction="sum")
    return loss / known.sum().clamp(min=1)


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Sampling weights that even out role frequencies (inverse frequency, averaged over an example's roles;
    masked (NaN) labels count as off)."""
    labels = np.nan_to_num(labels, nan=0.0)
    freq = labels.mean(axis=0).clip(1e-3)
    w = (labels / freq).sum(axis=1) / labels.sum(axis=1).clip(1)
    w[labels.sum(axis=1) == 0] = 1.0
    return w / w.sum()


@dataclass
class Segments:
    """The labelled 4-bar segments of annotated tracks.

    ``audio`` holds each track (mono int16 at the model's rate); ``spans`` (n, 4)
    gives each segment's track, its number in the track and the samples it keeps
    once its edges are left out; ``labels`` is (n, 6), NaN where a role is masked;
    ``intervals`` the tracks' segment times (seconds); ``names`` the tracks' names
    (a rendered module's is its slug).
    """

    audio: list[np.ndarray]
    spans: np.ndarray
    labels: np.ndarray
    intervals: list[np.ndarray]
    names: list[str] = field(default_factory=list)


def load_segments(folders: list[str | Path], sample_rate: int, *, modules: str | Path | None = None, split: str = "train",
                  leave_out: frozenset[str] = frozenset(), only: frozenset[str] | None = None,
                  progress: bool = False) -> Segments:
    """The segments of annotated tracks in ``folders`` (``NAME.truth.json`` beside the audio) and of the
    modules of ``split`` rendered under ``modules`` (``iram data modules --out``).

    ``leave_out`` names modules (slugs) whose segments are skipped, in remixes and crossmixes made
    from them too; ``only``, when given, keeps the rendered modules it names and no others."""
    from tqdm import tqdm

    from .activations import EDGE_S
    from .annotations import load_set
    from .audio import load as load_audio
    from .data.modules import load_set as load_modules

    mods = [t for t in (load_modules(modules, split=split) if modules else []) if only is None or t.name in only]
    for t in mods:
        t.sources = [frozenset([t.name])] * len(t.intervals)
    truths = [t for f in folders for t in load_set("custom", f)] + mods
    audio, spans, labels, intervals, names = [], [], [], [], []
    for t in tqdm(truths, desc="reading tracks", disable=not progress, unit="track"):
        keep = [j for j in range(len(t.intervals)) if not (t.sources and t.sources[j] & leave_out)]
        if not keep:
            continue
        if t.audio is None:
            raise DataError(f"{t.name}: audio not found; put NAME.wav next to NAME.truth.json (or fix the CSV's file path)")
        y = load_audio(t.audio, rates=(sample_rate,)).at(sample_rate)
        k = len(audio)
        audio.append(pack(y))
        intervals.append(np.asarray(t.intervals, dtype=float))
        names.append(t.name)
        for j in keep:
            (s, e), lab = t.intervals[j], t.roles[:, j]
            a, b = int((s + EDGE_S) * sample_rate), min(len(y), int((e - EDGE_S) * sample_rate))
            if b - a >= 3 * sample_rate and not np.isnan(lab).all():
                spans.append((k, j, a, b))
                labels.append(lab)
    if not spans:
        raise DataError(f"{', '.join(map(str, folders))}: no annotated segment of 4.5 s or more; make tracks with 'iram data tracks'")
    return Segments(audio, np.array(spans), np.array(labels, dtype=np.float32), intervals, names)


def segment_batch(seg: Segments, idx: np.ndarray, rng: np.random.Generator, max_seconds: float, sample_rate: int,
                  eq_db: float = 0.0, shift: float = 0.0, master: float = 0.0):
    """Crops of one length (the shortest segment's, less the room a shift up needs, at most ``max_seconds``),
    with gain, EQ, shift and mastering augmentation."""
    shortest = int((seg.spans[idx, 3] - seg.spans[idx, 2]).min())
    if shift > 0:  # leave room for the longest crop a shift up reads
        shortest = int((shortest - SHIFT_PAD) / 2.0 ** (shift / 12))
    n = min(int(max_seconds * sample_rate), shortest)
    xs = []
    for k, _, a, b in seg.spans[idx]:
        x = mastered(random_eq(shifted_crop(unpack(seg.audio[k][a:b]), n, rng, shift), rng, eq_db, sample_rate), rng, master, sample_rate)
        xs.append(x * 10 ** (rng.uniform(-9, 3) / 20))
    return torch.tensor(np.stack(xs)), torch.tensor(seg.labels[idx])


@torch.inference_mode()
def predict_segments(net: RoleCNN, seg: Segments) -> np.ndarray:
    """Probabilities (n_segments, 6) for every annotated segment, scored as ``iram analyze`` scores them."""
    from .activations import frame_features, score_segments

    net.eval()
    out = []
    for y, iv in zip(seg.audio, seg.intervals):
        z, fps = frame_features(net, unpack(y))
        out.append(score_segments(net, z, fps, [tuple(v) for v in iv]))
    return np.stack([out[k][:, j] for k, j in seg.spans[:, :2]])


@torch.inference_mode()
def predict_clips(net: RoleCNN, ds: Dataset, *, batch: int = 64) -> np.ndarray:
    """Probabilities (n, 6) for the first window of each clip (tiled if shorter), computed where the network's weights are."""
    net.eval()
    device = next(net.parameters()).device
    n = int(net.cfg.window * ds.sample_rate)
    out = []
    for i in range(0, len(ds.files), batch):
        x = torch.tensor(np.stack([crop(ds.clip(k), n, None) for k in range(i, min(i + batch, len(ds.files)))]))
        out.append(torch.sigmoid(net(x.to(device))).cpu().numpy())
    return np.concatenate(out)


def train(train_dirs: list[str | Path], valid_dir: str | Path, out: str | Path, *, model_cfg: ModelConfig | None = None,
          cfg: TrainConfig = TrainConfig(), device: str = "auto", test_dir: str | Path | None = None,
          tracks: list[str | Path] | None = None, valid_tracks: list[str | Path] | None = None,
          modules: str | Path | None = None, init: str | Path | None = None, name: str | None = None,
          fold: tuple[int, int] | None = None, progress: bool = True, log=print) -> dict:
    """Train, keep the best epoch by validation macro ROC-AUC, save the checkpoint to ``out``.

    ``init`` starts from a checkpoint's weights (its configuration replaces ``model_cfg``);
    ``tracks`` / ``valid_tracks`` are folders of annotated tracks (see the module docstring).
    ``modules`` is a folder of rendered tracker modules (real music): the segments of its
    train split are trained on, and early stopping uses its valid split's segments alone
    (the synthetic validation scores are logged beside it).
    ``name`` defaults to hcnn or cnn-logmel, after the front-end.
    ``fold`` (k, n) holds out fold k (1-based) of n of the train modules' packages
    (:func:`iram.data.modules.package_folds`): their segments, and remix and crossmix segments
    made from them, are not trained on; they are scored after training (``metrics["held_out"]``),
    so n runs give every train module a score from a model that never heard it.
    """
    from tqdm import tqdm

    device = pick_device(device)
    if cfg.master > 0:
        from .data import require_train_packages

        require_train_packages("pedalboard")  # the mastering chain
    for folder in (*(tracks or ()), *(valid_tracks or ())):  # before minutes of loading loops
        if not Path(folder).is_dir():
            raise DataError(f"{folder}: tracks folder not found; make tracks with 'iram data tracks'")
    if modules and not all((Path(modules) / s).is_dir() for s in ("train", "valid")):
        raise DataError(f"{modules}: needs rendered train and valid modules; run 'iram data modules --out {modules} --split all'")
    held = frozenset()
    if fold:
        from .data.modules import package_folds, read_table

        k, n_folds = fold
        if not modules or n_folds < 2 or not 1 <= k <= n_folds:
            raise DataError(f"--fold {k}/{n_folds}: needs --modules and 1 <= K <= N with N >= 2")
        entries = [e for e in read_table() if e.split == "train"]
        folds = package_folds(entries, n_folds)
        held = frozenset(e.slug for e in entries if folds[e.package] == k - 1)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    start = load(init) if init else None
    net = (start.net if start else RoleCNN(model_cfg or ModelConfig())).to(device)
    model_cfg = net.cfg
    name = name or ("hcnn" if model_cfg.front.harmonic else "cnn-logmel")
    sr = model_cfg.front.sample_rate
    sets = [load_dataset(d, sample_rate=sr, progress=progress) for d in train_dirs]
    tr = Dataset(sets[0].root, sum((s.files for s in sets), []), sum((s.audio for s in sets), []),
                 np.concatenate([s.labels for s in sets]), sr, None)
    va = load_dataset(valid_dir, sample_rate=sr, progress=progress)
    if len(tr.files) < 2 or len(va.files) < 2:
        raise DataError("training needs at least two training and two validation clips")
    seg = (load_segments(tracks or [], sr, modules=modules, split="train", leave_out=held, progress=progress)
           if tracks or modules else None)
    seg_va = load_segments(valid_tracks, sr, progress=progress) if valid_tracks else None
    real_va = load_segments([], sr, modules=modules, split="valid", progress=progress) if modules else None
    weights = balanced_weights(tr.labels)
    seg_weights = balanced_weights(seg.labels) if seg else None
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    n = int(model_cfg.window * sr)

    def validate() -> dict:
        scores = {"valid_roc_auc": classification_scores(va.labels, predict_clips(net, va))["macro"]["roc_auc"]}
        if seg_va:
            p = predict_segments(net, seg_va)
            scores["valid_segments_roc_auc"] = classification_scores(seg_va.labels, p)["macro"]["roc_auc"]
        if real_va:  # real music decides
            scores["valid_real_roc_auc"] = classification_scores(real_va.labels, predict_segments(net, real_va))["macro"]["roc_auc"]
            scores["score"] = scores["valid_real_roc_auc"]
        else:
            scores["score"] = float(np.mean(list(scores.values())))
        return scores

    best, best_state, bad, history = -1.0, None, 0, []
    t0 = time.time()
    if init:
        v = validate()
        history.append({"epoch": 0, **v, "minutes": 0.0})
        log(f"start ({init}): " + ", ".join(f"{k} {x:.4f}" for k, x in v.items()))
        best, best_state = v["score"], {k: x.detach().cpu().clone() for k, x in net.state_dict().items()}
    for epoch in range(cfg.epochs):
        net.train()
        losses = []
        for _ in tqdm(range(cfg.steps_per_epoch), desc=f"epoch {epoch + 1}", disable=not progress, leave=False):
            idx = rng.choice(len(tr.files), size=cfg.batch, p=weights)
            x, y = batch_of(tr, idx, n, rng, cfg.mix_prob, weights, cfg.eq_db, cfg.shift, cfg.master)
            loss = masked_bce(net(x.to(device)), y.to(device))
            if seg:
                idx = rng.choice(len(seg.labels), size=cfg.segment_batch, p=seg_weights)
                x, y = segment_batch(seg, idx, rng, cfg.segment_seconds, sr, cfg.eq_db, cfg.shift, cfg.master)
                loss = loss + masked_bce(net(x.to(device)), y.to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
        v = validate()
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), **v, "minutes": (time.time() - t0) / 60})
        log(f"epoch {epoch + 1}: loss {np.mean(losses):.4f}, " + ", ".join(f"{k} {x:.4f}" for k, x in v.items())
            + f", {(time.time() - t0) / 60:.1f} min")
        if v["score"] > best:
            best, bad = v["score"], 0
            best_state = {k: x.detach().cpu().clone() for k, x in net.state_dict().items()}
        else:
            bad += 1
        if bad >= cfg.patience or (time.time() - t0) / 60 > cfg.max_minutes:
            break
    net.load_state_dict(best_state)
    p_valid = predict_clips(net, va)
    thresholds = loop_thresholds = best_thresholds(va.labels, p_valid)
    if real_va:  # arrangement thresholds where they are used: on real 4-bar segments, for accuracy
        p_real = predict_segments(net, real_va)
        thresholds = best_thresholds(real_va.labels, p_real, metric="accuracy")
    metrics = {"valid": classification_scores(va.labels, p_valid, thresholds)}
    if real_va:
        metrics["valid_real"] = {**classification_scores(real_va.labels, p_real, thresholds),
                                 "reliability": reliability(real_va.labels, p_real)}
    if seg_va:
        metrics["valid_segments"] = classification_scores(seg_va.labels, predict_segments(net, seg_va), thresholds)
    if held:
        ho = load_segments([], sr, modules=modules, split="train", only=held, progress=progress)
        metrics["held_out"] = classification_scores(ho.labels, predict_segments(net, ho), thresholds)
    if test_dir:
        te = load_dataset(test_dir, sample_rate=sr, progress=progress)
        metrics["test"] = classification_scores(te.labels, predict_clips(net, te), thresholds)
    training = {"train": [str(d) for d in train_dirs], "valid": str(valid_dir), "test": str(test_dir) if test_dir else None,
                "n_train": len(tr.files), "n_valid": len(va.files), "epochs": len(history), "history": history,
                "minutes": (time.time() - t0) / 60, "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
                "device": device, "loop_thresholds": loop_thresholds}
    if start:
        training["init"] = {"path": str(init), "training": start.training}
    if seg:
        training.update(tracks=[str(d) for d in tracks or []], n_train_segments=len(seg.labels))
    if modules:
        training.update(modules=str(modules), n_valid_real_segments=len(real_va.labels))
    if held:
        training.update(fold={"k": fold[0], "of": fold[1], "held_out": sorted(held)})
    if seg_va:
        training.update(valid_tracks=[str(d) for d in valid_tracks], n_valid_segments=len(seg_va.labels))
    save(out, net.cpu(), thresholds=thresholds, name=name, version=__version__, training=training, metrics=metrics)
    return {"metrics": metrics, "training": training}
