import numpy as np

from iram.segments import bar_means, choose_offset, make_segments, novelty, phrase_offset


def test_segments_start_on_downbeats_with_partial_edges():
    bar = 2.0
    downs = 1.0 + bar * np.arange(20)  # 1 s pickup, 20 bars
    segs = make_segments(downs, duration=41.0, offset=0)
    assert segs[0].partial and segs[0].start == 0.0 and segs[0].end == 1.0
    full = [s for s in segs if not s.partial]
    assert [s.start for s in full] == [1.0, 9.0, 17.0, 25.0, 33.0]
    assert full[0].bars == (1, 4) and full[1].bars == (5, 8)


def test_offset_moves_the_block_grid():
    downs = 2.0 * np.arange(24)
    segs = make_segments(downs, duration=48.0, offset=2)
    assert segs[0].partial and segs[0].bars == (1, 2)
    assert segs[1].start == 4.0 and segs[1].bars == (3, 6)


def test_phrase_offset_follows_arrangement_changes():
    feats = np.zeros((32, 3))
    for start in (2, 10, 18, 26):  # changes every 8 bars from bar 3 (index 2)
        feats[start:start + 4, 0] = 1.0
    assert phrase_offset(novelty(feats)) == 2


def test_bar_means_average_each_bar_and_place_the_phrase():
    fps, bar = 100, 2.0
    grid = 0.5 + bar * np.arange(20)  # first downbeat at 0.5 s
    frames = np.zeros((int(41 * fps), 2))
    for a, b in ((2, 6), (10, 14)):  # a part plays bars 3-6 and 11-14 (indices 2..5, 10..13)
        frames[int(grid[a] * fps):int(grid[b] * fps), 1] = 1.0
    m = bar_means(frames, grid, fps)
    assert m.shape == (20, 2)
    assert np.allclose(m[2:6, 1], 1.0) and np.allclose(m[6:10, 1], 0.0) and np.allclose(m[10:14, 1], 1.0)
    assert phrase_offset(novelty(m)) == 2


def test_short_audio_is_one_partial_segment():
    segs = make_segments(np.array([0.5]), duration=5.0)
    assert len(segs) == 1 and segs[0].partial


def test_phrase_offset_opens_where_the_music_starts_unless_the_changes_say_otherwise():
    flat = np.zeros(32)
    assert phrase_offset(flat, start_bar=5) == 1  # no changes: the blocks open on the start bar
    feats = np.zeros((32, 3))
    for start in (2, 10, 18, 26):  # changes every 8 bars from bar 3 outweigh a start on bar 1
        feats[start:start + 4, 0] = 1.0
    assert phrase_offset(novelty(feats), start_bar=0) == 2


def test_choose_offset_finds_the_bar_the_music_starts_on():
    fps, bar = 100, 2.0
    downs = 0.5 + bar * np.arange(24)  # bar lines from 0.5 s; the music starts on the 3rd (4.5 s)
    bands = np.full((int(49 * fps), 4), -6.0)  # log10 power: silence
    bands[int(4.5 * fps):] = 0.0  # steady sound from 4.5 s: no change to follow
    assert choose_offset(downs, bands, 49.0, fps) == 2
