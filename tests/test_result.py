"""The result files: names, validation on load and save, skip-existing, atomic writes under failure."""
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from iram.errors import IramError
from iram.result import Analysis, load_results, output_paths, outputs_complete, plot_path, save, unique_outputs
from iram.roles import ROLES
from iram.sections import Section
from iram.segments import Segment


def _analysis(path, n=4) -> Analysis:
    segs = tuple(Segment(8.0 * k, 8.0 * (k + 1), (4 * k + 1, 4 * k + 4)) for k in range(n))
    iram = np.linspace(0.05, 0.95, 6 * n, dtype=np.float32).reshape(6, n)
    return Analysis(path=str(path), duration=8.0 * n, bpm=120.0, beats=np.arange(0, 8.0 * n, 0.5),
                    downbeats=np.arange(0, 8.0 * n, 2.0), segments=segs, iram=iram, thresholds=(0.5,) * 6,
                    sections=(Section(0.0, 8.0 * n, (1, 4 * n), "drop", ("percussion",), "Drop 1"),), model={"name": "test"})


def _results(tmp_path, name="track.iram.json", **change) -> Path:
    d = _analysis(tmp_path / "track.wav").to_json()
    d.update(change)
    p = tmp_path / name
    p.write_text(json.dumps(d))
    return p


def iram_main(*args) -> int:
    from iram.cli import main

    return main([str(a) for a in args])


def test_plot_never_overwrites_a_results_file_not_named_iram_json(tmp_path, capsys):
    r = _results(tmp_path, "results.json")
    before = r.read_bytes()
    assert iram_main("plot", r) == 0
    assert r.read_bytes() == before
    png = tmp_path / "results.iram.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert plot_path(tmp_path / "x.iram.json") == tmp_path / "x.iram.png"
    for odd in ("results", "x.png", "x.iram.png", ".json"):
        assert plot_path(tmp_path / odd) != tmp_path / odd


@pytest.mark.parametrize("change,words", [
    ({"segments": []}, "no segments"),
    ("probability high", "'high' is not a number"),
    ("probability NaN", "nan is not a number"),
    ({"bpm": float("inf")}, "bpm inf"),
    ({"thresholds": [0.5] * 5}, "5 thresholds"),
])
def test_malformed_results_get_one_line(tmp_path, capsys, change, words):
    if isinstance(change, str):
        d = _analysis(tmp_path / "track.wav").to_json()
        d["segments"][1]["roles"]["bass"]["probability"] = "high" if "high" in change else float("nan")
        r = tmp_path / "track.iram.json"
        r.write_text(json.dumps(d))  # json.dumps writes a bare NaN, as the old iram did
    else:
        r = _results(tmp_path, **change)
    with pytest.raises(IramError, match=words):
        load_results(r)
    assert iram_main("plot", r) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("iram: error:") and "track.iram.json" in err and words in err
    assert not (tmp_path / "track.iram.png").exists()


def test_a_result_with_nan_is_never_written(tmp_path):
    a = _analysis(tmp_path / "track.wav")
    a.iram[2, 1] = np.nan
    with pytest.raises(IramError, match="NaN"):
        save(a, outdir=tmp_path, plot=False)
    assert not list(tmp_path.iterdir())


