"""Role-labelled training material: sound sources, patterns, loops and composed tracks.

Rendering needs the ``train`` extra (pyfluidsynth, pedalboard); analysing tracks does not.
"""
from __future__ import annotations

import importlib

from ..errors import DataError

TRAIN_PACKAGES = {"fluidsynth": "pyfluidsynth", "pedalboard": "pedalboard"}  # module: PyPI name
TRAIN_INSTALL = "pip install -e '.[train]'"


def require_train_packages(*modules: str) -> None:
    """Raise :class:`~iram.errors.DataError` naming the install command when a package of the ``train``
    extra is missing: the given modules (keys of :data:`TRAIN_PACKAGES`), or all of them."""
    missing = []
    for module, name in TRAIN_PACKAGES.items():
        if modules and module not in modules:
            continue
        try:
            importlib.import_module(module)
        except ImportError:  # not installed, or pyfluidsynth without the FluidSynth library
            missing.append(name)
    if missing:
        raise DataError(f"{' and '.join(missing)} not installed; making training material and training need the train extra: "
                        f"{TRAIN_INSTALL} (and bash .ci/setup-system.sh for the FluidSynth library and the sound sources)")
