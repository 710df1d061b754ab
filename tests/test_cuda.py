"""Runs only where a CUDA GPU is present (skipped in CI): the model gives the CPU's answers there."""
import json
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_segment_scores_on_cuda_match_the_cpu():
    from iram.activations import frame_features, score_segments
    from iram.audio import load as load_audio
    from iram.model import load

    demo = Path(str(files("iram").joinpath("demo/iram-demo.flac")))
    spans = [(s["start"], s["end"]) for s in json.loads(demo.with_name("iram-demo.truth.json").read_text())["segments"]]
    y = load_audio(demo, rates=(16000,)).at(16000)
    p = {}
    for dev in ("cpu", "cuda"):
        m = load(device=dev)
        z, fps = frame_features(m.net, y)
        p[dev] = score_segments(m.net, z, fps, spans)
    assert p["cuda"].shape == (6, len(spans))
    np.testing.assert_allclose(p["cuda"], p["cpu"], atol=1e-3)
