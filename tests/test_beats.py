import mir_eval
import numpy as np
import pytest

from iram import beats
from iram.beats import grid, madmom_adapter, reading
from iram.beats.madmom_adapter import FPS
from conftest import drum_loop, drum_pattern


def track_audio(y):
    return beats.track(y, sr=44100, signal16k=soxr_16k(y))


@pytest.mark.parametrize("bpm, first", [(124.0, 0.5), (140.0, 0.9), pytest.param(100.0, 0.3, marks=pytest.mark.xfail(
    strict=True, reason="madmom's DBN reads this loop at 200 BPM; the octave check, fitted to weight madmom's bars "
                        "(downbeat activation, which here fires on beats 1 and 3) heavily, keeps it"))])
def test_tracks_tempo_beats_and_downbeats_of_a_drum_loop(bpm, first):
    y, ref_beats, ref_downs = drum_loop(bpm=bpm, bars=16, first_downbeat=first)
    b = track_audio(y)
    assert abs(b.bpm / bpm - 1) < 0.01
    assert b.fixed_grid
    assert mir_eval.beat.f_measure(ref_beats, b.beats) > 0.95
    assert mir_eval.beat.f_measure(ref_downs, b.downbeats) > 0.9


def test_madmoms_own_dbn_reading_is_kept_beside_irams():
    y, ref_beats, _ = drum_loop(bpm=128.0, bars=12, first_downbeat=0.4)
    b = track_audio(y)
    dec = madmom_adapter.dbn_decode(b.activations)
    np.testing.assert_allclose(b.madmom_beats, dec[:, 0])
    np.testing.assert_allclose(b.madmom_downbeats, dec[dec[:, 1] == 1, 0])
    assert mir_eval.beat.f_measure(ref_beats, b.madmom_beats) > 0.9
    assert b.checks == {"octave": 1.0, "offbeat": False, "phase": b.checks["phase"]}  # clear evidence: madmom's beats kept


# traps on synthetic audio: each reading a tracker confuses, with the answer known ------------

def test_offbeat_trap_trance_bass_and_open_hats_between_the_kicks():
    y, ref_beats, ref_downs = drum_pattern(132.0, 16, 0.4, claps=(), bass=(0.5, 1.5, 2.5, 3.5), crash_every=4)
    b = track_audio(y)
    assert abs(b.bpm / 132.0 - 1) < 0.01
    assert mir_eval.beat.f_measure(ref_beats, b.beats) > 0.9  # on the kicks, not the bass and hats


@pytest.mark.parametrize("bpm, kicks, hats", [(172.0, (0, 2), (0.5, 1.5, 2.5, 3.5)),
                                              (84.0, (0, 2.5), tuple(np.arange(16) / 4))])
def test_half_and_double_tempo_traps(bpm, kicks, hats):
    # 172 BPM with kick on 1 and 3 of each bar (a half-time feel); 84 BPM hip-hop with sixteenth hats
    y, ref_beats, ref_downs = drum_pattern(bpm, 24, 0.3, kicks=kicks, claps=(1, 3), hats=hats, crash_every=4)
    b = track_audio(y)
    assert abs(b.bpm / bpm - 1) < 0.04
    assert mir_eval.beat.f_measure(ref_beats, b.beats) > 0.9


def test_three_quarter_tempo_trap_a_dotted_kick():
    # kicks every 1.5 beats (3 + 3 + 2 eighths) pull a grid to 2/3 of the tempo or 4/3 of the period
    y, ref_beats, ref_downs = drum_pattern(126.0, 16, 0.5, kicks=(0, 1.5, 3), claps=(1, 3), crash_every=4)
    b = track_audio(y)
    assert abs(b.bpm / 126.0 - 1) < 0.04
    assert mir_eval.beat.f_measure(ref_beats, b.beats) > 0.9


