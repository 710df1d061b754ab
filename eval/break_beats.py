"""How many beats each of Sonic Pi's breakbeat loops holds, for ``BREAKS`` in
``iram/data/sources.py``: madmom's beat tracker on the loop repeated to 20 s gives
its tempo, and the loop's length times that tempo its beat count. The composer
stretches a break by that count, so that the break's beats land on the track's.

    python eval/break_beats.py
"""
from __future__ import annotations

import numpy as np


def main() -> None:
    from madmom.audio.signal import Signal
    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor

    from iram.data.render import SR, sonic_pi
    from iram.data.sources import BREAKS

    rnn, dbn = RNNBeatProcessor(), DBNBeatTrackingProcessor(fps=100, min_bpm=60, max_bpm=200)
    for name, listed in BREAKS.items():
        x = sonic_pi(name)
        dur = len(x) / SR
        y = np.tile(x, int(np.ceil(20 / dur)))
        y = np.interp(np.arange(0, len(y), SR / 44100), np.arange(len(y)), y).astype(np.float32)
        beats = dbn(rnn(Signal(y, sample_rate=44100)))
        bpm = 60 / float(np.median(np.diff(beats)))
        print(f"{name:16s} {dur:6.3f} s  {bpm:6.1f} BPM  {dur * bpm / 60:5.2f} beats  (listed: {listed})")


if __name__ == "__main__":
    main()
