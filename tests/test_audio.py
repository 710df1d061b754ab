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


def _tone(seconds: float = 6.0, sr: int = 44100) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_nan_or_infinite_samples_are_refused(tmp_path):
    for bad in (np.nan, np.inf):
        y = _tone()
        y[5000] = bad
        p = tmp_path / f"bad{bad}.wav"
        sf.write(p, y, 44100, subtype="FLOAT")
        with pytest.raises(AudioError, match="NaN or infinite"):
            load(p)


def test_a_dc_offset_alone_is_no_music(tmp_path):
    dc = tmp_path / "dc.wav"
    sf.write(dc, np.full(44100 * 10, 0.3, np.float32), 44100)
    with pytest.raises(AudioError, match="no music"):
        load(dc)
    dither = tmp_path / "dc_dither.wav"  # an offset with noise below -80 dBFS
    sf.write(dither, 0.3 + 2e-5 * np.random.default_rng(0).standard_normal(44100 * 10).astype(np.float32), 44100, subtype="FLOAT")
    with pytest.raises(AudioError, match="no music"):
        load(dither)
    music = tmp_path / "music_on_dc.wav"  # a quiet tone riding on a large offset is music
    sf.write(music, 0.5 + 0.01 * _tone(), 44100)
    assert load(music).duration == pytest.approx(6.0, abs=0.01)


@pytest.mark.parametrize("fmt,ext", [("WAV", ".wav"), ("MP3", ".mp3"), ("AIFF", ".aiff")])
def test_truncated_files_are_refused_and_decoder_chatter_held_back(tmp_path, capfd, fmt, ext):
    full = tmp_path / f"full{ext}"
    sf.write(full, _tone(10.0), 44100, format=fmt)
    assert load(full).duration == pytest.approx(10.0, abs=0.05)
    cut = tmp_path / f"cut{ext}"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2 + 17])  # the header still announces 10 s
    capfd.readouterr()
    with pytest.raises(AudioError, match=r"cut\..*truncated.*announces 10\.0 s"):
        load(cut)
    assert capfd.readouterr().err == ""  # mpg123 warns about the Xing size on fd 2; not past iram


def test_a_wav_streamed_through_a_pipe_is_not_truncated(tmp_path):
    p = tmp_path / "piped.wav"
    sf.write(p, _tone(), 44100, subtype="PCM_16")
    data = bytearray(p.read_bytes())
    i = data.index(b"data")
    data[i + 4:i + 8] = b"\xff\xff\xff\xff"  # what ffmpeg writes when it cannot seek back
    p.write_bytes(bytes(data))
    assert load(p).duration == pytest.approx(6.0, abs=0.01)


def test_needs_ffmpeg_only_for_audio_that_needs_it(tmp_path, monkeypatch):
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    wav = tmp_path / "a.wav"
    sf.write(wav, _tone(), 44100)
    m4a = tmp_path / "a.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), str(m4a)], check=True)
    assert load(m4a).duration == pytest.approx(6.0, abs=0.1)
    notes = tmp_path / "notes.m4a"
    notes.write_text("shopping list, not audio")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(AudioError, match="needs ffmpeg"):
        load(m4a)
    with pytest.raises(AudioError, match="notes.m4a: not audio"):
        load(notes)
    from iram.audio import _without_ffmpeg

    flac = tmp_path / "a.flac"  # a FLAC that libsndfile could not read is damaged, not ffmpeg's
    sf.write(flac, _tone(), 44100)
    assert "a.flac: damaged FLAC file (libsndfile: lost sync)" in str(_without_ffmpeg(flac, RuntimeError("lost sync")))


def test_damaged_data_that_ffmpeg_reports_is_refused(tmp_path):
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    wav = tmp_path / "a.wav"
    sf.write(wav, _tone(10.0), 44100)
    m4a = tmp_path / "a.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-movflags", "+faststart", str(m4a)], check=True)
    data = m4a.read_bytes()
    m4a.write_bytes(data[: len(data) // 2])  # index first, so ffmpeg decodes half and complains
    with pytest.raises(AudioError, match="a.m4a: audio data is truncated or corrupt"):
        load(m4a)


@pytest.mark.parametrize("start", ["silent", "noisy"])
def test_an_mp3_without_a_length_header_is_decoded_to_its_end(tmp_path, start):
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    rng = np.random.default_rng(0)
    first = np.zeros(44100) if start == "silent" else 0.5 * rng.standard_normal(44100)
    y = np.concatenate([first, _tone(9.0)]).astype(np.float32)
    wav, mp3 = tmp_path / "a.wav", tmp_path / "vbr.mp3"
    sf.write(wav, y, 44100)
    # VBR without a Xing header: the length guessed from the first frame's bitrate is far too
    # long (silent start) or far too short (noisy start; libsndfile stops there)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-q:a", "4", "-write_xing", "0", str(mp3)], check=True)
    assert load(mp3).duration == pytest.approx(10.0, abs=0.1)


def test_decoder_chatter_held_back_from_threads_decoding_at_once(capfd):
    import os
    import sys
    import threading

    from iram.audio import _c_stderr_held_back

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():  # enters first, leaves while b is still inside
        with _c_stderr_held_back():
            a_in.set()
            b_in.wait(10)
            os.write(2, b"mpg123 chatter from a\n")
        a_out.set()

    def b():
        a_in.wait(10)
        with _c_stderr_held_back():
            b_in.set()
            a_out.wait(10)
            os.write(2, b"mpg123 chatter from b\n")

    threads = [threading.Thread(target=f) for f in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    print("stderr works again", file=sys.stderr, flush=True)
    err = capfd.readouterr().err
    assert "chatter" not in err and "stderr works again" in err