def test_start_trap_loud_offbeat_bass_and_hats_over_a_quiet_kick():
    # madmom's activation sits on the off-beats all through; the music still starts on a beat
    kick, ref_beats, ref_downs = drum_pattern(126.0, 16, 0.6, claps=(), hats=(), bass=(), crash_every=4)
    offbeats, _, _ = drum_pattern(126.0, 16, 0.6, kicks=(), claps=(), bass=(0.5, 1.5, 2.5, 3.5), seed=1)
    b = track_audio((0.3 * kick + offbeats).astype(np.float32))
    assert mir_eval.beat.f_measure(ref_beats, b.madmom_beats) < 0.5  # the trap: madmom reads the off-beats
    assert abs(b.bpm / 126.0 - 1) < 0.01
    assert mir_eval.beat.f_measure(ref_beats, b.beats) > 0.9
    assert mir_eval.beat.f_measure(ref_downs, b.downbeats) > 0.9


def test_start_check_leaves_audio_that_sounds_from_its_first_sample_half_a_beat_early():
    # a hat half a beat before the first beat, on the first sample: a start there says nothing
    # (real modules that open on their first frame start on a beat for 3 of 6, half a beat early for 2)
    y, ref_beats, _ = drum_pattern(126.0, 16, 30 / 126.0, pickup_beats=0.5, crash_every=4)
    low, bands = beats.spectral_curves(soxr_16k(y))
    assert beats.curves.music_start(bands) == 0.0 and beats.curves.sharp_start(bands) is None
    b = beats.from_activations(beats.rnn_activations(y), duration=len(y) / 44100, low=low, bands=bands,
                               params={**reading.settings(), "start_check": True})
    assert not b.checks["offbeat"]
    assert mir_eval.beat.f_measure(ref_beats, b.beats) > 0.9


def soxr_16k(y):
    import soxr

    return soxr.resample(y, 44100, 16000)


def test_bar_phase_trap_audio_opening_on_beat_3():
    y, ref_beats, ref_downs = drum_pattern(124.0, 16, 2 * 60 / 124.0 + 0.2, pickup_beats=2, crash_every=4)
    b = track_audio(y)
    assert mir_eval.beat.f_measure(ref_downs, b.downbeats) > 0.9


# the checks, each on evidence curves with a known answer and a wrong tracked reading --------

PARAMS = {"octave_margin": 0.3, "offbeat_margin": 0.3, "low_weight": 0.5, "bar_weight": 2.0, "start_check": True,
          "phase_weights": np.array([1.0, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0])}


def curves_with_beats(true_beats, n_s=60.0, down_every=4, strength=None):
    """Evidence with beat activation and kicks at ``true_beats``, downbeat activation every
    ``down_every`` beats, low noise elsewhere."""
    rng = np.random.default_rng(1)
    n = int(n_s * FPS)
    act = rng.uniform(0, 0.03, (n, 2))
    low = rng.uniform(0, 0.05, n)
    for i, t in enumerate(true_beats):
        k = int(round(t * FPS))
        if k < n:
            s = 1.0 if strength is None else strength[i]
            act[k, 0 if i % down_every else 1] = 0.8 * s
            low[k] = 0.9 * s
    return act, low


def test_offbeat_check_moves_beats_onto_the_activation_and_keeps_them_when_right():
    true = 0.3 + 0.5 * np.arange(110)
    act, low = curves_with_beats(true)
    cv = beats.curves.evidence(act, low, np.zeros((len(act), 23)))
    moved, flag = reading.check_offbeat(true[:-1] + 0.25, cv, margin=0.3, low_weight=0.5)
    assert flag and np.abs(moved[:20] - true[1:21]).max() < 0.011
    kept, flag = reading.check_offbeat(true, cv, margin=0.3, low_weight=0.5)
    assert not flag and np.array_equal(kept, true)


