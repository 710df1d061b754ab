"""One exception root for everything iram reports to a user."""
from __future__ import annotations


class IramError(Exception):
    """Base class: the message is one line naming the file and the fix."""


class AudioError(IramError):
    """Audio that cannot be read, is empty or silent, or too short."""


class ModelError(IramError):
    """A checkpoint that is missing, corrupt or made for something else."""


class AnnotationError(IramError):
    """An annotation file that is malformed or does not match its prediction."""


class ExportError(IramError):
    """A DJ library or audio file that cannot be written safely."""


class DataError(IramError):
    """Missing sound sources or bad arguments for corpus generation."""
