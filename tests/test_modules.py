"""Tracker modules: stems that add up, an exact grid, the activity rule, determinism, bad input.

Rendering tests use 6-second excerpts of small Debian modules and skip when the package
is not installed (run .ci/setup-system.sh).
"""
import json
from pathlib import Path

import numpy as np
import pytest

from iram.cli import main
from iram.data import modules as md
from iram.data import samples as smp
from iram.data.openmpt import SR, Module, ModuleError, Positions, lib
from iram.roles import ROLES

EXCERPT = 6.0
SMALL = {  # one small module per format: (package, path)
    "xm": ("vodovod", "/usr/share/games/vodovod/flow.xm"),
    "s3m": ("gweled", "/usr/share/sounds/gweled/autonom.s3m"),
    "it": ("pingus-data", "/usr/share/games/pingus/data/music/gd-cancn.it"),  # compressed samples
    "mod": ("rockdodger", "/usr/share/rockdodger/4est_fulla3s.mod"),
}


def entry(fmt: str, **kw) -> md.Entry:
    package, path = SMALL[fmt]
    base = dict(slug=md.slug(package, path), package=package, path=path, format=fmt, composer="test", title="", split="train",
                electronic="yes", rows_per_beat=4, beats_per_bar=4, downbeat_row=0, count_from="pattern")
    return md.Entry(**{**base, **kw})


def installed(fmt: str):
    try:
        lib()
    except ModuleError as err:
        pytest.skip(str(err))
    if not Path(SMALL[fmt][1]).exists():
        pytest.skip(f"{SMALL[fmt][1]} not installed: apt-get install {SMALL[fmt][0]}")


@pytest.mark.parametrize("fmt", list(SMALL))
def test_stems_add_up_to_the_mix(fmt, tmp_path):
    import soundfile as sf

    installed(fmt)
    rec = md.render_module(entry(fmt), tmp_path / "m", seconds=EXCERPT)
    assert rec["sum_check_db"] < md.SUM_LIMIT_DB and len(rec["stems"]) >= 2
    mix, sr = sf.read(tmp_path / "m" / "mix.flac", dtype="float64")
    total = sum(sf.read(tmp_path / "m" / s["file"], dtype="float64")[0] for s in rec["stems"])
    assert sr == SR and mix.shape == (int(EXCERPT * SR), 2)
    residual = 10 * np.log10(((total - mix) ** 2).sum() / (mix ** 2).sum())
    assert residual < -60 and residual == pytest.approx(rec["sum_check_db"], abs=0.1)
    # a stem is one instrument: silencing everything but its samples leaves it alone
    assert all(np.abs(sf.read(tmp_path / "m" / s["file"])[0]).max() > 0 for s in rec["stems"])


def test_rendered_row_times_on_the_grid_within_1ms():
    """Beats from the 16-frame position reads against sample-exact (1-frame) reads and
    against libopenmpt's tick arithmetic (each tick a whole number of frames)."""
    installed("xm")
    data = Path(SMALL["xm"][1]).read_bytes()
    with Module(data) as m:
        _, fast = m.render(positions=True, seconds=EXCERPT)
    with Module(data) as m:
        _, exact = m.render(positions=True, seconds=EXCERPT, block=1)
    assert np.array_equal(fast.row, exact.row) and np.array_equal(fast.order, exact.order)
    beats, downs = md.grid(fast, rows_per_beat=4, beats_per_bar=4)
    assert len(beats) >= 8 and len(downs) >= 2 and set(downs) <= set(beats)
    assert np.abs(fast.seconds[beats] - exact.seconds[beats]).max() < 0.001
    # tick arithmetic: a row lasts speed ticks of round(2.5 SR / tempo) frames
    tick = np.round(2.5 * SR / exact.tempo[:-1])
    assert np.array_equal(np.diff(exact.frame), exact.speed[:-1] * tick)
    rows_per_beat_frames = 4 * exact.speed[0] * tick[0]
    assert md.bpm_of(fast.seconds[beats]) == pytest.approx(60 * SR / rows_per_beat_frames, rel=1e-3)


