"""Train a role classifier on one or more dataset folders.

Label-balanced sampling, random crops, on-the-fly mixing of two examples
(labels OR-ed) and gain augmentation; early stopping on the validation
split's macro ROC-AUC; per-role thresholds chosen on validation for best F1.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import __version__
from .data.dataset import Dataset, load_dataset
from .errors import DataError
from .evaluate import best_thresholds, classification_scores
from .model import ModelConfig, RoleCNN, pick_device, save


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


def crop(x: np.ndarray, n: int, rng: np.random.Generator | None) -> np.ndarray:
    """A window of ``n`` samples; loops shorter than that are tiled (they are loops)."""
    if len(x) < n:
        x = np.tile(x, -(-n // len(x)) + 1)
    start = 0 if rng is None else int(rng.integers(0, len(x) - n + 1))
    return x[start:start + n]


def batch_of(ds: Dataset, idx: np.ndarray, n: int, rng: np.random.Generator, mix_prob: float, weights: np.ndarray):
    xs, ys = [], []
    for i in idx:
        x = crop(ds.clip(i), n, rng) * 10 ** (rng.uniform(-12, 6) / 20)
        y = ds.labels[i].copy()
        if rng.random() < mix_prob:
            j = int(rng.choice(len(ds.files), p=weights))
            x = x + crop(ds.clip(j), n, rng) * 10 ** (rng.uniform(-12, 3) / 20)
            y = np.maximum(y, ds.labels[j])
        xs.append(x)
        ys.append(y)
    return torch.tensor(np.stack(xs)), torch.tensor(np.stack(ys))


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Sampling weights that even out role frequencies (inverse frequency, averaged over an example's roles)."""
    freq = labels.mean(axis=0).clip(1e-3)
    w = (labels / freq).sum(axis=1) / labels.sum(axis=1).clip(1)
    w[labels.sum(axis=1) == 0] = 1.0
    return w / w.sum()


@torch.inference_mode()
def predict_clips(net: RoleCNN, ds: Dataset, *, device: str = "cpu", batch: int = 64) -> np.ndarray:
    """Probabilities (n, 6) for the first window of each clip (tiled if shorter)."""
    net.eval()
    n = int(net.cfg.window * ds.sample_rate)
    out = []
    for i in range(0, len(ds.files), batch):
        x = torch.tensor(np.stack([crop(ds.clip(k), n, None) for k in range(i, min(i + batch, len(ds.files)))]))
        out.append(torch.sigmoid(net(x.to(device))).cpu().numpy())
    return np.concatenate(out)


def train(train_dirs: list[str | Path], valid_dir: str | Path, out: str | Path, *, model_cfg: ModelConfig | None = None,
          cfg: TrainConfig = TrainConfig(), device: str = "auto", test_dir: str | Path | None = None,
          name: str = "hcnn", progress: bool = True, log=print) -> dict:
    """Train, keep the best epoch by validation macro ROC-AUC, save the checkpoint to ``out``."""
    from tqdm import tqdm

    device = pick_device(device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model_cfg = model_cfg or ModelConfig()
    sr = model_cfg.front.sample_rate
    sets = [load_dataset(d, sample_rate=sr, progress=progress) for d in train_dirs]
    tr = Dataset(sets[0].root, sum((s.files for s in sets), []), sum((s.audio for s in sets), []),
                 np.concatenate([s.labels for s in sets]), sr, None)
    va = load_dataset(valid_dir, sample_rate=sr, progress=progress)
    if len(tr.files) < 2 or len(va.files) < 2:
        raise DataError("training needs at least two training and two validation clips")
    weights = balanced_weights(tr.labels)
    net = RoleCNN(model_cfg).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    loss_fn = nn.BCEWithLogitsLoss()
    n = int(model_cfg.window * sr)
    best, best_state, bad, history = -1.0, None, 0, []
    t0 = time.time()
    for epoch in range(cfg.epochs):
        net.train()
        losses = []
        for _ in tqdm(range(cfg.steps_per_epoch), desc=f"epoch {epoch + 1}", disable=not progress, leave=False):
            idx = rng.choice(len(tr.files), size=cfg.batch, p=weights)
            x, y = batch_of(tr, idx, n, rng, cfg.mix_prob, weights)
            loss = loss_fn(net(x.to(device)), y.to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
        p = predict_clips(net, va, device=device)
        auc = classification_scores(va.labels, p)["macro"]["roc_auc"]
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "valid_roc_auc": auc, "minutes": (time.time() - t0) / 60})
        log(f"epoch {epoch + 1}: loss {np.mean(losses):.4f}, valid macro ROC-AUC {auc:.4f}, {(time.time() - t0) / 60:.1f} min")
        if auc > best:
            best, bad = auc, 0
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        else:
            bad += 1
        if bad >= cfg.patience or (time.time() - t0) / 60 > cfg.max_minutes:
            break
    net.load_state_dict(best_state)
    p_valid = predict_clips(net, va, device=device)
    thresholds = best_thresholds(va.labels, p_valid)
    metrics = {"valid": classification_scores(va.labels, p_valid, thresholds)}
    if test_dir:
        te = load_dataset(test_dir, sample_rate=sr, progress=progress)
        metrics["test"] = classification_scores(te.labels, predict_clips(net, te, device=device), thresholds)
    training = {"train": [str(d) for d in train_dirs], "valid": str(valid_dir), "test": str(test_dir) if test_dir else None,
                "n_train": len(tr.files), "n_valid": len(va.files), "epochs": len(history), "history": history,
                "minutes": (time.time() - t0) / 60, "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
                "device": device}
    save(out, net.cpu(), thresholds=thresholds, name=name, version=__version__, training=training, metrics=metrics)
    return {"metrics": metrics, "training": training}
