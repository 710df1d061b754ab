"""Training augmentation that makes an example sound like a released master.

Released tracks are compressed, limited, tilted in tone and often lossy-encoded;
iram's own loops and renders are not, so level and density would otherwise tell
the network what a release never shows. :func:`master` runs one random chain of
Spotify's pedalboard (JUCE plugins and LAME), not hand-written DSP.

Stereo width is left out: the role network hears a mono downmix, and iram's
training material is stored mono.
"""
from __future__ import annotations

import numpy as np

DRIVE_DB = 12.0  # most limiting a master gets here: peaks pushed up to 12 dB into the limiter
VBR_QUALITY = (2.0, 6.0)  # LAME VBR quality: about 190 kb/s (V2) to 130 kb/s (V6) at 44.1 kHz


def master(x: np.ndarray, rng: np.random.Generator, sample_rate: int, *, lossy_prob: float = 0.5) -> np.ndarray:
    """``x`` (n,) float32 mono through a random mastering chain; same length and rate.

    Chain, on the input scaled to a 0 dBFS peak: a low and a high shelf of up to +-6 dB
    (a tonal tilt), a bus compressor (threshold -24..-12 dBFS, ratio 1.5..4, attack
    5..30 ms, release 50..300 ms), a drive of 0..``DRIVE_DB`` dB into a limiter at -1 dBFS
    (the loudness war) and, with probability ``lossy_prob``, an MP3 encode and decode
    (LAME VBR quality 2..6).
    The output keeps the input's RMS, so the gain augmentation around it still decides level.
    """
    import pedalboard as pb

    x = np.asarray(x, dtype=np.float32)
    peak = float(np.abs(x).max())
    if peak <= 0:
        return x
    chain = [
        pb.LowShelfFilter(cutoff_frequency_hz=float(rng.uniform(80, 300)), gain_db=float(rng.uniform(-6, 6))),
        pb.HighShelfFilter(cutoff_frequency_hz=float(rng.uniform(2000, min(7000, 0.4 * sample_rate))), gain_db=float(rng.uniform(-6, 6))),
        pb.Compressor(threshold_db=float(rng.uniform(-24, -12)), ratio=float(rng.uniform(1.5, 4)),
                      attack_ms=float(rng.uniform(5, 30)), release_ms=float(rng.uniform(50, 300))),
        pb.Gain(gain_db=float(rng.uniform(0, DRIVE_DB))),  # loudness drive into the limiter
        pb.Limiter(threshold_db=-1.0, release_ms=float(rng.uniform(50, 200))),
    ]
    if rng.random() < lossy_prob:
        chain.append(pb.MP3Compressor(vbr_quality=float(rng.uniform(*VBR_QUALITY))))
    y = pb.Pedalboard(chain)(x / peak, sample_rate, reset=True)[: len(x)]
    y = np.pad(y, (0, len(x) - len(y)))  # the MP3 round trip can come back a few samples short
    rms_in, rms_out = float(np.sqrt(np.mean(x ** 2))), float(np.sqrt(np.mean(y ** 2)))
    return (y * (rms_in / rms_out) if rms_out > 0 else y).astype(np.float32)