def test_grid_counts_from_pattern_or_song():
    # a 48-row pattern then a 40-row pattern
    rows = np.r_[np.arange(48), np.arange(40)]
    pos = Positions(frame=np.arange(88) * 100, order=np.r_[np.zeros(48), np.ones(40)].astype(int), pattern=np.zeros(88, int),
                    row=rows, speed=np.full(88, 6), tempo=np.full(88, 125))
    beats, downs = md.grid(pos, rows_per_beat=4, beats_per_bar=4, count_from="pattern")
    assert list(downs) == [0, 16, 32, 48, 64, 80] and len(beats) == 12 + 10
    _, downs = md.grid(pos, rows_per_beat=4, beats_per_bar=4, count_from="song", downbeat_row=8)
    assert list(downs) == [8, 24, 40, 56, 72]


def constructed_rows():
    """Two 4-bar segments, a row per beat (1000 frames each), seven stems with known answers."""
    n_rows, f = 32, 1000
    ms = np.zeros((7, n_rows))
    ms[0] = 0.01                         # 1 percussion: everywhere
    ms[1, :16], ms[1, 16] = 0.01, 0.01   # 2 bass: segment 0, then one beat only (fewer than min_beats)
    ms[2, :2] = 0.001                    # 3 chord (alt melody): two beats of segment 0
    ms[3, :16], ms[3, 16:] = 10 ** -3.2, 1.0  # 4 fx: 32 dB under its loudest segment in segment 0
    ms[4, :16] = 10 ** -4.5              # 5 voice: above the floor but 28 dB under the mix
    ms[5, 16:] = 0.01                    # 6 unlabelled, segment 1
    ms[6, 16:] = 0.01                    # 7 melody, bass from order 2 (the last beat)
    order = np.r_[np.zeros(16), np.ones(15), [2]].astype(int)
    stems = ms * 2 * f
    rows = {"frame": np.arange(n_rows) * f, "order": order, "pattern": order, "row": np.arange(n_rows) % 16,
            "speed": np.full(n_rows, 6), "tempo": np.full(n_rows, 125), "mix": stems.sum(axis=0), "stems": stems,
            "stem_n": np.arange(1, 8), "n_frames": n_rows * f}
    labels = {"1": {"role": "percussion"}, "2": {"role": "bass"}, "3": {"role": "chord", "alt_roles": ["melody"]},
              "4": {"role": "fx"}, "5": {"role": "voice"},
              "7": {"role": "melody", "changes": [{"orders": [2, 2], "role": "bass"}]}}
    return rows, labels


def test_activity_rule_on_a_constructed_case():
    rows, labels = constructed_rows()
    e = md.Entry(slug="x", package="p", path="x.xm", format="xm", composer="c", title="", split="train", electronic="yes",
                 rows_per_beat=1, beats_per_bar=4, downbeat_row=0, count_from="song")
    t = md.truth_from_rows(rows, e, labels)
    assert [s["bars"] for s in t["segments"]] == [[1, 4], [5, 8]]
    assert t["segments"][1]["start"] == pytest.approx(16000 / SR)
    assert t["segments"][0]["active"] == {"percussion": 1, "bass": 1, "chord": 1, "melody": None, "fx": 0, "voice": 0}
    assert t["segments"][1]["active"] == {"percussion": 1, "bass": None, "chord": None, "melody": 1, "fx": 1, "voice": None}
    assert t["segments"][0]["level_db"]["percussion"] == pytest.approx(-20.0, abs=0.01)
    assert t["segments"][1]["level_db"]["chord"] is None
    assert t["bpm"] == pytest.approx(60 * SR / 1000, rel=1e-6)
    assert t["activations"][ROLES.index("melody")] == [None, 1]
    # a stricter rule: chord's two beats are no longer enough
    strict = md.truth_from_rows(rows, e, labels, rule=md.ActivityRule(min_beats=3))
    assert strict["segments"][0]["active"]["chord"] == 0
    # the truth round-trips into the benchmark's Truth (masked cells are NaN)
    assert md.sections_of([s["active"] for s in t["segments"]]) == [(0, 1), (1, 2)]
    assert md.sections_of([{"bass": 1, "fx": None}, {"bass": 1, "fx": 0}, {"bass": 0, "fx": 0}]) == [(0, 2), (2, 3)]