@pytest.mark.parametrize("ratio", [2.0, 0.5, 4 / 3, 2 / 3, 3 / 4, 1.5])
def test_octave_check_recovers_the_true_period_from_a_rescaled_tracking(ratio):
    period = 0.48
    true = 0.2 + period * np.arange(120)
    act, low = curves_with_beats(true)
    cv = beats.curves.evidence(act, low, np.zeros((len(act), 23)))
    wrong = 0.2 + period * ratio * np.arange(int(57 / (period * ratio)))  # one wrong grid through the first beat
    got, taken = reading.check_octave(wrong, cv, margin=0.3, low_weight=0.5, bar_weight=2.0)
    assert abs(taken * ratio - 1) < 1e-9
    assert mir_eval.beat.f_measure(true[true < 56], got[got < 56]) > 0.95


def test_octave_check_keeps_a_tracking_the_evidence_does_not_contradict():
    true = 0.2 + 0.48 * np.arange(120)
    act, low = curves_with_beats(true)
    cv = beats.curves.evidence(act, low, np.zeros((len(act), 23)))
    got, taken = reading.check_octave(true, cv, margin=0.3, low_weight=0.5, bar_weight=2.0)
    assert taken == 1.0 and np.array_equal(got, true)


def test_bar_phase_follows_downbeat_activation_and_arrangement_changes_against_madmom():
    true = 0.5 * np.arange(128)  # 120 BPM, downbeats at beats 0, 4, ...
    act, low = curves_with_beats(true)
    bands = np.random.default_rng(2).normal(0, 0.3, (len(act), 23))
    for k, t in enumerate((16.0, 32.0, 48.0)):  # a new part enters every 8 bars
        bands[int(t * FPS):, 2 * k:2 * k + 4] += 3.0
    cv = beats.curves.evidence(act, low, bands)
    f = reading.phase_features(true, cv, madmom_downbeats=true[2::4])  # madmom: downbeat on beat 3
    col = dict(zip(reading.PHASE_FEATURES, f.T))
    assert np.argmax(col["downbeat_act"]) == 0 and np.argmax(col["change_4bar"]) == 0
    assert np.argmax(col["madmom_downbeat"]) == 2 and col["madmom_downbeat"][2] == 1
    assert reading.choose_phase(true, cv, true[2::4], PARAMS["phase_weights"]) == 0


def test_bar_phase_keeps_madmoms_downbeat_when_the_evidence_is_flat():
    true = 0.5 * np.arange(128)
    act, low = curves_with_beats(true, down_every=1)  # every beat alike
    act[:, 1] = 0.0
    cv = beats.curves.evidence(act, low, silent_until(0.25, len(act)))  # a start between beats says nothing
    assert reading.choose_phase(true, cv, true[1::4], PARAMS["phase_weights"]) == 1


def silent_until(t: float, n: int) -> np.ndarray:
    """Log10 band energies (n frames, 23): silence, then steady sound from ``t`` s."""
    bands = np.full((n, 23), -6.0)
    bands[int(round(t * FPS)):] = 0.0
    return bands


def test_music_start_is_where_the_sound_first_comes_within_30_db():
    bands = silent_until(1.23, 1000)
    bands[50:60] = -3.5  # a faint noise 35 dB down does not count
    assert beats.curves.music_start(bands) == pytest.approx(1.23)
    assert beats.curves.music_start(None) is None


def test_start_check_moves_beats_onto_the_start_and_keeps_them_when_right():
    true = 0.3 + 0.5 * np.arange(110)
    act, low = curves_with_beats(true)
    cv = beats.curves.evidence(act, low, silent_until(0.3, len(act)))  # the music starts on the first beat
    moved, flag = reading.check_start(true + 0.25, cv)
    assert flag and np.abs(moved[:20] - true[1:21]).max() < 1e-9
    kept, flag = reading.check_start(true, cv)
    assert not flag and np.array_equal(kept, true)
    _, flag = reading.check_start(true + 0.125, cv)  # a quarter beat off: the start says nothing
    assert not flag
    assert reading.start_side(true, 0.05) == -1  # half a beat before the first beat: extended back
    assert reading.start_side(true[10:], 0.3) == 0  # more than 4 beats before the first: unknown


