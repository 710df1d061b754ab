"""End to end through the command line, on short synthetic audio."""
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from iram.roles import ROLES

pytestmark = pytest.mark.slow


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "iram", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


def one_line_error(r, *words):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("iram: error:")]
    assert lines, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def test_analyze_writes_the_output_contract(loop_wav, tmp_path):
    path, ref_beats, _ = loop_wav
    r = run("analyze", path, "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    stem = path.stem
    m = np.load(tmp_path / f"{stem}.iram.npy")
    d = json.loads((tmp_path / f"{stem}.iram.json").read_text())
    assert m.dtype == np.float32 and m.shape == (6, len(d["segments"])) and m.shape[1] >= 4
    assert d["roles"] == list(ROLES) and abs(d["bpm"] - 124.0) < 1.24
    for key in ("beats", "downbeats", "segments", "sections", "model", "duration", "iram_version", "thresholds"):
        assert key in d
    assert np.all(np.diff(d["beats"]) > 0) and d["beats"][-1] < d["duration"]
    starts = [s["start"] for s in d["segments"]]
    assert np.all(np.diff(starts) > 0) and all(0 <= s["start"] < s["end"] <= d["duration"] + 1e-3 for s in d["segments"])
    for k, s in enumerate(d["segments"]):
        assert list(s["roles"]) == list(ROLES)
        for i, role in enumerate(ROLES):
            assert s["roles"][role]["probability"] == pytest.approx(float(m[i, k]), abs=1e-4)
            assert s["roles"][role]["active"] == (m[i, k] >= d["thresholds"][i])
    full = [s for s in d["segments"] if not s["partial"]]
    assert full[0]["bars"][1] - full[0]["bars"][0] == 3
    from PIL import Image

    img = np.asarray(Image.open(tmp_path / f"{stem}.iram.png").convert("L"), float)
    assert img.shape[1] > 800 and img.shape[0] > 400 and img.std() > 20
    # the picture can be redrawn from the saved results alone
    (tmp_path / f"{stem}.iram.png").unlink()
    r = run("plot", tmp_path / f"{stem}.iram.json")
    assert r.returncode == 0 and (tmp_path / f"{stem}.iram.png").exists()
    # --skip-existing leaves results alone
    before = (tmp_path / f"{stem}.iram.json").stat().st_mtime_ns
    assert run("analyze", path, "-o", tmp_path, "--skip-existing", "--no-plot").returncode == 0
    assert (tmp_path / f"{stem}.iram.json").stat().st_mtime_ns == before


def test_python_api_round_trips_json(loop_wav):
    import iram
    from iram.result import Analysis

    a = iram.analyze(loop_wav[0])
    b = Analysis.from_json(json.loads(json.dumps(a.to_json())))
    assert np.allclose(a.iram, b.iram, atol=1e-4)
    assert [s.bars for s in b.segments] == [s.bars for s in a.segments]
    assert np.allclose([s.start for s in b.segments], [s.start for s in a.segments], atol=1e-3)
    assert [s.label for s in b.sections] == [s.label for s in a.sections]


def test_bad_inputs_get_one_line_and_no_output(tmp_path):
    one_line_error(run("analyze", tmp_path / "missing.wav"), "missing.wav", "no such file")
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    one_line_error(run("analyze", empty_dir), "no audio files")
    junk = tmp_path / "notes.wav"
    junk.write_text("not audio at all")
    one_line_error(run("analyze", junk, "-o", tmp_path), "notes.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    one_line_error(run("analyze", empty, "-o", tmp_path), "empty.wav")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(44100 * 10, np.float32), 44100)
    one_line_error(run("analyze", silent, "-o", tmp_path), "silent")
    short = tmp_path / "short.wav"
    sf.write(short, np.random.default_rng(0).standard_normal(44100).astype(np.float32) * 0.1, 44100)
    one_line_error(run("analyze", short, "-o", tmp_path), "short.wav", "shorter")
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    one_line_error(run("analyze", silent, "-o", blocker / "out"), "cannot create output folder")
    assert not list(tmp_path.glob("*.iram.*"))


def test_truncated_file(loop_wav, tmp_path):
    src = loop_wav[0]
    y, sr = sf.read(src)
    flac = tmp_path / "cut.flac"
    sf.write(flac, y, sr)
    data = flac.read_bytes()
    flac.write_bytes(data[: len(data) // 3])
    r = run("analyze", flac, "-o", tmp_path)
    # a cut FLAC either decodes its first third (a shorter track) or fails with one line
    assert "Traceback" not in r.stderr
    if r.returncode:
        one_line_error(r, "cut.flac")


def test_audio_shorter_than_four_bars_is_one_flagged_partial_segment(tmp_path):
    from conftest import drum_loop

    y, _, _ = drum_loop(bpm=124.0, bars=2, first_downbeat=0.1)
    p = tmp_path / "two_bars.wav"
    sf.write(p, y, 44100)
    r = run("analyze", p, "-o", tmp_path, "--no-plot")
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "two_bars.iram.json").read_text())
    assert len(d["segments"]) == 1 and d["segments"][0]["partial"]
    assert "shorter than 4 bars" in r.stderr


def test_a_bad_file_does_not_stop_a_batch(loop_wav, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.wav").write_bytes(loop_wav[0].read_bytes())
    (folder / "b.wav").write_text("broken")
    out = tmp_path / "out"
    r = run("analyze", folder, "-o", out, "--no-plot", "-q")
    assert r.returncode == 1 and "b.wav" in r.stderr and "Traceback" not in r.stderr
    assert (out / "a.iram.json").exists() and not (out / "b.iram.json").exists()


def test_a_batch_goes_past_every_kind_of_bad_input_with_one_line_each(loop_wav, tmp_path):
    good = loop_wav[0].read_bytes()
    y, sr = sf.read(loop_wav[0], dtype="float32")
    for d in ("a", "b", "x.wav"):  # x.wav: a folder with an audio file's name
        (tmp_path / d).mkdir()
    (tmp_path / "a" / "曲 track.wav").write_bytes(good)  # a name the plot font cannot draw
    (tmp_path / "b" / "曲 track.wav").write_bytes(good)  # same name, other folder, one -o
    nan = y.copy()
    nan[1000] = np.nan
    sf.write(tmp_path / "nan.wav", nan, sr, subtype="FLOAT")
    sf.write(tmp_path / "dc.wav", np.full(len(y), 0.25, np.float32), sr)
    mp3 = tmp_path / "half.mp3"
    sf.write(mp3, y, sr, format="MP3")
    mp3.write_bytes(mp3.read_bytes()[: mp3.stat().st_size // 2])
    (tmp_path / "cut.wav").write_bytes(good[: len(good) // 2])
    out = tmp_path / "out"
    r = run("analyze", *(tmp_path / n for n in ("a/曲 track.wav", "b/曲 track.wav", "x.wav", "nan.wav", "dc.wav", "half.mp3",
                                                "cut.wav")), "-o", out, "-q")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert all(ln.startswith("iram: error: ") for ln in lines), r.stderr  # no decoder or plotting warnings
    expect = {"b/曲 track.wav": "a/曲 track.wav", "x.wav": "no audio files", "nan.wav": "NaN", "dc.wav": "no music",
              "half.mp3": "truncated", "cut.wav": "truncated"}
    assert len(lines) == len(expect), r.stderr
    for name, word in expect.items():
        assert sum(name in ln and word in ln for ln in lines) == 1, (name, r.stderr)
    assert sorted(p.name for p in out.iterdir()) == [f"曲 track.iram.{e}" for e in ("json", "npy", "png")]
    assert json.loads((out / "曲 track.iram.json").read_text())["path"].endswith("a/曲 track.wav")


def test_a_symlinked_input_is_named_after_the_link_and_skipped_only_when_whole(loop_wav, tmp_path):
    link = tmp_path / "My Track.wav"
    link.symlink_to(loop_wav[0])
    out = tmp_path / "out"
    assert run("analyze", link, "-o", out, "-q", "--no-plot").returncode == 0
    js = out / "My Track.iram.json"
    assert json.loads(js.read_text())["path"] == str(link) and not (out / "loop124.iram.json").exists()
    before = js.stat().st_mtime_ns
    assert run("analyze", link, "-o", out, "-q", "--no-plot", "--skip-existing").returncode == 0
    assert js.stat().st_mtime_ns == before
    js.write_text(js.read_text()[:200])  # a cut-short result is not a finished one
    r = run("analyze", link, "-o", out, "-q", "--no-plot", "--skip-existing")
    assert r.returncode == 0, r.stderr
    assert abs(json.loads(js.read_text())["bpm"] - 124.0) < 1.24


def test_benchmark_composed_end_to_end(tmp_path):
    from iram.data.tracks import make_tracks

    tracks = make_tracks(n=1, out=tmp_path / "tracks", seed=5, progress=False)
    r = run("benchmark", "--set", "composed", tracks, "--out", tmp_path / "res", "-q")
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "res" / "composed.json").read_text())
    res = rep["results"]["default"]
    assert res["n_tracks"] == 1 and "downbeat_f" in res["summary"] and "hit_f_3.0s" in res["summary"]
    assert (tmp_path / "res" / "composed.md").read_text().startswith("### composed")
    # saved predictions are reused without the model; without --out, results go to ./iram-benchmark
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r2 = run("benchmark", "--set", "composed", tracks, "--predictions", tmp_path / "res" / "predictions-composed", "-q", cwd=elsewhere)
    assert r2.returncode == 0, r2.stderr
    again = json.loads((elsewhere / "iram-benchmark" / "composed.json").read_text())["results"]["default"]["roles"]["macro"]
    for k, v in res["roles"]["macro"].items():  # saved probabilities are rounded to 4 decimals
        assert again[k] == pytest.approx(v, abs=2e-3)


def test_benchmark_bad_inputs(tmp_path):
    one_line_error(run("benchmark", "--set", "nope"), "unknown set")
    one_line_error(run("benchmark", "--set", "drysdale2022"), "--audio")
    empty = tmp_path / "none"
    empty.mkdir()
    (empty / "x.txt").write_text("")
    from iram.annotations import drysdale_candidates

    if any(c.is_dir() for c in drysdale_candidates()):
        one_line_error(run("benchmark", "--set", "drysdale2022", "--audio", empty), "none of the ten")


def test_demo_runs_the_whole_job_and_finds_its_tempo_and_sections(tmp_path):
    from importlib.resources import files

    truth = json.loads(files("iram").joinpath("demo/iram-demo.truth.json").read_text())
    r = run("analyze", "--demo", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / "iram-demo.iram.json").read_text())
    assert abs(out["bpm"] / truth["tempo"] - 1) < 0.01
    assert (tmp_path / "iram-demo.iram.png").stat().st_size > 10_000
    starts = [s["start"] for s in truth["sections"]]
    assert all(min(abs(s["start"] - t) for s in out["sections"]) < 0.5 for t in starts)


def test_analyze_without_input_says_what_to_give():
    r = run("analyze")
    one_line_error(r, "--demo")