def test_rendering_is_deterministic(tmp_path):
    installed("it")  # IT: random volume/pan swing zeroed
    a = md.make_module(entry("it"), {}, tmp_path / "a", seconds=EXCERPT)
    b = md.make_module(entry("it"), {}, tmp_path / "b", seconds=EXCERPT)
    assert a == b
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) >= 5
    for p in files:
        assert (tmp_path / "a" / p).read_bytes() == (tmp_path / "b" / p).read_bytes(), p
    t = md.load_truth(tmp_path / "a" / "train" / entry("it").slug)
    assert t.audio.name == "mix.flac" and np.isnan(t.roles).all()  # nothing labelled: every sounding cell masked


def test_it_random_swing_zeroed():
    installed("it")
    data = Path(SMALL["it"][1]).read_bytes()
    out = smp.deterministic(data, "it")
    n_ord, n_ins = smp._u16(data, 0x20), smp._u16(data, 0x22)
    heads = [smp._u32(data, 0xC0 + n_ord + 4 * i) for i in range(n_ins)]
    assert all(out[h + 0x1A] == 0 == out[h + 0x1B] for h in heads) and len(out) == len(data)


def test_bad_input(tmp_path, capsys):
    try:
        lib()
    except ModuleError as err:
        pytest.skip(str(err))
    with pytest.raises(ModuleError, match="libopenmpt cannot load it.*MOD, XM, S3M or IT"):
        Module(b"not a module at all" * 10, "junk.xm")
    bad = tmp_path / "junk.it"
    bad.write_bytes(b"ZZZZ" + bytes(300))
    missing = md.Entry(slug="nopkg-song", package="no-such-package", path=str(tmp_path / "absent.xm"), format="xm", composer="c",
                       title="", split="test", electronic="no", rows_per_beat=4, beats_per_bar=4, downbeat_row=0, count_from="pattern")
    with pytest.raises(ModuleError, match=r"not installed; apt-get install no-such-package \(or run .ci/setup-system.sh\)"):
        md.make_module(missing, {}, tmp_path / "out")
    # through the CLI: one line per failed module naming the fix, exit 1, nothing half-written
    ann = tmp_path / "ann"
    ann.mkdir()
    head = "slug,package,path,format,composer,title,split,electronic,rows_per_beat,beats_per_bar,downbeat_row,count_from,why\n"
    (ann / "modules.csv").write_text(head + f"junk,junkpkg,{bad},it,c,,test,no,4,4,0,pattern,x\n"
                                     f"nopkg-song,no-such-package,{tmp_path / 'absent.xm'},xm,c,,test,no,4,4,0,pattern,x\n")
    assert main(["data", "modules", "--out", str(tmp_path / "out"), "--annotations", str(ann), "-q"]) == 1
    err = capsys.readouterr().out
    assert "junk.it: libopenmpt cannot load it" in err and "apt-get install no-such-package" in err
    assert not list((tmp_path / "out").rglob("*.flac"))


def test_stem_numbers_follow_roles_json_convention():
    installed("xm")
    data = Path(SMALL["xm"][1]).read_bytes()
    samples, stems = smp.layout(data, "xm")
    with Module(data) as m:
        names = m.instrument_names()
    assert [s.n for s in stems] == list(range(1, len(names) + 1)) and [s.name for s in stems] == [n.strip() for n in names]
    assert json.dumps([s.samples for s in stems])  # plain ints


def test_benchmark_reads_rendered_modules_and_masks_cells_per_role(tmp_path):
    from iram.annotations import load_set
    from iram.benchmark import madmom_scores, markdown, score_set

    installed("xm")
    labels = {"1": {"role": "percussion"}, "2": {"role": "fx", "alt_roles": ["voice"]}, "3": {"role": "melody"},
              "4": {"role": "bass"}, "5": {"role": "chord"}}
    md.make_module(entry("xm", split="test"), labels, tmp_path, seconds=20.0)
    (t,) = load_set("modules", tmp_path, split="test")
    assert t.name == entry("xm").slug and t.audio.exists() and len(t.beats) > 16 and t.tempo > 0
    assert np.isnan(t.roles).any() and not np.isnan(t.roles).all(axis=0).any()  # some cells masked, no segment wholly

    class Pred:  # a perfect prediction: the truth itself, masked cells guessed 0.5
        def __init__(self):
            self.segments = [type("S", (), {"start": s, "end": e, "partial": False})() for s, e in t.intervals]
            self.iram, self.bpm, self.beats, self.downbeats, self.sections = np.nan_to_num(t.roles, nan=0.5), t.tempo, t.beats, t.downbeats, []

    m = {"bpm": t.tempo, "beats": list(t.beats), "downbeats": list(t.downbeats)}
    r = score_set([t], [Pred()], [0.5] * 6, madmom=[m])
    defined = [v for v in r["roles"]["roles"].values() if v["roc_auc"] is not None]
    assert defined and all(v["roc_auc"] == 1.0 for v in defined)
    assert r["roles"]["n"] == t.roles.shape[1]  # no segment dropped for one masked cell
    assert madmom_scores(t, m)["madmom_beat_f"] == 1.0 and r["summary"]["madmom_downbeat_f"] == 1.0
    assert "madmom DBNDownBeatTrackingProcessor alone" in markdown(r, "modules")
    with pytest.raises(md.DataError, match="no rendered modules in split 'valid'"):
        load_set("modules", tmp_path, split="valid")


