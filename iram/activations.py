"""Score segments with the role classifier: the IRAM matrix.

The CNN runs once over the whole track (in overlapping chunks), giving conv
features every 16 STFT frames (about 0.5 s). A segment's score is then made
from the features inside it. ``mode`` says how:

- ``"segment"``: max- and mean-pool all the segment's frames, one prediction;
- ``"mean"`` / ``"max"``: predictions for 3 s windows (hop 1.5 s) inside the
  segment, averaged or maxed.
"""
from __future__ import annotations

import numpy as np
import torch

from .choices import MODES
from .errors import ModelError
from .model import RoleCNN

CHUNK_S, CONTEXT_S = 60.0, 4.0
EDGE_S = 0.75  # seconds left out at each end of a segment when pooling


@torch.inference_mode()
def frame_features(net: RoleCNN, audio: np.ndarray) -> tuple[torch.Tensor, float]:
    """Conv features (features, frames) of mono ``audio`` at the model's sample rate, and
    their rate (frames/s). The network runs where its weights are; features come back on the CPU."""
    sr = net.cfg.front.sample_rate
    device = next(net.parameters()).device
    step = int(net.cfg.front.hop * 2 ** len(net.cfg.widths))  # samples per output frame
    fps = sr / step
    chunk = int(CHUNK_S * fps) * step
    ctx = int(CONTEXT_S * fps) * step
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    if len(x) < int(net.cfg.window * sr):
        raise ModelError(f"audio of {len(x) / sr:.2f} s is shorter than the model's {net.cfg.window:g} s window")
    out = []
    for start in range(0, len(x), chunk):
        a, b = max(0, start - ctx), min(len(x), start + chunk + ctx)
        z = net.frames(x[a:b][None].to(device))[0]
        lo = (start - a) // step
        hi = lo + -(-(min(chunk, len(x) - start)) // step)
        out.append(z[:, lo:hi].cpu())
    return torch.cat(out, dim=1), fps


@torch.inference_mode()
def score_segments(net: RoleCNN, z: torch.Tensor, fps: float, spans: list[tuple[float, float]], *,
                   mode: str = "segment") -> np.ndarray:
    """Role probabilities (n_roles, n_spans) for time spans (seconds) over features ``z``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    T = z.shape[1]
    win = max(1, int(round(net.cfg.window * fps)))
    batches, owners = [], []
    for k, (s, e) in enumerate(spans):
        # keep clear of the edges: conv features near a boundary already hear the next segment
        m = min(EDGE_S, 0.1 * (e - s))
        i0 = int(np.floor((s + m) * fps))
        i1 = max(i0 + 1, int(np.ceil((e - m) * fps)))
        i0, i1 = min(i0, T - 1), min(i1, T)
        if mode == "segment" or i1 - i0 <= win:
            batches.append(z[:, i0:i1])
            owners.append(k)
        else:
            for w0 in range(i0, i1 - win + 1, max(1, win // 2)):
                batches.append(z[:, w0:w0 + win])
                owners.append(k)
    dev = next(net.parameters()).device  # features come back on the CPU; the head runs where the model is
    probs = torch.stack([torch.sigmoid(net.pool(b[None].to(dev)))[0].cpu() for b in batches]).numpy()
    owners = np.array(owners)
    out = np.zeros((probs.shape[1], len(spans)), np.float32)
    for k in range(len(spans)):
        p = probs[owners == k]
        out[:, k] = p.max(axis=0) if mode == "max" else p.mean(axis=0)
    return out
