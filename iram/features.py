"""Spectral front-ends for the role classifier, in pure PyTorch (``torch.stft``).

:class:`HarmonicFilterbank` is the Harmonic CNN front-end of Won et al. (2020):
triangular band-pass filters centred on semitone-spaced pitches, repeated at
harmonics 1..H, with a learnable quality factor Q; harmonic h becomes input
channel h-1 of a 2-D CNN. :class:`LogMel` is the non-harmonic ablation.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class FrontEndConfig:
    sample_rate: int = 16000
    n_fft: int = 1024
    hop: int = 512  # 31.25 frames per second at 16 kHz
    f_min: float = 32.70  # C1
    bands_per_semitone: int = 2
    n_bands: int = 192  # 96 semitones: channel 1 from C1 up to Nyquist (the shipped model); a band's
    # harmonics above Nyquist are left empty. 128 (C1 .. about E6) keeps every harmonic below it.
    n_harmonics: int = 6
    harmonic: bool = True  # False: log-mel ablation with n_bands mel bands

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def channels(self) -> int:
        return self.n_harmonics if self.harmonic else 1

    @property
    def fps(self) -> float:
        return self.sample_rate / self.hop


class _STFT(nn.Module):
    def __init__(self, cfg: FrontEndConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)

    def power(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, n_fft//2+1, frames) power spectrogram."""
        s = torch.stft(x, self.cfg.n_fft, self.cfg.hop, window=self.window, center=True, return_complex=True)
        return s.real ** 2 + s.imag ** 2


class HarmonicFilterbank(_STFT):
    """(batch, samples) -> (batch, n_harmonics, n_bands, frames) log power."""

    def __init__(self, cfg: FrontEndConfig):
        super().__init__(cfg)
        pitches = cfg.f_min * 2.0 ** (np.arange(cfg.n_bands) / (12 * cfg.bands_per_semitone))
        centres = np.concatenate([pitches * h for h in range(1, cfg.n_harmonics + 1)])
        self.register_buffer("centres", torch.tensor(centres, dtype=torch.float32))
        self.register_buffer("freqs", torch.linspace(0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1))
        # ERB bandwidth (Glasberg & Moore) divided by a learnable Q
        self.bw_alpha, self.bw_beta = 0.1079, 24.7
        self.Q = nn.Parameter(torch.tensor(1.0))

    def filters(self) -> torch.Tensor:
        """(n_harmonics * n_bands, n_freqs) triangular filter weights."""
        bw = (self.bw_alpha * self.centres + self.bw_beta) / self.Q.clamp(min=0.1)
        d = (self.freqs[None, :] - self.centres[:, None]).abs()
        return torch.relu(1 - 2 * d / bw[:, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.power(x)
        y = torch.matmul(self.filters(), p)  # (batch, H*B, frames)
        y = torch.log10(y + 1e-6)
        b, _, t = y.shape
        return y.view(b, self.cfg.n_harmonics, self.cfg.n_bands, t)


class LogMel(_STFT):
    """(batch, samples) -> (batch, 1, n_bands, frames) log-mel power (the ablation)."""

    def __init__(self, cfg: FrontEndConfig):
        super().__init__(cfg)
        import librosa

        fb = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_bands, fmin=cfg.f_min)
        self.register_buffer("fb", torch.tensor(fb, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log10(torch.matmul(self.fb, self.power(x)) + 1e-6).unsqueeze(1)


def front_end(cfg: FrontEndConfig) -> nn.Module:
    return HarmonicFilterbank(cfg) if cfg.harmonic else LogMel(cfg)