def test_tidy_moves_renders_to_their_new_split(tmp_path):
    for s, slug_ in (("test", "a"), ("test", "b"), ("train", "c"), ("valid", "mine")):
        (tmp_path / s / slug_).mkdir(parents=True)
        (tmp_path / s / slug_ / "truth.json").write_text("{}")
        if slug_ != "mine":
            (tmp_path / s / slug_ / "render.json").write_text("{}")
    e = lambda slug_, split: md.Entry(slug=slug_, package="p", path="x", format="xm", composer="c", title="", split=split,  # noqa: E731
                                      electronic="", rows_per_beat=4, beats_per_bar=4, downbeat_row=0, count_from="pattern")
    md.tidy(tmp_path, [e("a", "test"), e("b", "valid"), e("c", "exclude")])
    assert (tmp_path / "test" / "a" / "truth.json").exists()
    assert (tmp_path / "valid" / "b" / "render.json").exists() and not (tmp_path / "valid" / "b" / "truth.json").exists()
    assert not (tmp_path / "test" / "b").exists() and not (tmp_path / "train" / "c").exists()
    assert (tmp_path / "valid" / "mine" / "truth.json").exists()  # not ours: left alone


def test_truth_only_renders_nothing(tmp_path):
    installed("xm")
    ann = tmp_path / "ann"
    ann.mkdir()
    e = entry("xm")
    (ann / "modules.csv").write_text("slug,package,path,format,composer,title,split,electronic,rows_per_beat,beats_per_bar,downbeat_row,count_from,why\n"
                                     f"{e.slug},{e.package},{e.path},xm,c,,train,yes,4,4,0,pattern,x\n")
    (res,) = md.make_modules(out=tmp_path / "out", annotations=ann, truth_only=True, progress=False)
    assert res.get("unrendered") and not list((tmp_path / "out").rglob("*.flac"))
    assert "1 modules not rendered yet" in md.report([res])


def test_two_annotators_combine_with_their_disagreement_masked():
    first = {"m": {"1": {"role": "melody", "alt_roles": [], "why": "a"}, "2": {"role": "bass", "alt_roles": ["chord"], "why": "b"},
                   "3": {"role": "none", "alt_roles": [], "why": "c"}}, "only-first": {"1": {"role": "fx", "alt_roles": [], "why": "d"}}}
    second = {"m": {"1": {"role": "percussion", "alt_roles": ["fx"], "why": "x"}, "2": {"role": "bass", "alt_roles": [], "why": "y"},
                    "3": {"role": "fx", "alt_roles": [], "why": "z"}}}
    c = md.combine(first, second)
    assert c["m"]["1"]["role"] == "percussion" and c["m"]["1"]["alt_roles"] == ["fx", "melody"] and "masked" in c["m"]["1"]["why"]
    assert c["m"]["2"] == {"role": "bass", "alt_roles": [], "why": "y"}  # agreement: the second annotator's entry as it is
    assert c["m"]["3"]["alt_roles"] == []  # "none" (never sounds) is no role to mask
    assert c["only-first"] == first["only-first"]