def test_a_full_disk_is_one_line_and_keeps_the_old_file(tmp_path, capsys, monkeypatch):
    a = _analysis(tmp_path / "track.wav")
    paths = save(a, outdir=tmp_path, plot=False)
    before = paths["json"].read_bytes()

    def full(self, *args, **kwargs):
        Path(args[0]).write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    import matplotlib.figure

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    assert iram_main("plot", paths["json"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "track.iram.png" in err and "No space left" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["track.iram.json", "track.iram.npy"]
    monkeypatch.setattr(np, "save", lambda f, x: (f.write(b"half"), full(None, f.name))[1])
    with pytest.raises(IramError, match="track.iram.npy: cannot write it"):
        save(a, outdir=tmp_path, plot=False)
    assert paths["json"].read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["track.iram.json", "track.iram.npy"]


def test_sigterm_while_saving_leaves_no_temporary_file(tmp_path):
    r = _results(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    script = f"""
import os, signal, time, matplotlib.figure
def slow(self, fname, **kw):
    open(fname, "wb").write(b"\\x89PNG half")
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)
matplotlib.figure.Figure.savefig = slow
from iram.cli import main
raise SystemExit(main(["plot", {str(r)!r}, "-o", {str(out)!r}]))
"""
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert list(out.iterdir()) == []


def test_skip_existing_needs_whole_outputs(tmp_path):
    a = _analysis(tmp_path / "track.wav")
    paths = save(a, outdir=tmp_path, plot=False)
    assert outputs_complete(paths, plot=False) and not outputs_complete(paths, plot=True)
    paths["png"].write_bytes(b"\x89PNG\r\n\x1a\n...")
    assert outputs_complete(paths, plot=True)
    paths["json"].write_text(paths["json"].read_text()[:-20])  # cut short
    assert not outputs_complete(paths, plot=False)
    save(a, outdir=tmp_path, plot=False)
    np.save(paths["npy"], np.zeros((6, 3), np.float32))  # does not match the JSON
    assert not outputs_complete(paths, plot=False)


def test_analyze_file_redoes_corrupt_or_partial_outputs(tmp_path, monkeypatch):
    import importlib

    an = importlib.import_module("iram.analyze")  # the module: iram.analyze is also the function's name
    calls = []

    def fake_run(path, **kw):
        calls.append(path)
        return _analysis(os.path.abspath(path)), np.zeros(16000 * 32, np.float32)

    monkeypatch.setattr(an, "_run", fake_run)
    wav = tmp_path / "track.wav"
    wav.write_bytes(b"")
    assert an.analyze_file(wav, outdir=tmp_path, plot=False) is not None
    assert an.analyze_file(wav, outdir=tmp_path, plot=False, skip_existing=True) is None and len(calls) == 1
    assert an.analyze_file(wav, outdir=tmp_path, plot=True, skip_existing=True) is not None  # no PNG yet
    assert len(calls) == 2 and (tmp_path / "track.iram.png").exists()
    (tmp_path / "track.iram.json").write_text('{"roles": ')
    assert an.analyze_file(wav, outdir=tmp_path, skip_existing=True) is not None and len(calls) == 3
    assert load_results(tmp_path / "track.iram.json").bpm == 120.0


def test_outputs_are_named_after_the_path_as_given(tmp_path):
    target = tmp_path / "store" / "0a1b2c.wav"
    target.parent.mkdir()
    target.write_bytes(b"x")
    link = tmp_path / "My Track.wav"
    link.symlink_to(target)
    assert output_paths(link)["json"] == tmp_path / "My Track.iram.json"


def test_two_inputs_never_share_one_result(tmp_path):
    a, b = tmp_path / "a" / "track.wav", tmp_path / "b" / "track.wav"
    keep, errors = unique_outputs([a, b, a], outdir=tmp_path / "out")
    assert keep == [a] and len(errors) == 1
    assert str(b) in errors[0] and str(a) in errors[0] and "\n" not in errors[0]
    assert unique_outputs([a, b])[0] == [a, b]  # beside each input: no clash
    ogg, m4a = tmp_path / "track.ogg", tmp_path / "track.m4a"
    keep, errors = unique_outputs([ogg, m4a])
    assert keep == [ogg] and "track.m4a" in errors[0] and "track.ogg" in errors[0]


def test_json_round_trip_keeps_the_map(tmp_path):
    a = _analysis(tmp_path / "track.wav")
    b = load_results(save(a, outdir=tmp_path, plot=False)["json"])
    assert np.allclose(a.iram, b.iram, atol=1e-4) and [s.bars for s in b.segments] == [s.bars for s in a.segments]
    assert list(ROLES) == json.loads((tmp_path / "track.iram.json").read_text())["roles"]
