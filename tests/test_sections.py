import numpy as np

from iram.roles import ROLES
from iram.sections import find_sections
from iram.segments import Segment


def _iram(plan):
    cols = []
    for roles, n in plan:
        cols += [[1.0 if r in roles else 0.0 for r in ROLES]] * n
    return np.array(cols).T


def test_labels_of_a_typical_arrangement():
    plan = [({"chord", "fx"}, 4), ({"chord", "fx", "percussion"}, 2), ({"percussion", "bass", "melody"}, 8),
            ({"chord", "voice"}, 4), ({"chord", "fx"}, 2), ({"percussion", "bass", "melody"}, 8), ({"percussion"}, 4)]
    iram = _iram(plan)
    segs = [Segment(8.0 * k, 8.0 * (k + 1), (4 * k + 1, 4 * k + 4)) for k in range(iram.shape[1])]
    secs = find_sections(iram, [0.5] * 6, segs)
    assert [s.label for s in secs] == ["intro", "build-up", "drop", "breakdown", "build-up", "drop", "outro"]
    assert secs[2].name == "Drop 1 · drums bass melody"
    assert secs[2].start == 48.0 and secs[2].bars == (25, 56)


def test_single_segment_blips_are_merged():
    plan = [({"percussion", "bass"}, 4), ({"percussion"}, 1), ({"percussion", "bass"}, 4)]
    iram = _iram(plan)
    segs = [Segment(8.0 * k, 8.0 * (k + 1), (4 * k + 1, 4 * k + 4)) for k in range(iram.shape[1])]
    assert len(find_sections(iram, [0.5] * 6, segs)) == 1
