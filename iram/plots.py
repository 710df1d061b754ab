"""The IRAM figure: log-frequency power spectrogram on top, roles x 4-bar segments below,
sections marked on both, time axes shared."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .roles import COLOURS, ROLES

MAX_COLUMNS = 1600


def spectrogram(y: np.ndarray, sr: int, n_fft: int = 2048) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dB power spectrogram, at most MAX_COLUMNS frames: (S [freq, time], freqs Hz, times s)."""
    import torch

    hop = max(512, int(np.ceil(len(y) / MAX_COLUMNS / 512)) * 512)
    x = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
    s = torch.stft(x, n_fft, hop, window=torch.hann_window(n_fft), return_complex=True).abs().pow(2).numpy()
    S = 10 * np.log10(s + 1e-10)
    S = np.maximum(S, S.max() - 80)
    return S, np.fft.rfftfreq(n_fft, 1 / sr), np.arange(S.shape[1]) * hop / sr


def plot_analysis(a, out: str | Path, *, audio: np.ndarray | None = None, sr: int = 16000, truth: np.ndarray | None = None) -> Path:
    """Draw ``a`` (an Analysis) to the PNG ``out``. The spectrogram needs ``audio``
    or the analysed file still at ``a.path``; without either only the map is drawn.
    ``truth`` (6, n_segments) adds a ground-truth panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import atomic_path

    if audio is None and Path(a.path).exists():
        from .audio import load

        audio = load(a.path, rates=(sr,)).at(sr)
    panels = (["spec"] if audio is not None else []) + ["iram"] + (["truth"] if truth is not None else [])
    heights = {"spec": 3, "iram": 2, "truth": 2}
    fig, axes = plt.subplots(len(panels), 1, figsize=(14, 2 + 1.6 * len(panels)), sharex=True,
                             gridspec_kw={"height_ratios": [heights[p] for p in panels]}, constrained_layout=True)
    axes = np.atleast_1d(axes)
    edges = np.array([s.start for s in a.segments] + [a.segments[-1].end]) if a.segments else np.array([0, a.duration])
    for ax, kind in zip(axes, panels):
        if kind == "spec":
            S, f, t = spectrogram(audio, sr)
            keep = f >= 30
            ax.pcolormesh(t, f[keep], S[keep], shading="auto", cmap="magma", rasterized=True)
            ax.set_yscale("log")
            ax.set_ylim(30, sr / 2)
            ax.set_ylabel("Hz")
        else:
            m = a.iram if kind == "iram" else truth
            im = ax.pcolormesh(edges, np.arange(len(ROLES) + 1), m, cmap="viridis", vmin=0, vmax=1, shading="flat")
            ax.set_yticks(np.arange(len(ROLES)) + 0.5, [r for r in ROLES])
            for lab, c in zip(ax.get_yticklabels(), ROLES):
                lab.set_color(COLOURS[c])
            ax.invert_yaxis()
            ax.set_ylabel("prediction" if kind == "iram" else "ground truth")
            fig.colorbar(im, ax=ax, label="probability" if kind == "iram" else "active", pad=0.01, fraction=0.02)
        for s in a.sections:
            ax.axvline(s.start, color="white" if kind == "spec" else "red", lw=1.0, alpha=0.8)
    top = axes[0]
    for s in a.sections:
        top.text(s.start, 1.01, s.name, transform=top.get_xaxis_transform(), fontsize=7, rotation=20, ha="left", va="bottom")
    bottom = axes[-1]
    ticks = [(s.start, s.bars[0]) for s in a.segments if (s.bars[0] - 1) % 16 == 0 and not s.partial]
    if ticks:
        sec = bottom.secondary_xaxis("bottom")
        sec.set_xticks([t for t, _ in ticks], [str(b) for _, b in ticks])
        sec.tick_params(pad=16)
        sec.set_xlabel("bar (top row: seconds)")
    bottom.set_xlim(0, a.duration)
    fig.suptitle(f"{a.name} — {a.bpm:.1f} BPM — iram {a.version}, model {a.model.get('name', '?')}", y=1.06 if a.sections else 1.0)
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100, format="png", bbox_inches="tight")
    plt.close(fig)
    return out
