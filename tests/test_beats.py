import numpy as np
import mir_eval

from iram import beats
from conftest import drum_loop


def test_tracks_tempo_beats_and_downbeats_of_a_drum_loop():
    y, ref_beats, ref_downs = drum_loop(bpm=124.0, bars=16, first_downbeat=0.5)
    import soxr

    b = beats.track(y, sr=44100, signal16k=soxr.resample(y, 44100, 16000))
    assert abs(b.bpm / 124.0 - 1) < 0.01
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


def test_octave_prefers_club_tempo_when_evidence_is_equal():
    fps = beats.FPS
    act = np.zeros(60 * fps)
    p = 60 / 128.0
    for t in p * np.arange(int(59 / p)):
        act[int(round(t * fps))] = 1.0
    # the tracker said half time (64 BPM); every 128 BPM beat has evidence, so the octave goes up
    assert abs(beats.choose_octave(2 * p, 0.0, act, 60.0) - p) < 1e-9
