"""The Ray engine (``iram analyze --engine ray``): same outputs as the local engine,
a manifest that survives a stop, resumable, failures reported and skipped; and Ray
stays optional."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from iram.catalogue import MANIFEST_FIELDS, Manifest, placement, read_list
from iram.cli import main
from iram.errors import IramError

# 16 bars (about 30 s): three role changes, long enough for sections, short enough for a test
SHORT_PLAN = [("intro", 8, [{"percussion", "chord"}, {"percussion", "chord", "fx"}]),
              ("drop", 8, [{"percussion", "bass", "melody"}] * 2)]


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def short_tracks(tmp_path_factory):
    """Three short composed tracks, an undecodable file, and a LIST.txt naming all four."""
    from iram.data.tracks import compose, save_track

    folder = tmp_path_factory.mktemp("catalogue")
    names = []
    for i in range(3):
        audio, truth = compose(i, seed=3, plan=SHORT_PLAN)
        names.append(save_track(audio, truth, folder / f"track_{i}.wav").name)
    (folder / "broken.wav").write_bytes(b"not audio at all")
    (folder / "tracks.txt").write_text("# a catalogue\n" + "\n".join(names[:2] + ["broken.wav", names[2]]) + "\n\n")
    return folder, names


@pytest.mark.slow
def test_ray_engine_equals_local_engine_and_resumes(short_tracks, tmp_path, capsys):
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    folder, names = short_tracks
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert main(["analyze", *(str(folder / n) for n in names), "-o", str(local), "--no-plot", "-q"]) == 0
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        # the broken file fails: exit 1, but the others are written
        assert main(["analyze", str(folder / "tracks.txt"), "--engine", "ray", "-o", str(on_ray), "-q"]) == 1
        err = capsys.readouterr().err
        assert "broken.wav" in err and "Traceback" not in err
        manifest = on_ray / "catalogue.csv"
        got = {r["path"]: r for r in rows(manifest)}
        assert len(got) == 4 and got[str(folder / "broken.wav")]["status"] == "failed"
        assert "broken.wav" in got[str(folder / "broken.wav")]["error"]
        for n in names:
            stem = n[:-4]
            a = json.loads((local / f"{stem}.iram.json").read_text())
            b = json.loads((on_ray / f"{stem}.iram.json").read_text())
            assert (on_ray / f"{stem}.iram.png").exists() and not (local / f"{stem}.iram.png").exists()
            row = got[str(folder / n)]
            assert row["status"] == "done" and row["error"] == ""
            assert float(row["bpm"]) == pytest.approx(a["bpm"], abs=1e-3) and int(row["n_segments"]) == len(a["segments"])
            # the same library stages on the same audio: beats, grid and sections identical,
            # role probabilities within 1e-4 (torch may sum in another order in another process)
            for key in ("bpm", "beats", "downbeats", "duration", "sections", "thresholds", "model", "roles", "path"):
                assert a[key] == b[key], key
            assert [(s["start"], s["end"], s["bars"]) for s in a["segments"]] == \
                   [(s["start"], s["end"], s["bars"]) for s in b["segments"]]
            pa = np.load(local / f"{stem}.iram.npy")
            pb = np.load(on_ray / f"{stem}.iram.npy")
            assert pa.shape == pb.shape and np.abs(pa - pb).max() <= 1e-4
            assert all(s["roles"][r]["active"] == t["roles"][r]["active"] for s, t in zip(a["segments"], b["segments"])
                       for r in a["roles"])

        # a run stopped mid-row leaves a partial last line: the resumed run drops it, skips what
        # was written, and retries only the failed file
        with open(manifest, "a") as f:
            f.write(str(folder / "track_0.wav") + ",do")
        before = (on_ray / "track_0.iram.json").stat().st_mtime_ns
        assert main(["analyze", str(folder / "tracks.txt"), "--engine", "ray", "-o", str(on_ray), "-q",
                     "--skip-existing"]) == 1
        again = rows(manifest)
        assert len(again) == 5 and [r["status"] for r in again[4:]] == ["failed"]
        assert (on_ray / "track_0.iram.json").stat().st_mtime_ns == before
    finally:
        ray.shutdown()


def test_manifest_appends_and_drops_a_partial_row(tmp_path):
    path = tmp_path / "m" / "catalogue.csv"
    with Manifest(path) as m:
        m.write({"path": "a.wav", "status": "done", "bpm": "124.000", "n_segments": "8"})
    with open(path, "a") as f:
        f.write("b.wav,fai")  # killed while writing
    with Manifest(path) as m:
        assert m.last["a.wav"]["status"] == "done" and "b.wav" not in m.last
        m.write({"path": "b.wav", "status": "failed", "error": "b.wav: no, it has a comma"})
    got = rows(path)
    assert [r["path"] for r in got] == ["a.wav", "b.wav"] and got[1]["error"] == "b.wav: no, it has a comma"
    assert path.read_text().splitlines()[0] == ",".join(MANIFEST_FIELDS)
    (tmp_path / "other.csv").write_text("name,size\nx,1\n")
    with pytest.raises(IramError, match="not an iram manifest"):
        Manifest(tmp_path / "other.csv")


def test_read_list_is_relative_to_the_list(tmp_path):
    (tmp_path / "sub").mkdir()
    lst = tmp_path / "sub" / "list.txt"
    lst.write_text("# tracks\na.wav\n\n  ../b.flac  \n/abs/c.mp3\n")
    assert read_list(lst) == [tmp_path / "sub" / "a.wav", tmp_path / "sub" / ".." / "b.flac", Path("/abs/c.mp3")]


def test_model_placement():
    cpu = placement({"CPU": 16})
    assert (cpu.num_gpus, cpu.num_cpus, cpu.max_actors, cpu.device) == (0, 0, 8, "cpu")
    assert placement({"CPU": 2}).max_actors == 1
    gpu = placement({"CPU": 32, "GPU": 4})
    assert (gpu.num_gpus, gpu.max_actors, gpu.device) == (1, 4, "cuda")
    assert placement({"CPU": 32, "GPU": 4}, gpus_per_model=0.5).max_actors == 8
    assert placement({"CPU": 32, "GPU": 4}, device="cpu").device == "cpu"
    assert placement({"CPU": 32, "GPU": 4}, gpus_per_model=0).device == "cpu"
    with pytest.raises(IramError, match="no GPUs"):
        placement({"CPU": 8}, gpus_per_model=1)
    with pytest.raises(IramError, match="no GPUs"):
        placement({"CPU": 8}, device="cuda")


def test_engine_ray_without_ray_is_one_line(loop_wav, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    assert main(["analyze", str(loop_wav[0]), "--engine", "ray", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("iram: error:") and "pip install 'iram[ray]'" in err[0]
    assert not list(tmp_path.iterdir())


def test_ray_options_need_the_ray_engine(loop_wav, capsys):
    assert main(["analyze", str(loop_wav[0]), "--address", "auto"]) == 2
    assert "--address is for --engine ray" in capsys.readouterr().err


@pytest.mark.slow
def test_iram_and_the_local_engine_never_import_ray(loop_wav, tmp_path):
    code = ("import sys; from iram.cli import main; import iram; "
            f"rc = main(['analyze', {str(loop_wav[0])!r}, '-o', {str(tmp_path)!r}, '--no-plot', '-q']); "
            "assert rc == 0; assert 'ray' not in sys.modules, 'ray imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / f"{loop_wav[0].stem}.iram.json").exists()
