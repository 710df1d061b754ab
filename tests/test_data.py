"""The corpus generators: labels must match what was rendered."""
import json

import numpy as np
import pandas as pd
import pytest

from iram.data import patterns as pt
from iram.data import render, sources
from iram.data.loops import make_loops
from iram.errors import DataError
from iram.roles import ROLES

pytestmark = pytest.mark.skipif(not sources.HYDROGEN_DIR.is_dir(), reason="sound sources not installed (.ci/setup-system.sh)")
SR = render.SR


def _ctx(bars=2):
    return pt.Context("house", 124.0, 9, "minor", bars, (0, 5, 2, 6), 0.0)


def _band_share(x, lo, hi):
    S = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SR)
    return S[(f >= lo) & (f < hi)].sum() / S.sum()


def test_splits_are_disjoint_and_cover_every_role():
    sp = sources.split_of()
    for role in ROLES:
        ids = {s: {x.id for x in sources.sources_for(role, s)} for s in sources.SPLITS}
        assert ids["train"] and ids["valid"] and ids["test"]
        assert not (ids["train"] & ids["test"]) and not (ids["train"] & ids["valid"]) and not (ids["valid"] & ids["test"])
    assert set(sp.values()) == set(sources.SPLITS)


@pytest.mark.parametrize("split", ["test"])
def test_no_stem_is_silent_or_clipped(split):
    ctx = _ctx()
    for role in ROLES:
        for src in sources.sources_for(role, split):
            x = render.render_stem(src, ctx, np.random.default_rng(0))
            assert len(x) == render.loop_samples(ctx)
            assert np.sqrt(np.mean(x ** 2)) > 1e-3, src.id
            assert np.all(np.isfinite(x)), src.id


def test_bass_stems_live_below_300_hz():
    ctx = _ctx()
    for src in sources.sources_for("bass", "test") + sources.sources_for("bass", "valid"):
        x = render.render_stem(src, ctx, np.random.default_rng(1))
        assert _band_share(x, 20, 300) > 0.5, src.id


def test_chord_parts_are_polyphonic_and_melodies_monophonic():
    rng = np.random.default_rng(0)
    for _ in range(20):
        ctx = pt.random_context(rng)
        chords = pt.chord_part(ctx, rng)
        starts = {}
        for n in chords:
            starts.setdefault(n.start, set()).add(n.pitch)
        assert min(len(v) for v in starts.values()) >= 3
        mel = sorted(pt.melody_part(ctx, rng), key=lambda n: n.start)
        assert all(a.start + a.dur <= b.start + 1e-9 for a, b in zip(mel, mel[1:]))
        assert all(n.pitch >= 55 for n in mel)
        assert all(28 <= n.pitch <= 45 + 12 for n in pt.bass_part(ctx, rng))


def test_rendered_chord_stem_holds_several_pitch_classes():
    src = sources.Source("chord", "gm", "0")  # acoustic grand piano
    ctx = pt.Context("house", 120.0, 0, "major", 1, (0, 0, 0, 0), 0.0)
    x = render.render_stem(src, ctx, np.random.default_rng(0))
    S = np.abs(np.fft.rfft(x))
    f = np.fft.rfftfreq(len(x), 1 / SR)
    keep = (f > 100) & (f < 1000)
    pc = np.round(12 * np.log2(f[keep] / 261.63)) % 12
    chroma = np.array([S[keep][pc == k].sum() for k in range(12)])
    assert (chroma > 0.25 * chroma.max()).sum() >= 3


def test_mixed_loops_share_tempo_and_key_and_same_seed_is_identical(tmp_path):
    a = make_loops(n=5, split="valid", out=tmp_path / "a", seed=3, progress=False)
    b = make_loops(n=5, split="valid", out=tmp_path / "b", seed=3, jobs=2, progress=False)
    la, lb = pd.read_csv(a / "labels.csv"), pd.read_csv(b / "labels.csv")
    assert la.equals(lb)
    assert la["tempo"].nunique() == 1 and la["key"].nunique() == 1
    assert sorted(la["n_roles"]) == [1, 2, 3, 4, 5]
    assert (la[list(ROLES)].sum(axis=1) == la["n_roles"]).all()
    for f in la["file"]:
        assert (a / f).read_bytes() == (b / f).read_bytes()
        import soundfile as sf

        y, sr = sf.read(a / f)
        assert abs(len(y) / sr - la["bars"][0] * 4 * 60 / la["tempo"][0]) < 0.01
        assert np.abs(y).max() < 1.0 and np.sqrt(np.mean(y ** 2)) > 1e-3


