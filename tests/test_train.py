import numpy as np
import soundfile as sf
import torch

from iram.features import FrontEndConfig
from iram.model import ModelConfig, RoleCNN
from iram.roles import ROLES
from iram.train import TrainConfig, balanced_weights, batch_of, train
from iram.data.dataset import load_dataset


def _toy_dataset(folder, n=12, sr=16000):
    """Low sine tones labelled bass, noise bursts labelled percussion."""
    rng = np.random.default_rng(0)
    rows = ["file," + ",".join(ROLES)]
    for i in range(n):
        t = np.arange(sr * 3) / sr
        if i % 2:
            y = 0.3 * np.sin(2 * np.pi * rng.uniform(40, 80) * t)
            lab = [0, 1, 0, 0, 0, 0]
        else:
            y = rng.standard_normal(len(t)) * (np.arange(len(t)) % 4000 < 800) * 0.3
            lab = [1, 0, 0, 0, 0, 0]
        sf.write(folder / f"c{i}.wav", y.astype(np.float32), sr)
        rows.append(f"c{i}.wav," + ",".join(map(str, lab)))
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_tiny_model_lowers_its_loss(tmp_path):
    ds = load_dataset(_toy_dataset(tmp_path))
    torch.manual_seed(0)
    cfg = ModelConfig(front=FrontEndConfig(n_bands=32, n_harmonics=2), widths=(4, 8), hidden=16, dropout=0.0, window=1.0)
    net = RoleCNN(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    x, y = batch_of(ds, np.arange(len(ds.files)), 16000, rng, 0.0, balanced_weights(ds.labels))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    net.train()
    first = loss_fn(net(x), y).item()
    for _ in range(40):
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_train_writes_a_loadable_checkpoint(tmp_path):
    from iram.model import load

    data = _toy_dataset(tmp_path)
    out = tmp_path / "m.pt"
    cfg = ModelConfig(front=FrontEndConfig(n_bands=32, n_harmonics=2), widths=(4, 8), hidden=16, window=1.0)
    train([data], data, out, model_cfg=cfg, cfg=TrainConfig(epochs=1, steps_per_epoch=2, batch=4), progress=False, log=lambda m: None)
    m = load(out)
    assert m.roles == ROLES and len(m.thresholds) == 6 and "valid" in m.metrics
