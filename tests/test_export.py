"""Round trips for every cue format, read back with the format's own library."""
import hashlib
import sqlite3
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import soundfile as sf

from iram.analyze import Analysis
from iram.errors import ExportError
from iram.export import HOT_CUES, cues_for, export, serato
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


def test_foreign_xml_and_read_only_target_change_nothing(track, tmp_path):
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
        import os

        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(Exception, match="not writable"):
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
