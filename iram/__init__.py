"""iram: instrumentation role activation maps for electronic music."""
from __future__ import annotations

__version__ = "0.1.0"

from .analyze import analyze, analyze_file  # noqa: E402
from .result import Analysis, load_results  # noqa: E402
from .roles import ROLES  # noqa: E402

__all__ = ["ROLES", "Analysis", "analyze", "analyze_file", "load_results", "__version__"]
