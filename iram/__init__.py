"""iram: instrumentation role activation maps for electronic music."""
from __future__ import annotations

__version__ = "0.2.0"

from .analyze import analyze, analyze_file  # noqa: E402
from .looptags import LoopTags  # noqa: E402
from .result import Analysis, load_results  # noqa: E402
from .roles import ROLES  # noqa: E402
from .tagging import tag  # noqa: E402

__all__ = ["ROLES", "Analysis", "LoopTags", "analyze", "analyze_file", "load_results", "tag", "__version__"]