def test_sharp_start_is_a_start_out_of_silence_not_the_first_frame_nor_a_swell():
    assert beats.curves.sharp_start(silent_until(1.23, 1000)) == pytest.approx(1.23)
    assert beats.curves.sharp_start(silent_until(0.0, 1000)) is None  # sound from the first frame
    swell = silent_until(1.0, 1000)
    swell[100:300] = np.linspace(-4.0, 0.0, 200)[:, None]  # 40 dB over 2 s: crosses -30 dB at 1.5 s
    assert beats.curves.music_start(swell) == pytest.approx(1.5)
    assert beats.curves.sharp_start(swell) is None
    assert beats.curves.sharp_start(None) is None


def test_start_check_keeps_beats_when_the_start_is_the_first_frame_or_a_swell():
    true = 0.25 + 0.5 * np.arange(110)  # midpoints at 0.0, 0.5, ... s
    act, low = curves_with_beats(true)
    swell = silent_until(2.0, len(act))
    swell[:200] = np.linspace(-4.0, 0.0, 200)[:, None]  # 40 dB over 2 s: crosses -30 dB at 0.5 s
    for bands in (silent_until(0.0, len(act)), swell):
        assert reading.start_side(true, beats.curves.music_start(bands)) == -1  # the unnarrowed check moved these
        kept, flag = reading.check_start(true, beats.curves.evidence(act, low, bands))
        assert not flag and np.array_equal(kept, true)


def test_bar_phase_follows_the_start_of_the_music():
    true = 0.5 * np.arange(128)
    act, low = curves_with_beats(true, down_every=1)  # every beat alike
    act[:, 1] = 0.0
    cv = beats.curves.evidence(act, low, silent_until(1.0, len(act)))  # the music starts on beat 2 (index 2)
    f = reading.phase_features(true, cv, None)
    assert list(f[:, reading.PHASE_FEATURES.index("start_downbeat")]) == [0, 0, 1, 0]
    assert reading.choose_phase(true, cv, None, PARAMS["phase_weights"]) == 2


def test_change_peaks_on_the_beat_where_new_sound_starts():
    spectra = np.tile([[1.0, 0, 0], [0, 0, 0], [3.0, 0, 0], [0, 0, 0]], (12, 1))  # a bar's drum pattern
    spectra[20:, 1] += 2.0  # a part enters at beat 20
    spectra[36, 2] += 8.0  # a crash on beat 36 alone
    c = reading.change(spectra, 1)
    assert np.argmax(c[:30]) == 20 and c[20] == pytest.approx(2.0)
    assert c[:17].max() == pytest.approx(0.0) and c[24:33].max() == pytest.approx(0.0)  # the pattern cancels
    assert np.argmax(c[30:]) == 6 and c[36] == pytest.approx(reading.BEAT_SHARE * 8 + (1 - reading.BEAT_SHARE) * 2)  # the crash: on its beat
    assert reading.peak_share(c, np.arange(len(c)) % 4 == 0) == pytest.approx(3.0)


def test_bundled_settings_match_the_phase_features():
    s = reading.settings()
    assert tuple(s["phase_features"]) == reading.PHASE_FEATURES
    assert s["phase_weights"].shape == (len(reading.PHASE_FEATURES),)
    assert s["octave_margin"] >= 0 and s["offbeat_margin"] >= 0


# fixed grids ----------------------------------------------------------------------------

