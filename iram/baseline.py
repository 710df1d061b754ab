"""The classical baseline of the original paper's table: binary relevance over a
random forest, on 92 summary statistics of MFCC, chroma and spectral shape."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .data.dataset import Dataset
    from .train import Segments


def clip_features(y: np.ndarray, sr: int = 16000) -> np.ndarray:
    """92 features: mean and std of 20 MFCCs, 12 chroma bins, 7 spectral-contrast
    bands, centroid, bandwidth, roll-off, flatness, zero-crossing rate, RMS and onset strength."""
    import librosa

    S = np.abs(librosa.stft(y, n_fft=1024, hop_length=512)) ** 2
    mel = librosa.feature.melspectrogram(S=S, sr=sr, n_mels=64)
    feats = [
        librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20),
        librosa.feature.chroma_stft(S=S, sr=sr),
        librosa.feature.spectral_contrast(S=np.sqrt(S), sr=sr, fmin=100.0, n_bands=6),
        librosa.feature.spectral_centroid(S=np.sqrt(S), sr=sr),
        librosa.feature.spectral_bandwidth(S=np.sqrt(S), sr=sr),
        librosa.feature.spectral_rolloff(S=np.sqrt(S), sr=sr),
        librosa.feature.spectral_flatness(S=np.sqrt(S)),
        librosa.feature.zero_crossing_rate(y, frame_length=1024, hop_length=512),
        librosa.feature.rms(S=np.sqrt(S), frame_length=1024),
        librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=sr)[None],
    ]
    n = min(f.shape[1] for f in feats)
    F = np.concatenate([f[:, :n] for f in feats])
    return np.concatenate([F.mean(axis=1), F.std(axis=1)]).astype(np.float32)


def loop_features(ds: Dataset, idx=None, *, seconds: float = 3.0) -> np.ndarray:
    """(n, 92) features of the first ``seconds`` of each clip of ``ds`` (tiled if shorter: the
    window the CNNs see), for the clips ``idx`` (default all)."""
    from .train import crop

    idx = range(len(ds.files)) if idx is None else idx
    n = int(seconds * ds.sample_rate)
    return np.stack([clip_features(crop(ds.clip(i), n, None), ds.sample_rate) for i in idx])


def segment_features(seg: Segments, *, sample_rate: int = 16000) -> np.ndarray:
    """(n_segments, 92) features of each segment of ``seg`` over its whole 4-bar interval
    (the span that :func:`iram.train.predict_segments` scores); ``sample_rate`` is the rate
    ``seg`` was loaded at."""
    from .data.dataset import unpack

    out = []
    for k, j in seg.spans[:, :2]:
        s, e = seg.intervals[k][j]
        out.append(clip_features(unpack(seg.audio[k][int(s * sample_rate):int(e * sample_rate)]), sample_rate))
    return np.stack(out)


class Baseline:
    """Binary relevance: one random forest per role."""

    def __init__(self, n_estimators: int = 300, seed: int = 0, n_jobs: int = 2):
        self.n_estimators, self.seed, self.n_jobs = n_estimators, seed, n_jobs
        self.forests: list = []

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "Baseline":
        """``X`` (n, d) features, ``Y`` (n, R) 0/1 labels, NaN where a cell is masked: each
        role's forest learns from the examples whose label for that role is known."""
        from sklearn.ensemble import RandomForestClassifier

        Y = np.asarray(Y, dtype=float)
        self.forests = []
        for r in range(Y.shape[1]):
            keep = np.isfinite(Y[:, r])
            if not keep.any():
                raise ValueError(f"role {r}: every label is masked (NaN); a forest needs known labels")
            forest = RandomForestClassifier(n_estimators=self.n_estimators, min_samples_leaf=2,
                                            n_jobs=self.n_jobs, random_state=self.seed)
            self.forests.append(forest.fit(X[keep], Y[keep, r].astype(int)))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, R) probability that each role plays; a role seen with one class only gets that class."""
        out = []
        for f in self.forests:
            p = f.predict_proba(X)
            out.append(p[:, list(f.classes_).index(1)] if 1 in f.classes_ else np.zeros(len(X)))
        return np.stack(out, axis=1)
