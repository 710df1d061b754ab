"""The random-forest baseline: masked labels, one-class roles, and segment features taken from the right interval."""
import numpy as np
from sklearn.metrics import roc_auc_score

from iram.baseline import Baseline, segment_features
from iram.data.dataset import pack
from iram.train import Segments

SR = 16000


def test_forest_learns_each_role_from_its_known_labels_only():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4)).astype(np.float32)
    Y = (X[:, :3] > 0).astype(float)  # role r plays when feature r is positive
    masked = rng.random(Y.shape) < 0.3
    Y[masked] = np.nan
    Y = np.concatenate([Y, np.ones((400, 1))], axis=1)  # a role the training set only ever saw playing
    forest = Baseline(n_estimators=50, n_jobs=1).fit(X[:300], Y[:300])
    p = forest.predict_proba(X[300:])
    assert p.shape == (100, 4)
    for r in range(3):
        assert roc_auc_score(X[300:, r] > 0, p[:, r]) > 0.95  # the rule is learnt despite 30% masked cells
    np.testing.assert_array_equal(p[:, 3], 1.0)  # one class seen: that class, not 0


def test_segment_features_read_each_segment_over_its_own_interval():
    t = np.arange(8 * SR) / SR
    silence_then_tone = np.concatenate([np.zeros(8 * SR), 0.5 * np.sin(2 * np.pi * 440.0 * t)]).astype(np.float32)
    seg = Segments(audio=[pack(silence_then_tone)], spans=np.array([[0, 1, 0, 0], [0, 0, 0, 0]]),
                   labels=np.zeros((2, 6), np.float32), intervals=[np.array([[0.0, 8.0], [8.0, 16.0]])])
    F = segment_features(seg, sample_rate=SR)
    assert F.shape == (2, 92)
    centroid, rms = 39, 44  # means: 20 MFCC, 12 chroma, 7 contrast, then centroid, bandwidth, roll-off, flatness, ZCR, RMS
    assert abs(F[0, centroid] - 440.0) < 30.0  # span (0, 1): the tone
    assert F[0, rms] > 0.1 and F[1, rms] < 1e-4  # span (0, 0): the silence
