"""The classical baseline of the original paper's table: binary relevance over a
random forest, on 92 summary statistics of MFCC, chroma and spectral shape."""
from __future__ import annotations

import numpy as np


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


class Baseline:
    """Binary relevance: one random forest per role."""

    def __init__(self, n_estimators: int = 300, seed: int = 0):
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.multioutput import MultiOutputClassifier

        self.clf = MultiOutputClassifier(RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=2,
                                                                n_jobs=2, random_state=seed))

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "Baseline":
        self.clf.fit(X, Y.astype(int))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.stack([p[:, 1] if p.shape[1] > 1 else np.zeros(len(X)) for p in self.clf.predict_proba(X)], axis=1)