def test_loops_n_is_the_number_written(tmp_path):
    out = make_loops(n=3, split="valid", out=tmp_path / "three", seed=3, progress=False)
    la = pd.read_csv(out / "labels.csv")
    assert len(la) == 3 and sorted(la["n_roles"]) == [1, 2, 3]
    assert sorted(p.name for p in out.glob("*.flac")) == sorted(la["file"])


def test_bad_arguments(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="positive"):
        make_loops(n=0, split="train", out=tmp_path)
    with pytest.raises(DataError, match="unknown split"):
        make_loops(n=5, split="training", out=tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="cannot create output folder"):
        make_loops(n=5, split="train", out=blocker / "sub")
    monkeypatch.setattr(sources, "SOUNDFONT_CANDIDATES", ("/nonexistent.sf2",))
    with pytest.raises(DataError, match="fluid-soundfont-gm"):
        make_loops(n=5, split="train", out=tmp_path / "x")


def test_sample_base_pitch_from_name():
    assert [render.base_pitch(n) for n in ("bass_hit_c", "bass_dnb_f", "tbd_highkey_c4", "elec_bell")] == [36, 41, 60, 60]


def test_breaks_are_stretched_over_whole_bars_of_their_own_beats():
    # arovane_beat_e holds 24 beats (six bars at 130 BPM): at 128 BPM it must last 24 beats,
    # not 32 (which would put its beats at 4/3 of the track's tempo)
    src = sources.Source("percussion", "break", "arovane_beat_e")
    y = render._break(src, _ctx(), 60 * SR, np.random.default_rng(0))
    period = int(round(24 * 60 / 124.0 * SR))
    assert np.allclose(y[:SR], y[period:period + SR])
    assert sources.BREAKS.keys() == {s.ref for s in sources.catalogue() if s.kind == "break"}


def test_tuning_refuses_tracks_made_from_test_sources(tmp_path):
    from iram.data.tracks import refuse_held_out

    splits = sources.split_of()
    for split in ("train", "valid"):
        ok = tmp_path / split
        ok.mkdir()
        sid = next(s for s, sp in splits.items() if sp == split)
        (ok / "track_000.truth.json").write_text(json.dumps({"sources": {"bass": sid}}))
        refuse_held_out([ok])
    bad = tmp_path / "test"
    bad.mkdir()
    sid = next(s for s, sp in splits.items() if sp == "test")
    (bad / "track_000.truth.json").write_text(json.dumps({"sources": {"bass": sid}}))
    with pytest.raises(DataError, match="track_000.truth.json: made from test-split sources"):
        refuse_held_out([tmp_path / "valid", bad])


def test_analysis_runs_without_the_train_extra_and_rendering_names_it(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['fluidsynth'] = sys.modules['pedalboard'] = None  # as if the train extra were not installed\n"
        "from importlib.resources import files\n"
        "import iram, iram.benchmark, iram.cli, iram.export, iram.plots\n"
        "a = iram.analyze(str(files('iram').joinpath('demo/iram-demo.flac')))\n"
        "print(len(a.segments), 'segments')\n"
        "from iram.data.loops import make_loops\n"
        "from iram.errors import DataError\n"
        "try:\n"
        "    make_loops(n=1, split='train', out=sys.argv[1], progress=False)\n"
        "except DataError as err:\n"
        "    print(err)\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "loops")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "segments" in r.stdout
    assert "pyfluidsynth and pedalboard" in r.stdout and "pip install -e '.[train]'" in r.stdout
    assert not (tmp_path / "loops").exists()


def test_recorded_voices_are_real_speakers_held_out_as_groups():
    groups = sources.recorded_voices()
    assert {"hedgewars/Singer", "kde/fr"} <= set(groups)  # a sung pack; French from klettres + ktuberling
    assert {p.parts[3] for p in groups["kde/fr"]} == {"klettres", "ktuberling"}
    assert all(len(files) >= 10 for files in groups.values())
    sp = sources.split_of()
    by_split = {s: {x.ref for x in sources.sources_for("voice", s) if x.kind == "recorded"} for s in sources.SPLITS}
    assert all(by_split.values())  # every split hears some real speakers, never the same ones
    assert sum(len(v) for v in by_split.values()) == len(groups) == len(set().union(*by_split.values()))
    assert all(sp[f"recorded:{g}"] in sources.SPLITS for g in groups)


def test_recorded_voice_stem_is_made_of_the_recordings():
    src = sources.Source("voice", "recorded", "hedgewars/Singer")
    x = render.render_stem(src, _ctx(), np.random.default_rng(3))
    assert len(x) == render.loop_samples(_ctx()) and np.all(np.isfinite(x))
    assert np.sqrt(np.mean(x ** 2)) > 1e-2
    # energy sits where a voice does: mostly 100 Hz - 4 kHz
    assert _band_share(x, 100, 4000) > 0.7
