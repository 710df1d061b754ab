import numpy as np
import pytest
import soundfile as sf

from iram.audio import load
from iram.errors import AudioError


@pytest.mark.parametrize("fmt,ext", [("WAV", ".wav"), ("FLAC", ".flac"), ("OGG", ".ogg"), ("AIFF", ".aiff"), ("MP3", ".mp3")])
def test_formats_rates_and_channels(tmp_path, fmt, ext):
    sr = 22050
    t = np.arange(sr * 2) / sr
    y = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1).astype(np.float32) * 0.5
    p = tmp_path / f"a{ext}"
    sf.write(p, y, sr, format=fmt)
    au = load(p, rates=(16000, 44100))
    assert abs(len(au.at(16000)) - 32000) < 2000 and abs(len(au.at(44100)) - 88200) < 5000
    assert au.duration == pytest.approx(2.0, abs=0.1)
    spec = np.abs(np.fft.rfft(au.at(16000)))
    assert abs(np.fft.rfftfreq(len(au.at(16000)), 1 / 16000)[spec.argmax()] - 440) < 5


def test_bad_files(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load(tmp_path / "missing.wav")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(44100, np.float32), 44100)
    with pytest.raises(AudioError, match="silent"):
        load(silent)
    junk = tmp_path / "junk.wav"
    junk.write_text("this is not audio")
    with pytest.raises(AudioError, match="junk.wav"):
        load(junk)
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty.flac"):
        load(empty)


def test_atomic_outputs_get_normal_permissions_and_keep_existing_ones(tmp_path):
    import os

    from iram.io import write_text

    new = tmp_path / "new.txt"
    write_text(new, "x")
    mask = os.umask(0)
    os.umask(mask)
    assert new.stat().st_mode & 0o777 == 0o666 & ~mask
    old = tmp_path / "old.txt"
    old.write_text("a")
    old.chmod(0o640)
    write_text(old, "b")
    assert old.stat().st_mode & 0o777 == 0o640 and old.read_text() == "b"
