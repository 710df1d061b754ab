import numpy as np
import pytest
import soundfile as sf
import torch

from iram.features import FrontEndConfig
from iram.model import ModelConfig, RoleCNN
from iram.roles import ROLES
from iram.train import TrainConfig, balanced_weights, batch_of, train
from iram.data.dataset import load_dataset
from iram.errors import DataError


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


def _toy_track(folder, name="t", sr=16000, seg_s=6.0):
    """Four 6 s segments, each a constant level 0.1 * (j + 1): bass+chord, percussion, nothing, voice."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    labels = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]])
    y = np.concatenate([np.full(int(seg_s * sr), 0.1 * (j + 1), np.float32) for j in range(4)])
    sf.write(folder / f"{name}.wav", y, sr, subtype="FLOAT")
    segs = [{"start": j * seg_s, "end": (j + 1) * seg_s} for j in range(4)]
    (folder / f"{name}.truth.json").write_text(json.dumps({"roles": list(ROLES), "segments": segs,
                                                           "activations": labels.tolist()}))
    return folder, labels


def test_segment_crops_stay_inside_their_segment_and_carry_its_labels(tmp_path):
    from iram.activations import EDGE_S
    from iram.train import load_segments, segment_batch

    folder, labels = _toy_track(tmp_path / "tracks")
    seg = load_segments([folder], 16000)
    assert len(seg.labels) == 4 and (seg.spans[:, 3] - seg.spans[:, 2] == int((6.0 - 2 * EDGE_S) * 16000)).all()
    rng = np.random.default_rng(1)
    for _ in range(5):
        idx = rng.integers(0, 4, size=6)
        x, y = segment_batch(seg, idx, rng, max_seconds=2.0, sample_rate=16000)
        assert x.shape == (6, 32000)
        for row, lab, j in zip(x.numpy(), y.numpy(), seg.spans[idx, 1]):
            assert np.ptp(row / row[0]) < 1e-3  # one constant level: never crosses into the next segment
            np.testing.assert_array_equal(lab, labels[:, j])


def test_fine_tuning_on_tracks_starts_from_the_checkpoint_and_records_segments(tmp_path):
    from iram.model import load

    data = _toy_dataset(tmp_path)
    tracks, _ = _toy_track(tmp_path / "tracks")
    cfg = ModelConfig(front=FrontEndConfig(n_bands=32, n_harmonics=2), widths=(4, 8), hidden=16, window=1.0)
    first = tmp_path / "m.pt"
    train([data], data, first, model_cfg=cfg, cfg=TrainConfig(epochs=1, steps_per_epoch=2, batch=4), progress=False, log=lambda m: None)
    out = tmp_path / "ft.pt"
    train([data], data, out, cfg=TrainConfig(epochs=1, steps_per_epoch=2, batch=4, segment_batch=2, segment_seconds=2.0),
          tracks=[tracks], valid_tracks=[tracks], init=first, progress=False, log=lambda m: None)
    m = load(out)
    hist = m.training["history"]
    assert m.net.cfg == load(first).net.cfg and m.name == "hcnn"
    assert hist[0]["epoch"] == 0 and "valid_segments_roc_auc" in hist[1]
    assert m.training["n_train_segments"] == 4 and "valid_segments" in m.metrics
    assert m.training["init"]["path"] == str(first) and m.training["init"]["training"]["epochs"] == 1


def _toy_modules(root):
    """A rendered-modules folder (DIR/<split>/<slug>/mix.flac + truth.json) from toy tracks, one masked cell."""
    import json

    for split in ("train", "valid"):
        folder, labels = _toy_track(root / split / f"toy-{split}", name="mix")
        (folder / "mix.wav").rename(folder / "mix.flac")  # soundfile reads by content
        d = json.loads((folder / "mix.truth.json").read_text())
        d["activations"][0][1] = None  # percussion in segment 2: doubtful, masked
        (folder / "truth.json").write_text(json.dumps(d))
        (folder / "mix.truth.json").unlink()
    return root


def test_fine_tuning_on_modules_trains_on_their_train_split_and_stops_on_their_valid_split(tmp_path):
    from iram.model import load
    from iram.train import load_segments

    data = _toy_dataset(tmp_path)
    mods = _toy_modules(tmp_path / "modules")
    seg = load_segments([], 16000, modules=mods, split="train")
    assert len(seg.labels) == 4 and np.isnan(seg.labels[1, 0]) and np.isnan(seg.labels).sum() == 1
    cfg = ModelConfig(front=FrontEndConfig(n_bands=32, n_harmonics=2), widths=(4, 8), hidden=16, window=1.0)
    first = tmp_path / "m.pt"
    train([data], data, first, model_cfg=cfg, cfg=TrainConfig(epochs=1, steps_per_epoch=2, batch=4), progress=False, log=lambda m: None)
    out = tmp_path / "ft.pt"
    train([data], data, out, cfg=TrainConfig(epochs=1, steps_per_epoch=2, batch=4, segment_batch=2, segment_seconds=2.0),
          modules=mods, init=first, progress=False, log=lambda m: None)
    m = load(out)
    h = m.training["history"]
    assert h[1]["score"] == h[1]["valid_real_roc_auc"] and "valid_roc_auc" in h[1]  # real music decides, synthetic beside
    assert m.training["n_train_segments"] == 4 and m.training["n_valid_real_segments"] == 4
    assert len(m.training["loop_thresholds"]) == len(ROLES)  # iram tag keeps thresholds chosen on loops
    rel = m.metrics["valid_real"]["reliability"]["percussion"]
    assert sum(rel["count"]) == 3  # the masked cell is left out of the calibration too
    assert m.metrics["valid_real"]["roles"]["percussion"]["n"] == 3


def test_random_eq_colours_the_spectrum_smoothly_within_its_range():
    from iram.train import random_eq

    x = np.random.default_rng(0).standard_normal(48000).astype(np.float32)
    assert np.array_equal(random_eq(x, np.random.default_rng(1), 0.0, 16000), x)
    gains = []
    for seed in range(20):
        y = random_eq(x, np.random.default_rng(seed), 6.0, 16000)
        assert y.dtype == np.float32 and y.shape == x.shape
        g = 20 * np.log10(np.abs(np.fft.rfft(y))[1:] / np.abs(np.fft.rfft(x))[1:])
        assert np.abs(g).max() < 6 + 3 * 6  # tilt plus three bumps of at most about 3 sigma
        assert np.abs(np.diff(g)).max() < 0.2  # smooth: no notch or step between neighbouring bins (1/3 Hz apart)
        gains.append(g)
    assert np.std([g[2000] - g[20000] for g in gains]) > 1.0  # it does vary from draw to draw


def test_shifted_crop_moves_a_tone_by_the_drawn_interval_and_zero_is_a_plain_crop():
    from iram.train import crop, shifted_crop

    sr, n = 16000, 24000
    x = np.sin(2 * np.pi * 440 * np.arange(3 * sr) / sr).astype(np.float32)
    assert np.array_equal(shifted_crop(x, n, np.random.default_rng(1), 0.0), crop(x, n, np.random.default_rng(1)))
    moved = []
    for seed in range(8):
        y = shifted_crop(x, n, np.random.default_rng(seed), 3.0)
        s = np.random.default_rng(seed).uniform(-3, 3)  # the draw shifted_crop makes first
        f = np.argmax(np.abs(np.fft.rfft(y * np.hanning(n)))) * sr / n
        assert y.shape == (n,) and y.dtype == np.float32
        assert abs(12 * np.log2(f / 440) - s) < 0.1  # within a tenth of a semitone of the drawn shift
        moved.append(s)
    assert max(moved) - min(moved) > 2.0


def test_mastering_chain_flattens_dynamics_keeps_length_and_rms_and_zero_is_off():
    from iram.augment import master
    from iram.train import mastered

    sr, rng = 16000, np.random.default_rng(0)
    t = np.arange(4 * sr) / sr
    kick = np.zeros(len(t))
    for b in range(0, len(t), sr // 2):  # a kick every half second over a quiet tone and noise
        kick[b:b + 2000] += np.sin(2 * np.pi * 60 * np.arange(2000) / sr) * np.exp(-np.arange(2000) / 400)
    x = (0.6 * kick + 0.1 * np.sin(2 * np.pi * 220 * t) + 0.02 * rng.normal(size=len(t))).astype(np.float32)

    def crest(z):
        return np.abs(z).max() / np.sqrt(np.mean(z ** 2))

    ys = [master(x, rng, sr) for _ in range(12)]
    assert all(len(y) == len(x) and np.all(np.isfinite(y)) for y in ys)
    assert all(abs(np.sqrt(np.mean(y ** 2)) / np.sqrt(np.mean(x ** 2)) - 1) < 1e-3 for y in ys)
    assert np.median([crest(y) for y in ys]) < 0.7 * crest(x)  # a master is denser than the raw mix
    state = np.random.default_rng(5).bit_generator.state
    r = np.random.default_rng(5)
    assert mastered(x, r, 0.0, sr) is x and r.bit_generator.state == state  # off: same audio, no random draw


def test_masked_cells_are_left_out_of_loss_sampling_and_scores():
    import torch

    from iram.evaluate import classification_scores
    from iram.train import balanced_weights, masked_bce

    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    y = torch.tensor([[1.0, float("nan")], [0.0, 1.0]])
    full = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.nan_to_num(y), reduction="none")
    assert torch.isclose(masked_bce(logits, y), full[[0, 1, 1], [0, 0, 1]].mean())
    assert torch.isclose(masked_bce(logits, torch.nan_to_num(y)), torch.nn.BCEWithLogitsLoss()(logits, torch.nan_to_num(y)))
    w = balanced_weights(np.array([[1, np.nan], [0, 1], [1, 0]]))
    assert np.all(np.isfinite(w)) and abs(w.sum() - 1) < 1e-9
    yt = np.array([[1, 0], [0, np.nan], [1, 1], [0, 0]], float)
    p = np.array([[0.9, 0.1], [0.2, 0.99], [0.8, 0.7], [0.1, 0.3]])
    sc = classification_scores(yt, p, roles=("a", "b"))
    assert sc["roles"]["b"]["n"] == 3 and sc["roles"]["b"]["roc_auc"] == 1.0  # the masked 0.99 is not a false alarm
    assert sc["roles"]["a"]["n"] == 4 and sc["n"] == 4


def test_leave_out_drops_a_module_and_every_mix_made_from_it(tmp_path):
    import json

    from iram.train import load_segments

    mods = _toy_modules(tmp_path / "modules")
    tracks, _ = _toy_track(tmp_path / "tracks", name="remix")
    d = json.loads((tracks / "remix.truth.json").read_text())
    (tracks / "remix.truth.json").write_text(json.dumps({**d, "source": {"module": "toy-train", "gain_db": {}}}))
    _toy_track(tracks, name="cross")
    pieces = [["toy-train"], ["other"], ["other", "toy-train"], ["other"]]
    (tracks / "cross.truth.json").write_text(json.dumps({**d, "source": [[{"module": m} for m in seg] for seg in pieces]}))
    everything = load_segments([tracks], 16000, modules=mods, split="train")
    assert len(everything.labels) == 12 and everything.names == ["cross", "remix", "toy-train"]
    kept = load_segments([tracks], 16000, modules=mods, split="train", leave_out=frozenset({"toy-train"}))
    assert kept.names == ["cross"] and list(kept.spans[:, 1]) == [1, 3]  # segments with a piece of it go
    only = load_segments([], 16000, modules=mods, split="train", only=frozenset({"toy-train"}))
    assert only.names == ["toy-train"] and len(only.labels) == 4


def test_package_folds_keep_a_package_together_and_deal_packages_in_turn():
    from iram.data.modules import Entry, package_folds

    es = [Entry(slug=f"{p}-{k}", package=p, path="", format="xm", composer="", title="", split="train", electronic="yes",
                rows_per_beat=4, beats_per_bar=4, downbeat_row=0, count_from="pattern") for p in "dbca" for k in range(2)]
    assert package_folds(es, 2) == {"a": 0, "b": 1, "c": 0, "d": 1}


def test_a_fold_run_trains_without_the_held_out_packages_and_scores_them(tmp_path):
    import shutil

    from iram.data.modules import package_folds, read_table
    from iram.model import load

    entries = [e for e in read_table() if e.split == "train"]
    folds = package_folds(entries, 2)
    a = next(e.slug for e in entries if folds[e.package] == 0)
    b = next(e.slug for e in entries if folds[e.package] == 1)
    mods = _toy_modules(tmp_path / "modules")  # toy audio under two real train slugs, one per fold
    shutil.copytree(mods / "train" / "toy-train", mods / "train" / b)
    (mods / "train" / "toy-train").rename(mods / "train" / a)
    data = _toy_dataset(tmp_path)
    cfg = ModelConfig(front=FrontEndConfig(n_bands=32, n_harmonics=2), widths=(4, 8), hidden=16, window=1.0)
    first = tmp_path / "m.pt"
    train([data], data, first, model_cfg=cfg, cfg=TrainConfig(epochs=1, steps_per_epoch=2, batch=4), progress=False, log=lambda m: None)
    out = tmp_path / "fold.pt"
    train([data], data, out, cfg=TrainConfig(epochs=1, steps_per_epoch=2, batch=4, segment_batch=2, segment_seconds=2.0),
          modules=mods, init=first, fold=(1, 2), progress=False, log=lambda m: None)
    m = load(out)
    assert a in m.training["fold"]["held_out"] and b not in m.training["fold"]["held_out"]
    assert m.training["n_train_segments"] == 4 and m.metrics["held_out"]["roles"]["percussion"]["n"] == 3
    with pytest.raises(DataError, match="--fold"):
        train([data], data, out, modules=mods, init=first, fold=(3, 2), progress=False, log=lambda m: None)
