"""Beats, downbeats and tempo, in the order the stage runs:

1. :mod:`~iram.beats.madmom_adapter`: madmom's RNN beat and downbeat activations
   (100 fps), and madmom's DBN decoding of them (its beats and downbeats);
2. :mod:`~iram.beats.curves`: the evidence beside them, onsets and band energies;
3. :mod:`~iram.beats.grid`: where madmom's beats keep one tempo, a fixed grid;
4. :mod:`~iram.beats.reading`: the octave, off-beat and bar-phase checks that may
   overrule madmom's reading;
5. :mod:`~iram.beats.tracking`: :func:`track` (audio in) and :func:`from_activations`
   (saved activations in), returning :class:`Beats`.
"""
from .curves import spectral_curves
from .madmom_adapter import FPS, SR, rnn_activations
from .tracking import Beats, from_activations, track

__all__ = ["FPS", "SR", "Beats", "from_activations", "rnn_activations", "spectral_curves", "track"]
