import mir_eval
import numpy as np
import pytest

from iram import beats
from conftest import drum_loop


@pytest.mark.parametrize("bpm, first", [(124.0, 0.5), (140.0, 0.9), (100.0, 0.3)])
def test_tracks_tempo_beats_and_downbeats_of_a_drum_loop(bpm, first):
    y, ref_beats, ref_downs = drum_loop(bpm=bpm, bars=16, first_downbeat=first)
    import soxr

    b = beats.track(y, sr=44100, signal16k=soxr.resample(y, 44100, 16000))
    assert abs(b.bpm / bpm - 1) < 0.01
    assert b.fixed_grid
    assert mir_eval.beat.f_measure(ref_beats, b.beats) > 0.95
    assert mir_eval.beat.f_measure(ref_downs, b.downbeats) > 0.9


def test_grid_search_recovers_period_and_phase():
    fps = beats.FPS
    ev = np.zeros(60 * fps)
    period, offset = 60 / 137.0, 0.21
    for t in offset + period * np.arange(int(59 / period)):
        ev[int(round(t * fps))] = 1.0
    off, p, score = beats.grid_search(ev, period * 1.02, 60.0)
    assert abs(p / period - 1) < 0.002
    assert abs(((off - offset) / period + 0.5) % 1 - 0.5) < 0.05


def test_octave_period_folds_tempo_into_75_to_150_bpm():
    fps = beats.FPS
    act = np.zeros(60 * fps)
    p = 60 / 170.0
    for t in p * np.arange(int(59 / p)):
        act[int(round(t * fps))] = 1.0
    assert abs(60 / beats.octave_period(act) - 85.0) < 2.0  # 170 BPM folds to 85; readings double it


def test_readings_offer_offbeats_double_and_half():
    def periods(grid, rescaled=False):
        return sorted({round(float(np.median(np.diff(b))), 4) for b, r in beats.readings(grid) if r == rescaled})

    assert periods(0.1 + 0.6 * np.arange(64)) == [0.3, 0.6]  # 100 BPM: 200 and 100 (50 is too slow)
    grid = 0.1 + 0.5 * np.arange(64)  # 120 BPM: 60 and 120 (240 is too fast)
    assert periods(grid) == [0.5, 1.0]
    starts = {round(float(b[0]), 4) for b, r in beats.readings(grid) if not r and abs(np.median(np.diff(b)) - 0.5) < 1e-9}
    assert starts == {0.1, 0.35}  # the beats and their off-beats
    assert len(beats.candidates(grid)) == 4 * len(beats.readings(grid))


def test_a_grid_pulled_to_a_dotted_beat_still_offers_the_true_beat():
    beat = 60 / 126.0
    dotted = 0.2 + 1.5 * beat * np.arange(60)  # a ternary break made the grid every 1.5 beats
    found = [b for b, r in beats.readings(dotted) if r and abs(np.median(np.diff(b)) / beat - 1) < 1e-6]
    assert found and np.allclose(found[0][:4], 0.2 + beat * np.arange(4))
    # every point of the true grid, not only every third one, lies on it
    assert np.allclose(np.diff(found[0]), beat)


def test_features_see_kick_on_the_beat_and_downbeat():
    fps = beats.FPS
    n = 60 * fps
    grid = 0.5 * np.arange(120)
    act = np.zeros((n, 2))
    low = np.zeros(n)
    for i, t in enumerate(grid):
        act[int(t * fps), 0] = 1.0
        low[int(t * fps)] = 1.0 if i % 4 == 0 else 0.3
    cv = beats.curves(act, low, np.zeros((n, len(beats.BAND_EDGES) - 1)))
    f = dict(zip(beats.FEATURES, beats.features(grid, 0, cv)))
    off = dict(zip(beats.FEATURES, beats.features(grid[:-1] + 0.25, 0, cv)))
    assert f["beat_on"] > 2 and off["beat_on"] < -2
    assert f["low_down"] > 0 > dict(zip(beats.FEATURES, beats.features(grid, 1, cv)))["low_down"]


def test_shipped_scorer_matches_its_features():
    net = beats.scorer()
    assert tuple(net["features"]) == beats.FEATURES
    assert beats.score(np.zeros((3, len(beats.FEATURES))), net).shape == (3,)


def test_arrangement_changes_land_on_the_true_downbeats_only():
    fps = beats.FPS
    n = 64 * fps
    bands = np.zeros((n, len(beats.BAND_EDGES) - 1))
    for k, t in enumerate((16.0, 32.0, 48.0)):  # a new part enters every 8 bars of 120 BPM
        bands[int(t * fps):, 2 * k:2 * k + 4] += 3.0
    cv = beats.curves(np.zeros((n, 2)), np.zeros(n), bands)
    assert np.allclose(cv["changes"], [16.0, 32.0, 48.0], atol=0.03)
    grid = 0.5 * np.arange(128)
    at = {ph: dict(zip(beats.FEATURES, beats.features(grid, ph, cv)))["changes_on_downbeats"] for ph in range(4)}
    assert at[0] == 1.0 and at[1] == at[2] == at[3] == 0.0


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
@pytest.mark.parametrize("frame_size", [1024, 4096])
def test_block_stft_is_madmoms_stft(dtype, frame_size):
    from madmom.audio.signal import FramedSignal, Signal
    from madmom.audio.stft import ShortTimeFourierTransform

    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.2, 44100 * 2 + 123)
    x = (x * 32767).astype(np.int16) if dtype == np.int16 else x.astype(np.float32)
    frames = FramedSignal(Signal(x, sample_rate=44100, num_channels=1), frame_size=frame_size, fps=100)
    ref = ShortTimeFourierTransform(frames)
    got = beats.stft_blocks(frames, block=37)  # blocks that do not divide the frame count
    assert isinstance(got, ShortTimeFourierTransform) and got.shape == ref.shape
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    np.testing.assert_array_equal(got.bin_frequencies, ref.bin_frequencies)


def test_downbeat_activations_match_stock_madmom():
    from madmom.audio.signal import Signal
    from madmom.features.downbeats import RNNDownBeatProcessor

    y, _, _ = drum_loop(bpm=126.0, bars=4, first_downbeat=0.3)
    y16 = (y * 32767).astype(np.int16)
    ref = RNNDownBeatProcessor()(Signal(y16, sample_rate=44100, num_channels=1))
    np.testing.assert_allclose(beats.activations(y16), ref, atol=1e-4)
    chains = beats.downbeat_processor().processors[0].processors[1].processors
    assert [type(c.processors[1]).__name__ for c in chains] == ["BlockSTFT"] * 3  # the fast path is the one tested
