"""The IRAM figure: log-frequency power spectrogram on top, roles x 4-bar segments below,
sections marked on both, time axes shared."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .roles import COLOURS, ROLES

MAX_COLUMNS = 1600
F_MIN, ROWS = 30.0, 192  # the spectrogram's lowest frequency and its log-spaced rows


def spectrogram(y: np.ndarray, sr: int, n_fft: int = 2048) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-frequency dB power spectrogram, at most MAX_COLUMNS frames and ROWS
    log-spaced bands from F_MIN to sr/2: (S [band, time], band edges Hz, frame times s)."""
    import torch

    hop = max(512, int(np.ceil(len(y) / MAX_COLUMNS / 512)) * 512)
    x = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
    s = torch.stft(x, n_fft, hop, window=torch.hann_window(n_fft), return_complex=True).abs().pow(2).numpy()
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    edges = np.geomspace(F_MIN, sr / 2, ROWS + 1)
    # each band: mean power of the bins inside it, or of the nearest bin where bands are narrower than bins
    idx = np.clip(np.searchsorted(freqs, edges), 0, len(freqs) - 1)
    power = np.stack([s[a:max(b, a + 1)].mean(axis=0) for a, b in zip(idx[:-1], idx[1:])])
    S = 10 * np.log10(power + 1e-10)
    S = np.maximum(S, S.max() - 80)
    return S, edges, np.arange(S.shape[1]) * hop / sr


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
            # one image on a log2-frequency axis: far quicker to draw than a mesh of quads
            ax.imshow(S, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
                      extent=(t[0], t[-1] + (t[1] - t[0] if len(t) > 1 else 0), np.log2(f[0]), np.log2(f[-1])))
            hz = [h for h in (50, 100, 200, 500, 1000, 2000, 5000) if f[0] <= h <= f[-1]]
            ax.set_yticks(np.log2(hz), [f"{h // 1000}k" if h >= 1000 else str(h) for h in hz])
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
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glyphs a track's name needs and the font lacks: drawn as boxes, not a warning
        fig.savefig(tmp, dpi=100, format="png", bbox_inches="tight")
    plt.close(fig)
    return out
