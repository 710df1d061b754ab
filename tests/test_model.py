import numpy as np
import pytest
import torch

from iram import model as M
from iram.errors import ModelError
from iram.roles import ROLES


def test_bundled_checkpoint_loads_and_scores_a_clip():
    rm = M.load()
    assert rm.roles == ROLES and len(rm.thresholds) == len(ROLES)
    assert M.bundled_path().stat().st_size < 20 * 2**20
    assert "test" in rm.metrics  # it carries its own held-out scores
    from iram.activations import frame_features, score_segments

    y = np.random.default_rng(0).standard_normal(5 * rm.sample_rate).astype(np.float32) * 0.1
    z, fps = frame_features(rm.net, y)
    p = score_segments(rm.net, z, fps, [(0.0, 5.0), (1.0, 4.0)])
    assert p.shape == (len(ROLES), 2) and np.all((p >= 0) & (p <= 1))


def test_audio_shorter_than_one_window_is_refused():
    from iram.activations import frame_features

    rm = M.load()
    with pytest.raises(ModelError, match="shorter than"):
        frame_features(rm.net, np.zeros(rm.sample_rate, np.float32))


def test_corrupt_checkpoint(tmp_path):
    p = tmp_path / "bad.pt"
    p.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="bad.pt: not a readable"):
        M.load(p)


def test_foreign_checkpoint(tmp_path):
    p = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}, "something": 1}, p)
    with pytest.raises(ModelError, match="not an iram role-classifier"):
        M.load(p)


def test_checkpoint_for_other_roles(tmp_path):
    net = M.RoleCNN(M.ModelConfig(widths=(4,), hidden=8))
    p = tmp_path / "roles.pt"
    M.save(p, net, thresholds=[0.5] * 6, name="t", version="0", training={}, metrics={})
    ckpt = torch.load(p, weights_only=True)
    ckpt["roles"] = ["drums", "bass", "other"]
    torch.save(ckpt, p)
    with pytest.raises(ModelError, match="other roles|scores roles"):
        M.load(p)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        M.load(tmp_path / "nope.pt")
