"""Run-time choices shared by the library and the CLI, defined once.

Kept free of torch so that ``iram --help`` stays instant.
"""
from __future__ import annotations

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
"""Where the role model runs: ``auto`` takes a CUDA GPU when one is present (:func:`iram.model.pick_device`)."""

MODES: tuple[str, ...] = ("segment", "mean", "max")
"""How a segment's frames become one score (:func:`iram.activations.score_segments`): pool all frames of
the segment at once, or the mean or the maximum over 3 s windows."""
