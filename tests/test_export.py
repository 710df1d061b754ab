"""Round trips for every cue format, read back with the format's own library."""
import hashlib
import sqlite3
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import soundfile as sf

from iram.errors import ExportError
from iram.export import HOT_CUES, cues_for, export, serato
from iram.result import Analysis
from iram.sections import Section
from iram.segments import Segment


def _analysis(audio_path, n_sections=10):
    secs = tuple(Section(10.0 * k + 0.25, 10.0 * (k + 1) + 0.25, (4 * k + 1, 4 * k + 4), lab, roles, f"{lab.capitalize()} {k + 1} · drums" if lab == "drop" else lab.capitalize())
                 for k, (lab, roles) in enumerate([("intro", ("chord",)), ("drop", ("percussion", "bass"))] * (n_sections // 2)))
    segs = tuple(Segment(s.start, s.end, s.bars) for s in secs)
    return Analysis(path=str(audio_path), duration=110.0, bpm=96.0, beats=np.arange(0.25, 100, 0.625),
                    downbeats=np.arange(0.25, 100, 2.5), segments=segs, iram=np.zeros((6, len(segs)), np.float32),
                    thresholds=(0.5,) * 6, sections=secs, model={"name": "test"})


@pytest.fixture
def track(tmp_path):
    p = tmp_path / "My Track.wav"
    sf.write(p, (np.random.default_rng(0).standard_normal(44100 * 2) * 0.1).astype(np.float32), 44100)
    return p


@pytest.fixture
def ordinary_user(monkeypatch):
    """Judge write access by the permission bits, as for any user but root (who may write anything)."""
    import os

    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: real(p, mode) and not (mode & os.W_OK and not os.stat(p).st_mode & 0o200))


def test_cues_respect_hot_cue_limit(track):
    cues = cues_for(_analysis(track))
    assert len(cues) == 10 and sum(c.hot is not None for c in cues) == HOT_CUES
    assert cues[1].colour.upper() == "#E03C31"  # drums first: percussion red


def test_rekordbox_round_trip_merge_and_idempotence(track, tmp_path):
    from pyrekordbox.rbxml import RekordboxXml

    lib = tmp_path / "rekordbox.xml"
    a = _analysis(track)
    export([a], "rekordbox", lib)
    # a foreign cue and attribute on the same track, and another track
    tree = ET.parse(lib)
    t = tree.getroot().find("COLLECTION/TRACK")
    t.set("Comments", "keep me")
    ET.SubElement(t, "POSITION_MARK", Name="my cue", Type="0", Start="1.234", Num="-1")
    ET.SubElement(tree.getroot().find("COLLECTION"), "TRACK", TrackID="99", Name="other", Location="file://localhost/x/other.mp3")
    tree.write(lib)
    export([a], "rekordbox", lib)
    x = RekordboxXml(str(lib))
    tracks = {tr["TrackID"]: tr for tr in x.get_tracks()}
    assert len(tracks) == 2
    mine = next(tr for tr in x.get_tracks() if tr["Name"] == "My Track")
    marks = [(m["Name"], float(m["Start"]), int(m["Num"])) for m in mine.marks]
    assert ("my cue", 1.234, -1) in marks
    assert sum(n == -1 for _, _, n in marks) == 11 and sum(n >= 0 for _, _, n in marks) == 8
    for c in cues_for(a):
        assert any(abs(s - c.start) < 1e-3 and n == c.name for n, s, _ in marks)
    root = ET.parse(lib).getroot()
    t = next(tr for tr in root.iter("TRACK") if tr.get("Name") == "My Track")
    assert t.get("Comments") == "keep me"
    hot = [m for m in t.findall("POSITION_MARK") if m.get("Num") == "1"][0]
    assert (hot.get("Red"), hot.get("Green"), hot.get("Blue")) == ("224", "60", "49")
    assert (tmp_path / ".iram" / "rekordbox.xml" / "original.absent").exists() and (tmp_path / ".iram" / "rekordbox.xml" / "1").exists()


def test_traktor_round_trip(track, tmp_path):
    nml = tmp_path / "collection.nml"
    a = _analysis(track)
    export([a], "traktor", nml)
    e = ET.parse(nml).getroot().find("COLLECTION/ENTRY")
    ET.SubElement(e, "CUE_V2", NAME="my loop", TYPE="5", START="500.0", LEN="1000", HOTCUE="-1")
    ET.ElementTree(e.getroot() if hasattr(e, "getroot") else ET.parse(nml).getroot())
    tree = ET.parse(nml)
    tree.getroot().find("COLLECTION/ENTRY").append(ET.Element("CUE_V2", NAME="my loop", TYPE="5", START="500.0", LEN="1000", HOTCUE="-1"))
    tree.write(nml)
    export([a], "traktor", nml)
    cues = ET.parse(nml).getroot().findall("COLLECTION/ENTRY/CUE_V2")
    named = [c for c in cues if c.get("TYPE") == "0"]
    assert len(named) == 10 and any(c.get("NAME") == "my loop" for c in cues)
    assert sum(c.get("TYPE") == "4" for c in cues) == 1  # one beat-grid marker
    for c, ref in zip(named, cues_for(a)):
        assert abs(float(c.get("START")) - ref.start * 1000) < 1 and c.get("NAME") == ref.name


def _pcm_hash(p):
    x, sr = sf.read(p, dtype="int32")
    return hashlib.sha256(x.tobytes()).hexdigest()


@pytest.mark.parametrize("ext", [".wav", ".flac", ".aiff", ".mp3"])
def test_serato_round_trip_keeps_audio(tmp_path, ext):
    p = tmp_path / f"t{ext}"
    y = (np.random.default_rng(1).standard_normal((44100, 2)) * 0.1).astype(np.float32)
    sf.write(p, y, 44100, format={".aiff": "AIFF", ".mp3": "MP3", ".flac": "FLAC", ".wav": "WAV"}[ext])
    before = _pcm_hash(p)
    a = _analysis(p)
    export([a], "serato", tmp_path)
    export([a], "serato", tmp_path)  # a second export replaces, not duplicates
    got = serato.read_cues(p)
    assert len(got) == HOT_CUES
    for g, c in zip(sorted(got, key=lambda g: g["index"]), [c for c in cues_for(a) if c.hot is not None]):
        assert abs(g["ms"] - c.start * 1000) <= 1 and g["name"] == c.name and g["colour"].upper() == c.colour.upper()
    assert _pcm_hash(p) == before


def test_serato_markers2_codec_round_trip():
    entries = [(b"COLOR", b"\x00\xff\xff\xff"), serato.cue_entry(3, 123456, "#112233", "Drop 1 · drums"), (b"BPMLOCK", b"\x00")]
    assert serato.decode_markers(serato.encode_markers(entries)) == entries


def test_serato_refuses_a_format_without_tags(tmp_path):
    p = tmp_path / "t.ogg"
    sf.write(p, np.zeros(44100, np.float32), 44100, format="OGG")
    with pytest.raises(ExportError, match="cannot carry Serato tags"):
        export([_analysis(p)], "serato", tmp_path)


MIXXX_SCHEMA = """
CREATE TABLE track_locations (id INTEGER PRIMARY KEY AUTOINCREMENT, location varchar(512) UNIQUE, filename varchar(512),
  directory varchar(512), filesize INTEGER, fs_deleted INTEGER, needs_verification INTEGER);
CREATE TABLE library (id INTEGER PRIMARY KEY AUTOINCREMENT, artist varchar(64), title varchar(64),
  location INTEGER REFERENCES track_locations(location), samplerate INTEGER, bpm FLOAT);
CREATE TABLE cues (id integer PRIMARY KEY AUTOINCREMENT, track_id integer NOT NULL REFERENCES library(id),
  type integer DEFAULT 0 NOT NULL, position integer DEFAULT -1 NOT NULL, length integer DEFAULT 0 NOT NULL,
  hotcue integer DEFAULT -1 NOT NULL, label text DEFAULT '' NOT NULL, color integer DEFAULT 4294901760 NOT NULL);
"""


def _mixxx_db(tmp_path, track):
    db = tmp_path / "mixxxdb.sqlite"
    con = sqlite3.connect(db)
    con.executescript(MIXXX_SCHEMA)
    con.execute("INSERT INTO track_locations (id, location) VALUES (7, ?)", (str(track.resolve()),))
    con.execute("INSERT INTO library (id, title, location, samplerate) VALUES (3, 'x', 7, 48000)")
    con.execute("INSERT INTO cues (track_id, type, position, hotcue, label) VALUES (3, 1, 4800, 12, 'my cue')")
    con.commit()
    con.close()
    return db


def test_mixxx_round_trip(track, tmp_path):
    db = _mixxx_db(tmp_path, track)
    a = _analysis(track)
    export([a], "mixxx", db)
    export([a], "mixxx", db)
    rows = sqlite3.connect(db).execute("SELECT position, hotcue, label, color FROM cues WHERE track_id=3 ORDER BY hotcue").fetchall()
    assert ("my cue" in [r[2] for r in rows]) and len(rows) == HOT_CUES + 1
    for (pos, hot, label, colour), c in zip(rows, [c for c in cues_for(a) if c.hot is not None]):
        assert abs(pos / (48000 * 2) - c.start) < 1e-3 and label == c.name and hot == c.hot
        assert "#%06X" % colour == c.colour.upper()


def test_mixxx_locked_or_unknown_track_changes_nothing(track, tmp_path):
    db = _mixxx_db(tmp_path, track)
    before = db.read_bytes()
    other = tmp_path / "other.wav"
    sf.write(other, np.zeros(4410, np.float32), 44100)
    with pytest.raises(ExportError, match="no track"):
        export([_analysis(other)], "mixxx", db)
    lock = sqlite3.connect(db)
    lock.execute("BEGIN EXCLUSIVE")
    with pytest.raises(ExportError, match="locked"):
        export([_analysis(track)], "mixxx", db)
    lock.rollback()
    lock.close()
    assert db.read_bytes() == before


def test_foreign_xml_and_read_only_target_change_nothing(track, tmp_path, ordinary_user):
    bad = tmp_path / "notes.xml"
    bad.write_text("<notes><note/></notes>")
    with pytest.raises(ExportError, match="not a rekordbox library"):
        export([_analysis(track)], "rekordbox", bad)
    nml = tmp_path / "c.nml"
    nml.write_text("<foo/>")
    with pytest.raises(ExportError, match="not a Traktor collection"):
        export([_analysis(track)], "traktor", nml)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ExportError, match="not writable"):
            export([_analysis(track)], "rekordbox", ro / "rekordbox.xml")
    finally:
        ro.chmod(0o700)
    assert bad.read_text() == "<notes><note/></notes>"


def test_plain_exports(track, tmp_path):
    a = _analysis(track)
    for fmt in ("audacity", "csv", "json"):
        export([a], fmt, tmp_path)
    lines = (tmp_path / "My Track.labels.txt").read_text().splitlines()
    assert len(lines) == 10 and lines[1].split("\t")[2] == "Drop 2 · drums"
    assert "hot_cue" in (tmp_path / "My Track.sections.csv").read_text()


# ---------------------------------------------------------------------------------------------
# A DJ's library is sacred (issue 22). Each test below fails on the exporter that recognised its
# cues by name, kept one .bak and took slots 0-7 regardless, and passes on the ledger-based one.
# ---------------------------------------------------------------------------------------------
import base64  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402


def _state_dir(target):
    return target.parent / ".iram" / target.name  # where iram keeps backups and its ledger (iram.export.library)


USER_NAMES = ["Drop", "Intro", "Main", "Outro", "Breakdown 2", "Drop 2 · my note"]


def _rb_library(path, track, *, hot=(0, 1, 2)):
    """A rekordbox XML as rekordbox writes it: the DJ's memory cues named like iram's, hot cues A-C, a loop, playlists."""
    loc = "file://localhost" + str(track.resolve()).replace(" ", "%20")
    marks = "".join(f'\n      <POSITION_MARK Name="{n}" Type="0" Start="{1.5 + k:.3f}" Num="-1" Red="40" Green="226" Blue="20"/>'
                    for k, n in enumerate(USER_NAMES))
    marks += "".join(f'\n      <POSITION_MARK Name="{USER_NAMES[k]}" Type="0" Start="{1.5 + k:.3f}" Num="{k}" Red="40" Green="226" Blue="20"/>'
                     for k in hot)
    marks += '\n      <POSITION_MARK Name="my loop" Type="4" Start="8.000" End="12.000" Num="-1"/>'
    path.write_text(f'''<?xml version="1.0" encoding="UTF-8"?>

<DJ_PLAYLISTS Version="1.0.0">
  <PRODUCT Name="rekordbox" Version="6.7.7" Company="AlphaTheta"/>
  <COLLECTION Entries="2">
    <TRACK TrackID="11" Name="My Track" Artist="Me" Comments="keep &amp; me" Location="{loc}" TotalTime="110" AverageBpm="96.00">
      <TEMPO Inizio="0.250" Bpm="96.00" Metro="4/4" Battito="1"/>{marks}
    </TRACK>
    <TRACK TrackID="12" Name="Other" Location="file://localhost/music/other.mp3"/>
  </COLLECTION>
  <PLAYLISTS>
    <NODE Type="0" Name="ROOT" Count="1">
      <NODE Name="Friday" Type="1" KeyType="0" Entries="2">
        <TRACK Key="11"/>
        <TRACK Key="12"/>
      </NODE>
    </NODE>
  </PLAYLISTS>
</DJ_PLAYLISTS>
''', encoding="utf-8")
    return path


def _strip_ledger(path, fmt):
    """The library with every element the ledger says iram wrote taken out: what the DJ owns."""
    d = _state_dir(path)
    ledger = json.loads((d / "ledger.json").read_text())
    tree = ET.parse(path)
    parent_tag, child, key_of = (("COLLECTION", "TRACK", lambda t: t.get("Location")) if fmt == "rekordbox" else
                                 ("COLLECTION", "ENTRY", lambda e: "{VOLUME}{DIR}{FILE}".format(**{k: e.find("LOCATION").get(k, "") for k in ("VOLUME", "DIR", "FILE")})))
    coll = tree.getroot().find(parent_tag)
    for t in list(coll.findall(child)):
        mine = ledger["tracks"].get(key_of(t))
        if not mine:
            continue
        if mine["created"]:
            coll.remove(t)
            continue
        written = [json.dumps(m, sort_keys=True) for m in mine["marks"]] + [json.dumps([tag, a], sort_keys=True) for tag, a in mine["extra"]]
        for el in list(t):
            for key in (json.dumps(dict(el.attrib), sort_keys=True), json.dumps([el.tag, dict(el.attrib)], sort_keys=True)):
                if key in written:
                    written.remove(key)
                    t.remove(el)
                    break
    return tree


def _canonical(tree_or_path):
    root = tree_or_path.getroot() if hasattr(tree_or_path, "getroot") else ET.parse(tree_or_path).getroot()
    for el in root.iter():
        el.text = el.text.strip() if el.text and not el.text.strip() else el.text
        el.tail = None
    return ET.canonicalize(ET.tostring(root, encoding="unicode"), strip_text=True)


def _marks(lib, name="My Track"):
    t = next(t for t in ET.parse(lib).getroot().iter("TRACK") if t.get("Name") == name)
    return [dict(m.attrib) for m in t.findall("POSITION_MARK")]


def test_rekordbox_user_cues_named_like_iram_and_their_hot_slots_survive(track, tmp_path):
    lib = _rb_library(tmp_path / "rekordbox.xml", track)
    before = _marks(lib)
    lines = export([_analysis(track)], "rekordbox", lib)
    lines += export([_analysis(track)], "rekordbox", lib)
    after = _marks(lib)
    for m in before:  # every cue of the DJ's, names like "Drop" and "Intro" included, is still there, unchanged
        assert m in after
    hot = [m for m in after if m["Num"] not in ("-1",) and m not in before]
    assert sorted(int(m["Num"]) for m in hot) == [3, 4, 5, 6, 7]  # A-C are the DJ's: iram takes D-H only
    assert [m["Name"] for m in hot] == [c.name for c in cues_for(_analysis(track))[:5]]
    names = ", ".join(c.name for c in cues_for(_analysis(track))[5:8])
    assert f"no free hot cue slot for {names} (memory cues only)" in lines[-1]
    assert "slots A, B, C are yours" in lines[-1]
    assert sum(m["Num"] == "-1" and m not in before for m in after) == 10  # one memory cue per section, not duplicated


def test_traktor_user_cues_and_hot_slots_survive(track, tmp_path):
    nml = tmp_path / "collection.nml"
    p = track.resolve()
    cues = "".join(f'<CUE_V2 NAME="{n}" DISPL_ORDER="0" TYPE="0" START="{1500 + 1000 * k:.3f}" LEN="0.000000" REPEATS="-1" HOTCUE="{k if k < 3 else -1}"></CUE_V2>'
                   for k, n in enumerate(USER_NAMES))
    nml.write_text(f'<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n<NML VERSION="19"><HEAD COMPANY="www.native-instruments.com" PROGRAM="Traktor"></HEAD>'
                   f'<COLLECTION ENTRIES="1"><ENTRY TITLE="My Track"><LOCATION DIR="{"".join("/:" + x for x in p.parent.parts[1:])}/:" FILE="{p.name}" VOLUME="" VOLUMEID=""></LOCATION>'
                   f'{cues}<CUE_V2 NAME="my loop" DISPL_ORDER="0" TYPE="5" START="8000.000" LEN="4000.000" REPEATS="-1" HOTCUE="-1"></CUE_V2></ENTRY></COLLECTION></NML>')
    before = [dict(c.attrib) for c in ET.parse(nml).getroot().iter("CUE_V2")]
    for _ in range(2):
        lines = export([_analysis(track)], "traktor", nml)
    after = [dict(c.attrib) for c in ET.parse(nml).getroot().iter("CUE_V2")]
    assert all(c in after for c in before)
    assert len(ET.parse(nml).getroot().findall("COLLECTION/ENTRY")) == 1
    mine = [c for c in after if c not in before and c["TYPE"] == "0"]
    assert len(mine) == 10 and sorted(int(c["HOTCUE"]) for c in mine if c["HOTCUE"] != "-1") == [3, 4, 5, 6, 7]
    assert "no free hot cue slot" in lines[0]


def test_edited_iram_cue_becomes_the_djs(track, tmp_path):
    lib = tmp_path / "rekordbox.xml"
    export([_analysis(track)], "rekordbox", lib)
    tree = ET.parse(lib)
    t = tree.getroot().find("COLLECTION/TRACK")
    hot0 = next(m for m in t.findall("POSITION_MARK") if m.get("Num") == "0")
    hot0.set("Start", "3.000")  # the DJ moved iram's hot cue A: now it is the DJ's
    tree.write(lib)
    export([_analysis(track)], "rekordbox", lib)
    marks = _marks(lib)
    assert any(m["Num"] == "0" and m["Start"] == "3.000" for m in marks)
    assert sum(m["Num"] == "0" for m in marks) == 1  # and its slot was not given to another cue


@pytest.mark.parametrize("fmt", ["rekordbox", "traktor"])
def test_ten_exports_and_a_restore_keep_the_djs_library(track, tmp_path, fmt):
    """20 hand-made cues, loops and playlists survive ten exports (compared element by element,
    with what the ledger says iram wrote taken out) and a restore (byte for byte)."""
    if fmt == "rekordbox":
        lib = _rb_library(tmp_path / "rekordbox.xml", track)
        t = ET.parse(lib)
    else:
        lib = tmp_path / "collection.nml"
        export([_analysis(track)], "traktor", tmp_path / "seed.nml")
        t = ET.parse(tmp_path / "seed.nml")
        e = t.getroot().find("COLLECTION/ENTRY")
        for m in list(e.findall("CUE_V2")) + list(e.findall("TEMPO")):
            e.remove(m)
        t.getroot().append(ET.fromstring('<PLAYLISTS><NODE TYPE="FOLDER" NAME="$ROOT"><SUBNODES COUNT="1"><NODE TYPE="PLAYLIST" NAME="Friday">'
                                         '<PLAYLIST ENTRIES="0" TYPE="LIST" UUID="x"></PLAYLIST></NODE></SUBNODES></NODE></PLAYLISTS>'))
        t.write(lib, encoding="UTF-8", xml_declaration=True)
        t = ET.parse(lib)
    parent = next(t.getroot().iter("TRACK" if fmt == "rekordbox" else "ENTRY"))
    tag = "POSITION_MARK" if fmt == "rekordbox" else "CUE_V2"
    for k in range(20 - len(parent.findall(tag))):  # up to 20 hand-made cues and loops, names like iram's among them
        name = USER_NAMES[k % len(USER_NAMES)] if k % 3 else f"loop {k}"
        attrs = (dict(Name=name, Type="4" if k % 3 == 0 else "0", Start=f"{20 + k:.3f}", Num="-1") if fmt == "rekordbox" else
                 dict(NAME=name, DISPL_ORDER="0", TYPE="5" if k % 3 == 0 else "0", START=f"{20000 + 1000 * k:.3f}", LEN="500.000" if k % 3 == 0 else "0.000000",
                      REPEATS="-1", HOTCUE=str(k) if k < 2 else "-1"))
        ET.SubElement(parent, tag, attrs)
    t.write(lib, encoding="UTF-8", xml_declaration=True)
    original = lib.read_bytes()
    for k in range(10):
        export([_analysis(track, n_sections=10 - (k % 3))], fmt, lib)
    assert _canonical(_strip_ledger(lib, fmt)) == _canonical(ET.ElementTree(ET.fromstring(original)))
    d = _state_dir(lib)
    assert (d / "original").read_bytes() == original  # kept once, never overwritten
    assert {p.name for p in d.iterdir()} >= {"original", "1", "2", "3", "ledger.json"} and not (d / "4").exists()
    from iram.cli import main

    assert main(["export", "--restore", str(lib)]) == 0
    assert lib.read_bytes() == original


def test_concurrent_exports_into_one_rekordbox_xml_both_land(tmp_path):
    ctx = multiprocessing.get_context("fork")
    for run in range(3):
        lib = tmp_path / f"rekordbox{run}.xml"
        tracks = []
        for k in range(2):
            p = tmp_path / f"t{run}_{k}.wav"
            sf.write(p, np.zeros(4410, np.float32), 44100)
            tracks.append(p)
        barrier = ctx.Barrier(2)
        procs = [ctx.Process(target=_export_after, args=(barrier, p, lib)) for p in tracks]
        for pr in procs:
            pr.start()
        for pr in procs:
            pr.join(60)
            assert pr.exitcode == 0
        names = {t.get("Name") for t in ET.parse(lib).getroot().iter("TRACK")}
        assert names == {f"t{run}_0", f"t{run}_1"}, f"run {run}: {names}"


def _export_after(barrier, track, lib):
    barrier.wait()
    export([_analysis(track)], "rekordbox", lib)


def test_batch_writes_each_library_once(tmp_path, monkeypatch):
    import iram.model
    from iram.cli import main

    monkeypatch.setattr(iram.model, "load", lambda *a, **k: None)
    monkeypatch.setattr(sys.modules["iram.analyze"], "_run", lambda f, **k: (_analysis(f), None))
    files = []
    for k in range(3):
        p = tmp_path / f"t{k}.wav"
        sf.write(p, np.zeros(4410, np.float32), 44100)
        files.append(str(p))
    lib = tmp_path / "rekordbox.xml"
    _rb_library(lib, tmp_path / "t0.wav")
    assert main(["analyze", *files, "--no-plot", "-q", "--export", "rekordbox", "--export-to", str(lib)]) == 0
    d = _state_dir(lib)
    assert (d / "1").exists() and not (d / "2").exists()  # one write for the batch: one generation
    assert len(json.loads((d / "ledger.json").read_text())["tracks"]) == 3


def test_export_to_without_export_and_option_names(tmp_path, capsys, track):
    from iram.cli import main

    assert main(["analyze", str(track), "--export-to", str(tmp_path / "x.xml")]) == 2
    assert "--export-to" in capsys.readouterr().err
    with pytest.raises(ExportError, match="--export-to") as err:
        export([_analysis(track)], "rekordbox", tmp_path / "no" / "such" / "rekordbox.xml", option="--export-to")
    assert str(err.value).endswith("with --export-to")


def test_formats_defined_once_and_version_not_hard_coded(track, tmp_path):
    import iram
    import iram.cli
    import iram.export

    assert iram.cli.EXPORT_FORMATS is iram.export.FORMATS
    export([_analysis(track)], "rekordbox", tmp_path / "rekordbox.xml")
    assert ET.parse(tmp_path / "rekordbox.xml").getroot().find("PRODUCT").get("Version") == iram.__version__


def test_rekordbox_windows_location(tmp_path):
    from pyrekordbox.rbxml import decode_path

    win = "C:\\Users\\dj\\My Music\\Tune.mp3"
    a = _analysis(win)
    lib = tmp_path / "rekordbox.xml"
    export([a], "rekordbox", lib)
    loc = ET.parse(lib).getroot().find("COLLECTION/TRACK").get("Location")
    assert loc == "file://localhost/C:/Users/dj/My%20Music/Tune.mp3"  # as pyrekordbox's encode_path documents it
    assert decode_path(loc).replace("/", "\\") == win or decode_path(loc) == "C:/Users/dj/My Music/Tune.mp3"
    export([_analysis("c:/users/DJ/my music/tune.mp3")], "rekordbox", lib)  # Windows paths match case-insensitively
    assert len(ET.parse(lib).getroot().findall("COLLECTION/TRACK")) == 1


def test_traktor_volume_and_volume_relative_dir(tmp_path):
    nml = tmp_path / "collection.nml"
    nml.write_text('<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n<NML VERSION="19"><COLLECTION ENTRIES="2">'
                   '<ENTRY TITLE="ext"><LOCATION DIR="/:Music/:" FILE="b.mp3" VOLUME="USB" VOLUMEID="usbid"></LOCATION></ENTRY>'
                   '<ENTRY TITLE="home"><LOCATION DIR="/:Users/:dj/:" FILE="c.mp3" VOLUME="Macintosh HD" VOLUMEID="mhd"></LOCATION></ENTRY>'
                   '</COLLECTION></NML>')
    export([_analysis("/Volumes/USB/Music/b.mp3"), _analysis("/Users/dj/c.mp3"), _analysis("D:\\Sets\\d.mp3"),
            _analysis("/Volumes/USB/New/e.mp3")], "traktor", nml)
    locs = [e.find("LOCATION").attrib for e in ET.parse(nml).getroot().iter("ENTRY")]
    assert len(locs) == 4  # the external-drive and start-up-disk tracks were found, not added again
    assert locs[2] == {"DIR": "/:Sets/:", "FILE": "d.mp3", "VOLUME": "D:"}
    assert locs[3] == {"DIR": "/:New/:", "FILE": "e.mp3", "VOLUME": "USB", "VOLUMEID": "usbid"}


# Mixxx's schema as res/schema.xml builds it (revision 1 tables, library as re-made in revision 3,
# cues.color from revision 27), with the columns an export touches; playlists and crates included.
MIXXX_REAL_SCHEMA = """
CREATE TABLE settings (name TEXT UNIQUE NOT NULL, value TEXT, locked INTEGER DEFAULT 0, hidden INTEGER DEFAULT 0);
CREATE TABLE track_locations (id INTEGER PRIMARY KEY AUTOINCREMENT, location varchar(512) UNIQUE, filename varchar(512),
  directory varchar(512), filesize INTEGER, fs_deleted INTEGER, needs_verification INTEGER);
CREATE TABLE library (id INTEGER PRIMARY KEY AUTOINCREMENT, artist varchar(64), title varchar(64), album varchar(64),
  year varchar(16), genre varchar(64), tracknumber varchar(3), location INTEGER REFERENCES track_locations(location),
  comment varchar(256), url varchar(256), duration FLOAT, bitrate INTEGER, samplerate INTEGER, cuepoint INTEGER, bpm FLOAT,
  wavesummaryhex BLOB, channels INTEGER, datetime_added DEFAULT CURRENT_TIMESTAMP, mixxx_deleted INTEGER, played INTEGER,
  header_parsed INTEGER DEFAULT 0);
CREATE TABLE Playlists (id INTEGER PRIMARY KEY, name varchar(48), position INTEGER, hidden INTEGER DEFAULT 0 NOT NULL,
  date_created datetime, date_modified datetime);
CREATE TABLE PlaylistTracks (id INTEGER PRIMARY KEY, playlist_id INTEGER REFERENCES Playlists(id),
  track_id INTEGER REFERENCES library(id), position INTEGER);
CREATE TABLE cues (id INTEGER PRIMARY KEY AUTOINCREMENT, track_id INTEGER NOT NULL REFERENCES library(id),
  type INTEGER DEFAULT 0 NOT NULL, position INTEGER DEFAULT -1 NOT NULL, length INTEGER DEFAULT 0 NOT NULL,
  hotcue INTEGER DEFAULT -1 NOT NULL, label TEXT DEFAULT '' NOT NULL, color INTEGER DEFAULT 4294901760 NOT NULL);
CREATE TABLE crates (id INTEGER PRIMARY KEY AUTOINCREMENT, name varchar(48) UNIQUE NOT NULL, count INTEGER DEFAULT 0,
  show INTEGER DEFAULT 1);
CREATE TABLE crate_tracks (crate_id INTEGER NOT NULL REFERENCES crates(id), track_id INTEGER NOT NULL REFERENCES library(id),
  UNIQUE (crate_id, track_id));
"""


def _mixxx_real(tmp_path, location):
    db = tmp_path / "mixxxdb.sqlite"
    con = sqlite3.connect(db)
    con.executescript(MIXXX_REAL_SCHEMA)
    con.execute("INSERT INTO track_locations (id, location) VALUES (7, ?)", (str(location),))
    con.execute("INSERT INTO library (id, title, location, samplerate) VALUES (3, 'x', 7, 44100)")
    for k, n in enumerate(USER_NAMES):  # the DJ's: hot cues 0-2 and loops named like iram's cues
        con.execute("INSERT INTO cues (track_id, type, position, length, hotcue, label, color) VALUES (3, ?, ?, ?, ?, ?, ?)",
                    (1 if k < 3 else 4, 88200 * (k + 1), 0 if k < 3 else 44100, k if k < 3 else 10 + k, n, 0xC50A08))
    con.execute("INSERT INTO Playlists (id, name, position) VALUES (1, 'Friday', 1)")
    con.execute("INSERT INTO PlaylistTracks (playlist_id, track_id, position) VALUES (1, 3, 1)")
    con.execute("INSERT INTO crates (id, name) VALUES (1, 'Peak')")
    con.execute("INSERT INTO crate_tracks VALUES (1, 3)")
    con.commit()
    con.close()
    return db


def _dump(db, skip=()):
    con = sqlite3.connect(db)
    out = {t: sorted(r for r in con.execute(f"SELECT * FROM {t}") if (t, r[0]) not in skip)
           for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")}
    con.close()
    return out


def test_mixxx_keeps_the_djs_cues_slots_and_matches_symlinked_paths(tmp_path, track):
    link = tmp_path / "link.wav"
    link.symlink_to(track)
    db = _mixxx_real(tmp_path, os.path.abspath(link))  # Mixxx stores the path it was given, symlink unresolved
    before = _dump(db)
    original = db.read_bytes()
    for k in range(10):
        lines = export([_analysis(link, n_sections=10 - (k % 3))], "mixxx", db)
    con = sqlite3.connect(db)
    mine = con.execute("SELECT id, hotcue, label FROM cues WHERE id NOT IN (%s)" % ",".join(str(r[0]) for r in before["cues"])).fetchall()
    con.close()
    assert sorted(h for _, h, _ in mine) == [3, 4, 5, 6, 7]  # free slots only; 0-2 stay the DJ's
    assert "no free hot cue slot for" in lines[-1] and "(not placed)" in lines[-1]
    assert _dump(db, skip={("cues", i) for i, _, _ in mine}) == before  # everything of the DJ's as it was
    from iram.export import restore

    assert restore(db).endswith("restored to the original iram kept") and db.read_bytes() == original


def test_mixxx_refuses_while_mixxx_has_the_database_open(tmp_path, track):
    db = _mixxx_real(tmp_path, track.resolve())
    before = db.read_bytes()
    holder = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
                               "c.execute('SELECT count(*) FROM cues').fetchall(); print('open', flush=True); time.sleep(60)", str(db)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"  # idle: no lock held, only the connection
        with pytest.raises(ExportError, match=r"in use by .*pid %d.*close Mixxx" % holder.pid):
            export([_analysis(track)], "mixxx", db)
    finally:
        holder.kill()
        holder.wait()
    assert db.read_bytes() == before


def _s32(v):
    """serato_markers_.md's 4-byte form of a 3-byte value (7 bits per byte), written out here independently."""
    return bytes([(v >> 21) & 0x7F, (v >> 14) & 0x7F, (v >> 7) & 0x7F, v & 0x7F])


def _markers_entry(start=None, end=None, colour=0, kind=1):
    """One 22-byte Serato Markers_ entry laid out as serato_markers_.md's table gives it."""
    pos = (lambda v: b"\x7f" * 5 if v is None else b"\x00" + _s32(v))
    return pos(start) + pos(end) + b"\x00" + b"\x7f" * 5 + _s32(colour) + bytes([kind, 0])


def _serato_mp3(tmp_path, *, v23=True, markers_=True, ext=".mp3"):
    """An MP3 (or AIFF) tagged as Serato DJ Pro leaves it: ID3 v2.3, Markers2 with the DJ's cue A and a loop, and Markers_."""
    import mutagen
    from mutagen.id3 import GEOB, TIT2

    p = tmp_path / f"t{ext}"
    sf.write(p, (np.random.default_rng(1).standard_normal((44100 * 3, 2)) * 0.1).astype(np.float32), 44100,
             format="MP3" if ext == ".mp3" else "AIFF")
    f = mutagen.File(p)
    f.add_tags()
    tags = f.tags
    tags.add(TIT2(encoding=3, text="My Tune"))
    loop = b"\x00\x00" + (1000).to_bytes(4, "big") + (5000).to_bytes(4, "big") + b"\xff\xff\xff\xff\x00\x27\xaa\xe1\x00\x00" + b"my loop\x00"
    entries = [(b"COLOR", b"\x00\xff\x99\xff"), serato.cue_entry(0, 1500, "#CC0000", "Drop"), (b"LOOP", loop), (b"BPMLOCK", b"\x01")]
    tags.add(GEOB(encoding=0, mime="application/octet-stream", desc="Serato Markers2", data=serato.encode_markers(entries)))
    if markers_:
        rows = [_markers_entry(1500, None, 0xCC0000)] + [_markers_entry(kind=0)] * 4  # an empty cue slot is type 0
        rows += [_markers_entry(1000, 5000, 0, kind=3)] + [_markers_entry(kind=3)] * 8
        data = b"\x02\x05" + (14).to_bytes(4, "big") + b"".join(rows) + b"\x07\x7f\x7f\x7f"
        tags.add(GEOB(encoding=0, mime="application/octet-stream", desc="Serato Markers_", data=data))
    f.save(v2_version=3 if v23 else 4)
    return p


@pytest.mark.parametrize("ext", [".mp3", ".aiff"])
def test_serato_id3_keeps_version_markers_and_the_djs_cues(tmp_path, ext):
    import mutagen
    from serato_tools.track_cues_v1 import TrackCuesV1
    from serato_tools.track_cues_v2 import TrackCuesV2

    def ID3(p):
        return mutagen.File(p).tags

    p = _serato_mp3(tmp_path, ext=ext)
    pcm = _pcm_hash(p)
    for _ in range(2):
        line = export([_analysis(p)], "serato", tmp_path)[0]
    assert ID3(p).version == (2, 3, 0) and str(ID3(p)["TIT2"]) == "My Tune"
    v2 = TrackCuesV2(str(p)).entries  # the independent reader (serato-tools)
    cues = {e.index: e for e in v2 if type(e).__name__ == "CueEntry"}
    assert cues[0].name == "Drop" and cues[0].position == 1500  # the DJ's cue A, named like iram's, untouched
    assert [cues[k].name for k in range(1, 8)] == [c.name for c in cues_for(_analysis(p))[:7]]
    assert any(type(e).__name__ == "LoopEntry" and e.name == "my loop" for e in v2)
    assert "no free hot cue slot for" in line and cues_for(_analysis(p))[7].name in line
    v1 = TrackCuesV1(str(p)).entries  # Markers_ agrees with Markers2 for cues 0-4, the loop is kept
    for k in range(5):
        assert v1[k].start_position_set and v1[k].start_position == cues[k].position
    assert v1[5].start_position == 1000 and v1[5].end_position == 5000
    assert _pcm_hash(p) == pcm


def test_serato_restore_puts_the_tags_back_exactly(tmp_path):
    from mutagen.id3 import ID3

    p = _serato_mp3(tmp_path)
    frames = {fr.desc: fr.data for fr in ID3(p).getall("GEOB")}
    for k in range(4):
        export([_analysis(p, n_sections=10 - k)], "serato", tmp_path)
    d = _state_dir(p)
    assert (d / "original").exists() and (d / "3").exists()
    from iram.cli import main

    assert main(["export", "--restore", str(p)]) == 0
    assert {fr.desc: fr.data for fr in ID3(p).getall("GEOB")} == frames and ID3(p).version == (2, 3, 0)


def test_serato_flac_layout_as_documented(tmp_path):
    import mutagen

    p = tmp_path / "t.flac"
    sf.write(p, np.zeros((44100, 2), np.float32), 44100, format="FLAC")
    export([_analysis(p)], "serato", tmp_path)
    v = mutagen.File(p).tags["SERATO_MARKERS_V2"][0]
    lines = v.split("\n")
    assert "=" not in v and all(len(x) == 72 for x in lines[:-1]) and len(lines[-1]) <= 72  # docs/fileformats.md
    raw = base64.b64decode(v.replace("\n", "") + "=" * (-len(v.replace("\n", "")) % 4))
    assert raw.startswith(b"application/octet-stream\x00\x00Serato Markers2\x00\x01\x01") and len(raw) >= 470


def test_serato_memory_stays_flat_on_long_files(tmp_path):
    import tracemalloc

    p = tmp_path / "long.wav"
    minutes = 4
    with sf.SoundFile(p, "w", 44100, 2, "PCM_16") as f:
        for _ in range(minutes * 6):
            f.write((np.random.default_rng(0).standard_normal((441000, 2)) * 0.1).astype(np.float32))
    a = _analysis(p)
    tracemalloc.start()
    export([a], "serato", tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16e6, f"{peak / 1e6:.0f} MB for a {p.stat().st_size / 1e6:.0f} MB file"  # was 4 bytes per sample, twice


def test_bad_targets_one_line_nothing_changed(tmp_path, track, capsys):
    from iram.cli import main

    res = tmp_path / "My Track.iram.json"
    res.write_text(json.dumps(_analysis(track).to_json()) if hasattr(_analysis(track), "to_json") else "{}")
    bad = tmp_path / "broken.xml"
    bad.write_text("<DJ_PLAYLISTS><COLLECTION><TRACK")
    assert main(["export", str(res), "--format", "rekordbox", "-o", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "Traceback" not in err
    assert bad.read_text() == "<DJ_PLAYLISTS><COLLECTION><TRACK"
    lib = tmp_path / "rekordbox.xml"
    export([_analysis(track)], "rekordbox", lib)
    (_state_dir(lib) / "ledger.json").write_text("{not json")
    before = lib.read_bytes()
    with pytest.raises(ExportError, match="ledger is damaged"):
        export([_analysis(track)], "rekordbox", lib)
    assert lib.read_bytes() == before
    assert main(["export", "--restore", str(tmp_path / "never.xml")]) == 1
    assert "nothing to restore" in capsys.readouterr().err


def test_read_only_targets_are_refused(tmp_path, track, ordinary_user):
    """A read-only library or audio file is refused in one line and left as it was."""
    audio = tmp_path / "t.wav"
    sf.write(audio, np.zeros(44100, np.float32), 44100)
    lib = _rb_library(tmp_path / "rekordbox.xml", audio)
    nml = tmp_path / "c.nml"
    export([_analysis(audio)], "traktor", nml)
    db = _mixxx_real(tmp_path, audio.resolve())
    for f in (audio, lib, nml, db):
        f.chmod(0o444)
    before = {f: f.read_bytes() for f in (audio, lib, nml, db)}
    try:
        for fmt, target in (("rekordbox", lib), ("traktor", nml), ("mixxx", db), ("serato", tmp_path)):
            with pytest.raises(ExportError, match=r"read-only; make it writable") as err:
                export([_analysis(audio)], fmt, target)
            assert "\n" not in str(err.value)
        assert all(f.read_bytes() == b for f, b in before.items())
    finally:
        for f in before:
            f.chmod(0o644)


def test_serato_markers_underscore_follows_a_cue_the_dj_took_over(tmp_path):
    """iram's cue B renamed by the DJ is the DJ's: kept in Markers2, and Markers_ mirrors it rather than being emptied."""
    import mutagen
    from serato_tools.track_cues_v1 import TrackCuesV1

    p = _serato_mp3(tmp_path)
    export([_analysis(p)], "serato", tmp_path)
    f = mutagen.File(p)
    geob = next(fr for fr in f.tags.getall("GEOB") if fr.desc == "Serato Markers2")
    entries = [(t, serato.cue_entry(1, 2345, "#00CC00", "mine now")[1] if t == b"CUE" and d[1] == 1 else d)
               for t, d in serato.decode_markers(geob.data)]
    geob.data = serato.encode_markers(entries)
    f.save(v2_version=3)
    export([_analysis(p, n_sections=6)], "serato", tmp_path)
    cues = {c["index"]: c for c in serato.read_cues(p)}
    assert cues[1]["name"] == "mine now" and cues[1]["ms"] == 2345
    v1 = TrackCuesV1(str(p)).entries
    assert v1[1].start_position_set and v1[1].start_position == 2345
    assert all(v1[k].start_position == cues[k]["ms"] for k in range(5))


def test_serato_keeps_id3_v23_frames_as_they_were(tmp_path):
    """A v2.3 tag keeps its v2.3 frames: year (TYER/TDAT) and RVAD are not turned into v2.4's TDRC or dropped."""
    import mutagen
    from mutagen.id3 import ID3, RVAD, TDAT, TSOP, TYER

    p = _serato_mp3(tmp_path)
    f = mutagen.File(p)
    for fr in (TYER(encoding=0, text="1999"), TDAT(encoding=0, text="0312"), TSOP(encoding=1, text="Tune, The"),
               RVAD(adjustments=[0, 0], peaks=[0, 0])):
        f.tags.add(fr)
    f.save(v2_version=3)
    before = {k: repr(v) for k, v in ID3(p, translate=False).items() if not k.startswith("GEOB")}
    export([_analysis(p)], "serato", tmp_path)
    after = ID3(p, translate=False)
    assert after.version == (2, 3, 0) and "TDRC" not in after
    assert {k: repr(v) for k, v in after.items() if not k.startswith("GEOB")} == before


def test_serato_no_tag_change_without_its_backup(tmp_path, monkeypatch):
    """When the tag backup cannot be written (a full disk), the audio file is left as it was."""
    import errno

    from iram.export import library

    p = _serato_mp3(tmp_path)
    before = p.read_bytes()

    def full(path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(library, "atomic_path", full)
    with pytest.raises((OSError, ExportError)):
        export([_analysis(p)], "serato", tmp_path)
    assert p.read_bytes() == before


def test_traktor_numbers_written_as_traktor_writes_them(track, tmp_path):
    """Traktor saves CUE_V2 START in ms with 6 decimals (START="52.315876" in collections it wrote). iram writes
    the same, so a collection Traktor has loaded and saved again still matches iram's ledger: no duplicates."""
    nml = tmp_path / "collection.nml"
    a = _analysis(track)
    export([a], "traktor", nml)
    tree = ET.parse(nml)
    for c in tree.getroot().iter("CUE_V2"):  # Traktor quits and saves its collection
        c.set("START", f"{float(c.get('START')):.6f}")
        c.set("LEN", f"{float(c.get('LEN')):.6f}")
    tree.write(nml, encoding="UTF-8", xml_declaration=True)
    export([a], "traktor", nml)
    named = [c for c in ET.parse(nml).getroot().iter("CUE_V2") if c.get("TYPE") == "0"]
    assert len(named) == len(cues_for(a))
    assert sorted(int(c.get("HOTCUE")) for c in named if c.get("HOTCUE") != "-1") == list(range(HOT_CUES))


def test_mixxx_finds_a_windows_track_as_mixxx_stores_it(tmp_path):
    """Mixxx stores QFileInfo::absoluteFilePath(), which has forward slashes on Windows too (C:/Users/...)."""
    db = _mixxx_real(tmp_path, "C:/Users/me/Music/My Track.wav")
    export([_analysis(r"C:\Users\me\Music\My Track.wav")], "mixxx", db)
    export([_analysis(r"C:\Users\me\Music\My Track.wav")], "mixxx", db)
    rows = sqlite3.connect(db).execute("SELECT hotcue FROM cues WHERE track_id=3 AND type=1 ORDER BY hotcue").fetchall()
    assert [r[0] for r in rows] == list(range(HOT_CUES))  # the DJ's 0-2 kept, iram's 3-7, no duplicates


def test_mixxx_database_error_is_one_line_and_changes_nothing(tmp_path, track):
    """A database iram cannot write as expected (here a pre-2.3 cues table without a color column) is refused in one line."""
    db = tmp_path / "mixxxdb.sqlite"
    con = sqlite3.connect(db)
    con.executescript(MIXXX_SCHEMA.replace(", color integer DEFAULT 4294901760 NOT NULL", ""))
    con.execute("INSERT INTO track_locations (id, location) VALUES (7, ?)", (str(track.resolve()),))
    con.execute("INSERT INTO library (id, title, location, samplerate) VALUES (3, 'x', 7, 48000)")
    con.commit()
    con.close()
    before = db.read_bytes()
    with pytest.raises(ExportError) as err:
        export([_analysis(track)], "mixxx", db)
    assert str(db) in str(err.value) and "\n" not in str(err.value)
    assert db.read_bytes() == before


def test_rekordbox_network_share_track_is_found_again(tmp_path):
    """A track on a Windows network share (\\\\server\\share\\...) is matched on the next export, not added twice."""
    unc = "\\\\nas\\music\\Tune.mp3"
    lib = tmp_path / "rekordbox.xml"
    export([_analysis(unc)], "rekordbox", lib)
    export([_analysis(unc)], "rekordbox", lib)
    tracks = ET.parse(lib).getroot().findall("COLLECTION/TRACK")
    assert len(tracks) == 1 and tracks[0].get("Location") == "file://localhost//nas/music/Tune.mp3"
    assert sum(m.get("Num") == "-1" for m in tracks[0].findall("POSITION_MARK")) == len(cues_for(_analysis(unc)))


def test_paths_match_whatever_the_unicode_normalisation(tmp_path):
    """macOS programs store decomposed names (NFD: 'e' + U+0301) while a typed path is composed (NFC): one track."""
    import unicodedata

    nfc = "/Users/dj/Music/Caf\u00e9 Tune.mp3"
    nfd = unicodedata.normalize("NFD", nfc)
    lib = tmp_path / "rekordbox.xml"
    export([_analysis(nfd)], "rekordbox", lib)  # rekordbox's own entry, decomposed
    export([_analysis(nfc)], "rekordbox", lib)
    assert len(ET.parse(lib).getroot().findall("COLLECTION/TRACK")) == 1
    nml = tmp_path / "collection.nml"
    export([_analysis(nfd)], "traktor", nml)
    export([_analysis(nfc)], "traktor", nml)
    assert len(ET.parse(nml).getroot().findall("COLLECTION/ENTRY")) == 1
    db = _mixxx_real(tmp_path, nfd)
    export([_analysis(nfc)], "mixxx", db)
    assert sqlite3.connect(db).execute("SELECT count(*) FROM cues WHERE track_id=3 AND hotcue BETWEEN 3 AND 7").fetchone() == (5,)


@pytest.mark.parametrize("fmt", ["rekordbox", "serato"])
def test_restore_works_when_the_ledger_is_damaged(tmp_path, track, fmt):
    """The damaged-ledger error tells the DJ to run iram export --restore: that must then work."""
    from iram.cli import main

    lib = _rb_library(tmp_path / "rekordbox.xml", track) if fmt == "rekordbox" else _serato_mp3(tmp_path)
    original = lib.read_bytes() if fmt == "rekordbox" else {fr.desc: fr.data for fr in __import__("mutagen.id3").id3.ID3(lib).getall("GEOB")}
    export([_analysis(track if fmt == "rekordbox" else lib)], fmt, lib if fmt == "rekordbox" else tmp_path)
    (_state_dir(lib) / "ledger.json").write_text("{not json")
    with pytest.raises(ExportError, match="iram export --restore"):
        export([_analysis(track if fmt == "rekordbox" else lib)], fmt, lib if fmt == "rekordbox" else tmp_path)
    assert main(["export", "--restore", str(lib)]) == 0
    if fmt == "rekordbox":
        assert lib.read_bytes() == original
    else:
        from mutagen.id3 import ID3

        assert {fr.desc: fr.data for fr in ID3(lib).getall("GEOB")} == original
    export([_analysis(track if fmt == "rekordbox" else lib)], fmt, lib if fmt == "rekordbox" else tmp_path)  # and exports go on


def test_killed_between_library_and_ledger_leaves_no_orphaned_cues(tmp_path, track, monkeypatch):
    """iram killed after the library was replaced but before its ledger was: the next export still knows its cues."""
    from iram.export import xmlfile

    lib = _rb_library(tmp_path / "rekordbox.xml", track)
    export([_analysis(track, n_sections=6)], "rekordbox", lib)
    real, before = xmlfile.save_ledger, lib.read_bytes()

    def killed_once_the_library_is_written(d, ledger):
        if lib.read_bytes() != before:
            raise KeyboardInterrupt
        real(d, ledger)

    monkeypatch.setattr(xmlfile, "save_ledger", killed_once_the_library_is_written)
    with pytest.raises(KeyboardInterrupt):
        export([_analysis(track, n_sections=8)], "rekordbox", lib)
    monkeypatch.undo()
    export([_analysis(track, n_sections=8)], "rekordbox", lib)
    want = [(c.name, f"{c.start:.3f}") for c in cues_for(_analysis(track, n_sections=8))]
    got = [(m.get("Name"), m.get("Start")) for m in ET.parse(lib).getroot().find("COLLECTION/TRACK").findall("POSITION_MARK")
           if m.get("Num") == "-1"]
    assert sorted(g for g in got if g in want) == sorted(want)  # each of iram's cues once: none orphaned as the DJ's


def test_serato_malformed_cue_entry_is_one_line(tmp_path):
    """A Markers2 CUE entry too short to hold a cue (another tool's bug) gets the damaged-tags line, not a traceback."""
    import mutagen

    p = _serato_mp3(tmp_path)
    f = mutagen.File(p)
    geob = next(fr for fr in f.tags.getall("GEOB") if fr.desc == "Serato Markers2")
    geob.data = serato.encode_markers([(b"COLOR", b"\x00\xff\xff\xff"), (b"CUE", b"\x00\x01\x00")])
    f.save(v2_version=3)
    before = p.read_bytes()
    with pytest.raises(ExportError, match="Serato tags are damaged"):
        export([_analysis(p)], "serato", tmp_path)
    assert p.read_bytes() == before


def test_mixxx_without_a_sample_rate_is_refused_not_guessed(tmp_path, track):
    """Positions are samples at the track's rate; with none in the library (0 or NULL), 44.1 kHz is not assumed."""
    db = _mixxx_db(tmp_path, track)
    con = sqlite3.connect(db)
    con.execute("UPDATE library SET samplerate = 0")
    con.commit()
    con.close()
    before = db.read_bytes()
    with pytest.raises(ExportError, match="sample rate"):
        export([_analysis(track)], "mixxx", db)
    assert db.read_bytes() == before


def test_restore_takes_the_folder_export_was_given(tmp_path, track):
    """iram export -o FOLDER writes FOLDER/collection.nml; iram export --restore FOLDER restores that file."""
    from iram.cli import main

    folder = tmp_path / "Traktor"
    folder.mkdir()
    nml = folder / "collection.nml"
    export([_analysis(track)], "traktor", tmp_path / "seed.nml")
    nml.write_bytes((tmp_path / "seed.nml").read_bytes())
    original = nml.read_bytes()
    export([_analysis(track, n_sections=6)], "traktor", folder)
    assert nml.read_bytes() != original
    assert main(["export", "--restore", str(folder)]) == 0
    assert nml.read_bytes() == original


def test_serato_batch_goes_on_past_a_bad_file(tmp_path, capsys):
    """iram export a.json b.json --format serato: a file that cannot be tagged is one line; the others are still written."""
    import json as _json

    from iram.cli import main

    good = _serato_mp3(tmp_path)
    results = []
    for audio in (tmp_path / "gone.mp3", good):
        r = tmp_path / f"{audio.stem}.iram.json"
        r.write_text(_json.dumps(_analysis(audio).to_json()))
        results.append(str(r))
    assert main(["export", *results, "--format", "serato"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gone.mp3" in err
    assert len(serato.read_cues(good)) == HOT_CUES