def test_voiceover_lays_a_recorded_speaker_over_an_instrumental_segment(tmp_path):
    import soundfile as sf

    from iram.annotations import load_set
    from iram.data import sources

    if not sources.recorded_voices():
        pytest.skip("recorded voices not installed (.ci/setup-system.sh)")
    sr, seg = 44100, 4.0
    folder = tmp_path / "mods" / "train" / "toy"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    mix = np.stack([0.05 * rng.standard_normal(int(3 * seg * sr))] * 2, 1).astype(np.float32)  # three 4-bar segments of noise
    sf.write(folder / "mix.flac", mix, sr)
    act = [[1, 1, 1], [0, 1, None], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 1, 0]]  # voice on in the middle segment only
    (folder / "truth.json").write_text(json.dumps({"roles": list(ROLES), "activations": act,
                                                   "segments": [{"start": k * seg, "end": (k + 1) * seg} for k in range(3)]}))
    out = tmp_path / "vo"
    assert main(["data", "voiceover", "--modules", str(tmp_path / "mods"), "--split", "train", "--n", "4", "--out", str(out)]) == 0
    truths = load_set("custom", out)
    assert len(truths) == 4
    for t in truths:
        y, r = sf.read(t.audio)
        src = t.name  # the instrumental it came from: the first or third segment, never the one with a voice
        meta = json.loads((out / f"{src}.truth.json").read_text())["source"]
        assert meta["segment"] in (0, 2) and r == sr and abs(len(y) / sr - seg) < 0.01
        lab = t.roles[:, 0]
        assert lab[ROLES.index("voice")] == 1 and lab[ROLES.index("percussion")] == 1
        assert (np.isnan(lab[ROLES.index("bass")]) if meta["segment"] == 2 else lab[ROLES.index("bass")] == 0)
        # a voice was added, 12 dB under the bed or louder: what is left after taking the bed away
        bed = mix[int(meta["segment"] * seg * sr):int((meta["segment"] + 1) * seg * sr)].mean(axis=1)
        assert np.sqrt(np.mean((y - bed[:len(y)]) ** 2)) > 0.9 * 0.05 * 10 ** (-12 / 20)


def test_a_voice_over_keeps_its_pitch_and_length_at_the_modules_sample_rate(tmp_path, monkeypatch):
    """Stems render at 16 kHz and module mixes are 44.1 kHz: laid over unresampled, a voice
    plays 2.76 times too fast and high, in the first third of the segment only."""
    import soundfile as sf

    from iram.data import render, sources
    from iram.data.sources import Source

    sr, seg, hz = 44100, 4.0, 500.0
    folder = tmp_path / "mods" / "train" / "toy"
    folder.mkdir(parents=True)
    sf.write(folder / "mix.flac", np.zeros((int(seg * sr), 2), np.float32), sr)
    act = [[0], [0], [0], [0], [0], [0]]
    (folder / "truth.json").write_text(json.dumps({"roles": list(ROLES), "activations": act,
                                                   "segments": [{"start": 0.0, "end": seg}]}))
    monkeypatch.setattr(sources, "sources_for", lambda role, split: [Source("voice", "recorded", "toy")])
    monkeypatch.setattr(render, "render_stem", lambda src, ctx, rng: np.sin(  # a steady tone over the whole loop
        2 * np.pi * hz * np.arange(render.loop_samples(ctx)) / render.SR))
    out = tmp_path / "vo"
    assert main(["data", "voiceover", "--modules", str(tmp_path / "mods"), "--split", "train", "--n", "1", "--out", str(out)]) == 0
    y, r = sf.read(out / "voiceover_00000.wav")
    spec = np.abs(np.fft.rfft(y))
    assert r == sr and abs(np.argmax(spec) * sr / len(y) - hz) < 5  # the tone's own pitch
    quarters = np.sqrt([np.mean(q ** 2) for q in np.array_split(y, 4)])
    assert quarters.min() > 0.8 * quarters.max()  # and it lasts the whole segment


