"""Role-labelled training material: sound sources, patterns, loops and composed tracks.

Rendering needs the ``train`` extra (pyfluidsynth, pedalboard); analysing tracks does not.
"""
from __future__ import annotations

import importlib

from ..errors import DataError

TRAIN_PACKAGES = {"fluidsynth": "pyfluidsynth", "pedalboard": "pedalboard"}  # module: PyPI name
TRAIN_INSTALL = "pip install -e '.[train]'"


def require_train_packages() -> None:
    """Raise :class:`~iram.errors.DataError` naming the install command when a rendering package is missing."""
    missing = []
    for module, name in TRAIN_PACKAGES.items():
        try:
            importlib.import_module(module)
        except ImportError:  # not installed, or pyfluidsynth without the FluidSynth library
            missing.append(name)
    if missing:
        raise DataError(f"making training material needs {' and '.join(missing)}: {TRAIN_INSTALL} "
                        "(and bash .ci/setup-system.sh for the FluidSynth library and the sound sources)")
