"""Section finding alone: sections from a role model's probabilities on the truth's own 4-bar grid
(so the beat stage does not enter), scored against the truth sections by hit F at 0.5 s and 3 s
(``iram.benchmark.section_scores``, as ``iram benchmark`` does). A lead-in before the first block and a
tail after the last are scored as the partial segments ``iram analyze`` makes of them.

For choosing section rules, use validation material only: composed tracks from the validation
sources (``iram data tracks --split valid``) and the module valid split (whose sections are runs
of segments with the same active roles, derived from the stems).

    python eval/sections_on_truth.py --model iram/weights/hcnn.pt --composed DATA/cvalid
    python eval/sections_on_truth.py --model iram/weights/hcnn.pt --modules DATA/modules --split valid
"""
from __future__ import annotations

import argparse
from types import SimpleNamespace

import numpy as np

from iram.activations import frame_features, score_segments
from iram.annotations import load_set
from iram.audio import load as load_audio
from iram.benchmark import section_scores
from iram.model import load
from iram.sections import find_sections
from iram.segments import Segment


def truth_segments(t, duration: float) -> list[Segment]:
    """The truth's 4-bar intervals, with the partial lead-in and tail ``iram analyze`` would add."""
    segs = [Segment(0.0, float(t.intervals[0, 0]), (1, 1), True)] if t.intervals[0, 0] >= 1.0 else []
    segs += [Segment(float(a), float(b), (4 * k + 1, 4 * k + 4)) for k, (a, b) in enumerate(t.intervals)]
    if duration - t.intervals[-1, 1] >= 1.0:
        segs.append(Segment(float(t.intervals[-1, 1]), duration, (4 * len(t.intervals) + 1, 4 * len(t.intervals) + 1), True))
    return segs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--composed", help="folder of composed tracks (NAME.wav + NAME.truth.json)")
    ap.add_argument("--modules", help="folder the modules were rendered to")
    ap.add_argument("--split", default="valid")
    args = ap.parse_args()
    if args.split == "test" or "test" in str(args.composed or ""):
        ap.error("section rules are chosen on validation material; score test sets with iram benchmark")
    rm = load(args.model)
    sr = rm.net.cfg.front.sample_rate
    truths = load_set("composed", args.composed) if args.composed else load_set("modules", args.modules, split=args.split)
    f = []
    for t in truths:
        y = load_audio(t.audio, rates=(sr,)).at(sr)
        segs = truth_segments(t, len(y) / sr)
        z, fps = frame_features(rm.net, y)
        secs = find_sections(score_segments(rm.net, z, fps, [(s.start, s.end) for s in segs]), rm.thresholds, segs)
        f.append(section_scores(t, SimpleNamespace(sections=secs)) or {"hit_f_0.5s": 0.0, "hit_f_3.0s": 0.0})
    print(f"{args.model}: {len(truths)} tracks, section hit F " + ", ".join(f"{k} {np.mean([x[k] for x in f]):.3f}" for k in f[0]))


if __name__ == "__main__":
    main()
