import numpy as np
import torch

from iram.features import FrontEndConfig, HarmonicFilterbank, LogMel
from iram.model import ModelConfig, RoleCNN
from iram.roles import ROLES


def test_pure_tone_excites_its_pitch_and_harmonic_channels():
    cfg = FrontEndConfig()
    fb = HarmonicFilterbank(cfg)
    f0 = 220.0  # A3
    t = torch.arange(cfg.sample_rate * 2) / cfg.sample_rate
    y = fb(torch.sin(2 * np.pi * f0 * t)[None])[0].mean(dim=-1)  # (harmonics, bands)
    band = int(round(12 * cfg.bands_per_semitone * np.log2(f0 / cfg.f_min)))
    # channel 1 (harmonic 1): the band of f0 is the strongest
    assert abs(int(y[0].argmax()) - band) <= 1
    # channel 2 (harmonic 2) sees energy at 2*f0 in the band of pitch f0/2, i.e. one octave below
    assert abs(int(y[1].argmax()) - (band - 12 * cfg.bands_per_semitone)) <= 1


def test_wide_front_end_reaches_nyquist_in_channel_1_and_leaves_higher_harmonics_empty():
    cfg = FrontEndConfig()  # 192 bands: channel 1 from C1 up to about 8 kHz
    fb = HarmonicFilterbank(cfg)
    f0 = 3000.0  # above the top band of 128 (about 1.3 kHz): a formant or a hi-hat's ring
    t = torch.arange(cfg.sample_rate * 2) / cfg.sample_rate
    y = fb(torch.sin(2 * np.pi * f0 * t)[None])[0].mean(dim=-1).detach()
    band = int(round(12 * cfg.bands_per_semitone * np.log2(f0 / cfg.f_min)))
    assert band > 128
    assert abs(int(y[0].argmax()) - band) <= 1
    # harmonic 3 of that band lies at 9 kHz, above Nyquist: its filter is empty and reads the log floor
    assert abs(float(y[2, band]) - np.log10(1e-6)) < 1e-5
    net = RoleCNN(ModelConfig(front=cfg)).eval()
    with torch.inference_mode():
        assert net(torch.randn(2, 48000) * 0.1).shape == (2, len(ROLES))


def test_logmel_shape():
    cfg = FrontEndConfig(harmonic=False)
    y = LogMel(cfg)(torch.randn(2, 16000))
    assert y.shape[:3] == (2, 1, cfg.n_bands)


def test_model_output_shape_and_range():
    net = RoleCNN(ModelConfig()).eval()
    with torch.inference_mode():
        p = torch.sigmoid(net(torch.randn(3, 48000) * 0.1))
    assert p.shape == (3, len(ROLES))
    assert bool(((p >= 0) & (p <= 1)).all())
