import numpy as np

from iram.roles import ROLES
from iram.sections import find_sections
from iram.segments import Segment


def _iram(plan):
    cols = []
    for roles, n in plan:
        cols += [[1.0 if r in roles else 0.0 for r in ROLES]] * n
    return np.array(cols).T


def _segs(n):
    return [Segment(8.0 * k, 8.0 * (k + 1), (4 * k + 1, 4 * k + 4)) for k in range(n)]


def test_labels_of_a_typical_arrangement():
    plan = [({"chord", "fx"}, 4), ({"chord", "fx", "percussion"}, 2), ({"percussion", "bass", "melody"}, 8),
            ({"chord", "voice"}, 4), ({"chord", "fx"}, 2), ({"percussion", "bass", "melody"}, 8), ({"percussion"}, 4)]
    iram = _iram(plan)
    secs = find_sections(iram, [0.5] * 6, _segs(iram.shape[1]))
    assert [s.label for s in secs] == ["intro", "build-up", "drop", "breakdown", "build-up", "drop", "outro"]
    assert secs[2].name == "Drop 1 · drums bass melody"
    assert secs[2].start == 48.0 and secs[2].bars == (25, 56)


def test_boundaries_only_on_8_bar_lines():
    # drums enter 4 bars into an 8-bar-aligned intro: no section starts there
    plan = [({"chord"}, 1), ({"chord", "percussion"}, 3), ({"percussion", "bass"}, 4), ({"percussion"}, 4)]
    iram = _iram(plan)
    starts = [s.start for s in find_sections(iram, [0.5] * 6, _segs(iram.shape[1]))]
    assert all(round(s / 8.0) % 2 == 0 for s in starts)
    assert 32.0 in starts and 64.0 in starts


def test_a_steady_track_is_one_section():
    iram = _iram([({"percussion", "bass"}, 10)])
    assert len(find_sections(iram, [0.5] * 6, _segs(10))) == 1


def test_a_partial_lead_in_and_tail_do_not_move_the_lines():
    # a 2-s pickup and a 2-s fade tail, silent to the model, around 8 blocks that change on bar 17
    plan = [({"percussion", "chord"}, 4), ({"percussion", "bass", "melody"}, 4)]
    body = _iram(plan)
    iram = np.concatenate([np.zeros((6, 1)), body, np.zeros((6, 1))], axis=1)
    segs = [Segment(0.0, 2.0, (1, 1), True)] + [Segment(2.0 + 8.0 * k, 10.0 + 8.0 * k, (4 * k + 1, 4 * k + 4)) for k in range(8)]
    segs.append(Segment(66.0, 68.0, (33, 33), True))
    secs = find_sections(iram, [0.5] * 6, segs)
    assert [s.start for s in secs] == [2.0, 34.0] and secs[-1].end == 66.0


def test_full_sections_with_a_boundary_stay_apart():
    plan = [({"percussion", "bass"}, 4), ({"percussion", "bass", "melody", "chord"}, 4), ({"percussion", "bass", "voice"}, 4)]
    iram = _iram(plan)
    secs = find_sections(iram, [0.5] * 6, _segs(iram.shape[1]))
    assert [s.label for s in secs] == ["drop", "main", "main"] and [s.start for s in secs] == [0.0, 32.0, 64.0]