def test_remix_truth_follows_the_kept_stems():
    from iram.data.remix import remix_gains, remix_truth

    rows, labels = constructed_rows()
    e = md.Entry(slug="x", package="p", path="x.xm", format="xm", composer="c", title="", split="train", electronic="yes",
                 rows_per_beat=1, beats_per_bar=4, downbeat_row=0, count_from="song")
    n = list(rows["stem_n"])
    assert remix_truth(rows, e, labels, n, np.ones(7))["activations"] == md.truth_from_rows(rows, e, labels)["activations"]
    no_bass = np.array([1, 0, 1, 1, 1, 1, 0.0])  # stem 2 is bass; stem 7 turns bass at the end
    t = remix_truth(rows, e, labels, n, no_bass)
    assert t["activations"][ROLES.index("bass")] == [0, None]  # the unlabelled stem 6 still masks segment 1
    assert t["activations"][ROLES.index("chord")] == [1, None] and t["activations"][ROLES.index("percussion")] == [1, 1]
    stems = [{"n": int(k)} for k in n]
    for seed in range(20):  # whole roles go, never every role
        g = remix_gains(stems, labels, np.random.default_rng(seed), drop=0.9, gain_db=4.0)
        assert (g > 0).any() and (g[1] > 0 or g[6] == 0)  # bass gone: stem 7 (melody, then bass) goes too
        assert np.all((g == 0) | ((g >= 10 ** -0.2) & (g <= 10 ** 0.2)))


def test_remix_sums_the_kept_stems(tmp_path):
    import soundfile as sf

    from iram.annotations import load_set

    installed("xm")
    e = entry("xm")
    md.make_module(e, {}, tmp_path / "mods", seconds=EXCERPT)
    ann = tmp_path / "ann"
    ann.mkdir()
    (ann / "modules.csv").write_text(",".join(md.Entry.__dataclass_fields__) + "\n"
                                     + ",".join(str(getattr(e, k)) for k in md.Entry.__dataclass_fields__) + "\n")
    stems = json.loads((tmp_path / "mods" / "train" / e.slug / "truth.json").read_text())["stems"]
    (ann / "roles.json").write_text(json.dumps({e.slug: {str(s["n"]): {"role": ROLES[k % 4]} for k, s in enumerate(stems)}}))
    from iram.data.remix import RATE, make_remixes

    out = make_remixes(modules=tmp_path / "mods", split="train", per_module=3, out=tmp_path / "rx", annotations=ann, seed=1)
    truths = load_set("custom", out)
    assert len(truths) == 3
    from iram.audio import load

    parts = {s["n"]: load(tmp_path / "mods" / "train" / e.slug / s["file"], rates=(RATE,)).at(RATE) for s in stems}
    for t in truths:
        y, sr = sf.read(t.audio)
        gains = json.loads((out / f"{t.name}.truth.json").read_text())["source"]["gain_db"]
        want = sum(10 ** (g / 20) * parts[int(n)] for n, g in gains.items() if g is not None)
        want = want / max(1.0, np.abs(want).max() / 0.99)
        assert sr == RATE and np.abs(y - want).max() < 1e-3
        for k, role in enumerate(ROLES[:4]):  # a role whose stems were all dropped is off everywhere
            if all(gains[str(s["n"])] is None for j, s in enumerate(stems) if j % 4 == k):
                assert np.all(t.roles[k] == 0)


def test_a_mix_that_cancels_in_mono_is_refused_before_anything_is_written(tmp_path):
    """rough-journey's IT surround: the two channels in antiphase. iram hears mono, where such a
    mix is silence and refused, so the renderer refuses it first, with the fix in the message."""
    import soundfile as sf

    from iram import audio
    from iram.errors import AudioError

    t = np.arange(2 * SR) / SR
    tone = np.round(0.3 * np.sin(2 * np.pi * 220 * t) * md.FULL_SCALE).astype(np.int32)
    antiphase, same = np.stack([tone, -tone], axis=1), np.stack([tone, tone], axis=1)
    assert md.cancels_in_mono(antiphase)
    assert not md.cancels_in_mono(same) and not md.cancels_in_mono(np.zeros_like(same))
    sf.write(tmp_path / "x.wav", antiphase / md.FULL_SCALE, SR)
    with pytest.raises(AudioError, match="silent"):  # what iram itself says of such a mix
        audio.load(tmp_path / "x.wav", rates=(16000,))
    rough = next(e for e in md.read_table() if e.slug == "pingus-data-rough-journey")
    if not Path(rough.path).exists():
        pytest.skip("pingus-data not installed: apt-get install pingus-data")
    with pytest.raises(ModuleError, match="cancel in a mono downmix"):
        md.render_module(rough, tmp_path / "rough", seconds=20)
    assert not (tmp_path / "rough").exists()