def test_grid_search_recovers_period_and_phase():
    ev = np.zeros(60 * FPS)
    period, offset = 60 / 137.0, 0.21
    for t in offset + period * np.arange(int(59 / period)):
        ev[int(round(t * FPS))] = 1.0
    off, p, score = grid.grid_search(ev, period * 1.02, 60.0)
    assert abs(p / period - 1) < 0.002
    assert abs(((off - offset) / period + 0.5) % 1 - 0.5) < 0.05


def test_fixed_grid_replaces_steady_tracked_beats_but_not_drifting_ones():
    period = 60 / 126.0
    true = 0.3 + period * np.arange(int(118 / period))
    ev = np.zeros(120 * FPS)
    ev[np.round(true * FPS).astype(int)] = 1.0
    jitter = true + np.random.default_rng(0).uniform(-0.02, 0.02, len(true))
    g = grid.fixed_grid(jitter, ev, 120.0)
    assert g is not None and np.abs(g[: len(true)] - true).max() < 0.012
    drift = 0.3 + np.cumsum(np.linspace(0.45, 0.52, 240))  # the tempo slows by 13%
    ev = np.zeros(int(drift[-1] + 2) * FPS)
    ev[np.round(drift * FPS).astype(int)] = 1.0
    assert grid.fixed_grid(drift, ev, drift[-1] + 1) is None


# the madmom adapter ------------------------------------------------------------------------

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
    got = madmom_adapter.stft_blocks(frames, block=37)  # blocks that do not divide the frame count
    assert isinstance(got, ShortTimeFourierTransform) and got.shape == ref.shape
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    np.testing.assert_array_equal(got.bin_frequencies, ref.bin_frequencies)


def test_downbeat_activations_match_stock_madmom():
    from madmom.audio.signal import Signal
    from madmom.features.downbeats import RNNDownBeatProcessor

    y, _, _ = drum_loop(bpm=126.0, bars=4, first_downbeat=0.3)
    y16 = (y * 32767).astype(np.int16)
    ref = RNNDownBeatProcessor()(Signal(y16, sample_rate=44100, num_channels=1))
    np.testing.assert_allclose(madmom_adapter.rnn_activations(y16), ref, atol=1e-4)
    chains = madmom_adapter.downbeat_processor().processors[0].processors[1].processors
    assert [type(c.processors[1]).__name__ for c in chains] == ["BlockSTFT"] * 3  # the fast path is the one tested


def test_windowed_dbn_decoding_stitches_and_streams(monkeypatch):
    true = 0.25 + 0.5 * np.arange(300)
    act, _ = curves_with_beats(true, n_s=151.0)
    monkeypatch.setattr(madmom_adapter, "DECODE_S", 40.0)  # four windows
    dec = madmom_adapter.dbn_decode(act)
    assert np.diff(dec[:, 0]).min() > 0.3  # no beat twice where windows overlap
    assert mir_eval.beat.f_measure(true, dec[:, 0]) > 0.98
    stream = madmom_adapter.DBNDecoder()
    for piece in np.array_split(act, 7):  # as the RNN delivers it
        stream.add(piece)
    assert stream.next > 0  # windows were decoded before the end
    got_act, got = stream.finish()
    np.testing.assert_array_equal(got_act, act)
    np.testing.assert_array_equal(got, dec)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # windows decoded elsewhere, collected in order
        stream = madmom_adapter.DBNDecoder(pool)
        for piece in np.array_split(act, 7):
            stream.add(piece)
        np.testing.assert_array_equal(stream.finish()[1], dec)


def test_background_tracking_gives_the_activations_and_decoding_of_the_parts():
    from concurrent.futures import ThreadPoolExecutor

    y, ref_beats, _ = drum_loop(bpm=126.0, bars=8, first_downbeat=0.3)
    with ThreadPoolExecutor(1) as pool:
        act, dec = madmom_adapter.track_in_background(y, 44100, pool)()
    np.testing.assert_allclose(act, madmom_adapter.rnn_activations(y), atol=1e-6)
    np.testing.assert_array_equal(dec, madmom_adapter.dbn_decode(act))