def test_role_pieces_take_each_active_role_stems_with_their_doubts():
    from iram.data.remix import role_pieces

    rows, labels = constructed_rows()
    e = md.Entry(slug="x", package="p", path="x.xm", format="xm", composer="c", title="", split="train", electronic="yes",
                 rows_per_beat=1, beats_per_bar=4, downbeat_row=0, count_from="song")
    truth = {**md.truth_from_rows(rows, e, labels), "stems": [{"n": k, "file": f"s{k}"} for k in range(1, 8)]}
    got = {(p["segment"], p["role"]): (p["stems"], p["mask"]) for p in role_pieces(truth, rows, labels, module="x")}
    # segment 0: percussion, bass, chord active (melody masked, fx and voice silent)
    assert got[(0, "percussion")] == (["s1"], []) and got[(0, "bass")] == (["s2"], [])
    assert got[(0, "chord")] == (["s3"], ["melody"])  # its alt role goes with it
    # segment 1 (orders 1 and 2): stem 7 plays melody, then bass in the same segment
    assert got[(1, "melody")] == (["s7"], ["bass"]) and got[(1, "fx")] == (["s4"], [])
    assert set(got) == {(0, "percussion"), (0, "bass"), (0, "chord"), (1, "percussion"), (1, "melody"), (1, "fx")}
    assert all(p["bpm"] == pytest.approx(60 * SR / 1000) for p in role_pieces(truth, rows, labels, module="x"))


def test_crossmix_truth_hears_each_piece_against_the_mix():
    from iram.data.remix import crossmix_truth

    beat = 1000
    t = np.arange(16 * beat)
    loud = 0.3 * np.sin(2 * np.pi * t / 40)
    quiet = 10 ** (-40 / 20) * 0.3 * np.sin(2 * np.pi * t / 13)  # 40 dB under the mix: not audible
    two_beats = np.where(t < 2 * beat, 0.3 * np.sin(2 * np.pi * t / 17), 0.0)
    got = crossmix_truth({"chord": loud, "bass": quiet, "percussion": two_beats},
                         {"chord": ["melody"], "bass": ["fx"], "percussion": ["bass"]}, beat)
    assert got == {"percussion": 1, "bass": None, "chord": 1, "melody": None, "fx": 0, "voice": 0}
    # a piece sounding on one beat only is below min_beats
    assert crossmix_truth({"chord": loud, "percussion": np.where(t < beat, loud, 0.0)}, {}, beat)["percussion"] == 0


def test_crossmix_takes_each_role_from_another_module(tmp_path):
    import soundfile as sf

    from iram.annotations import load_set
    from iram.data.remix import make_crossmixes

    installed("xm")
    installed("mod")
    ann = tmp_path / "ann"
    ann.mkdir()
    es = [entry("xm"), entry("mod")]
    (ann / "modules.csv").write_text(",".join(md.Entry.__dataclass_fields__) + "\n" + "".join(
        ",".join(str(getattr(e, k)) for k in md.Entry.__dataclass_fields__) + "\n" for e in es))
    roles = {}
    for e in es:
        md.make_module(e, {}, tmp_path / "mods", seconds=16.0)
        stems = json.loads((tmp_path / "mods" / "train" / e.slug / "truth.json").read_text())["stems"]
        roles[e.slug] = {str(s["n"]): {"role": ROLES[k % 4]} for k, s in enumerate(stems)}
    (ann / "roles.json").write_text(json.dumps(roles))
    md.make_modules(out=tmp_path / "mods", split="train", annotations=ann, seconds=16.0, truth_only=True, progress=False)
    out = make_crossmixes(modules=tmp_path / "mods", split="train", n=3, segments=2, out=tmp_path / "cx", annotations=ann,
                          seed=1, tolerance=1.0)
    truths = load_set("custom", out)
    assert len(truths) == 3
    for t in truths:
        d = json.loads((out / f"{t.name}.truth.json").read_text())
        y, sr = sf.read(t.audio)
        assert sr == 16000 and len(y) == round(d["duration"] * sr) and np.abs(y).max() <= 0.99 + 1e-3
        assert t.roles.shape == (len(ROLES), 2)
        for k, seg in enumerate(d["source"]):
            assert len({p["module"] for p in seg}) == len(seg)  # every role of a segment from another module
            assert len({p["role"] for p in seg}) == len(seg)
            for r in ROLES:  # a role nobody put in is off, or masked by a piece's doubt
                if r not in {p["role"] for p in seg}:
                    assert t.roles[ROLES.index(r), k] != 1
