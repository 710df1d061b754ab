import json
from pathlib import Path

import numpy as np
import pytest

from iram.annotations import drysdale_candidates, DRYSDALE_MAPPINGS, load_drysdale, load_set, load_truth_json, match_drysdale_audio
from iram.benchmark import align, score_set
from iram.errors import AnnotationError
from iram.evaluate import best_thresholds, classification_scores
from iram.roles import ROLES
from iram.segments import Segment

DRYSDALE = next((c for c in drysdale_candidates() if c.is_dir()), None)
needs_set = pytest.mark.skipif(DRYSDALE is None, reason="../shared/annotations/drysdale2022 not present")


class Pred:
    """A minimal stand-in for an Analysis: segments, iram, bpm, beats."""

    def __init__(self, intervals, iram, bpm=120.0):
        self.segments = [Segment(float(s), float(e), (1, 4)) for s, e in intervals]
        self.iram = np.asarray(iram, float)
        self.bpm, self.beats, self.downbeats, self.sections = bpm, np.zeros(0), np.zeros(0), []
        self.thresholds = (0.5,) * 6


@needs_set
@pytest.mark.parametrize("mapping", list(DRYSDALE_MAPPINGS))
def test_drysdale_loader_and_row_mapping(mapping):
    truths = load_drysdale(DRYSDALE, mapping=mapping)
    assert len(truths) == 10 and sum(t.roles.shape[1] for t in truths) == 399
    raw = np.load(DRYSDALE / "0_role_activations.npy")
    for row, role in DRYSDALE_MAPPINGS[mapping].items():
        assert np.array_equal(truths[0].roles[ROLES.index(role)], raw[row])
    assert np.all(np.isnan(truths[0].roles[ROLES.index("chord")]))  # row 0 is skipped
    assert np.all(np.isnan(truths[0].roles[ROLES.index("voice")]))
    seg = 16 * 60 / 154
    assert truths[0].intervals[1, 0] == pytest.approx(seg)


@needs_set
def test_perfect_prediction_scores_one_and_constant_scores_half():
    truths = load_drysdale(DRYSDALE)
    perfect = [Pred(t.intervals, np.nan_to_num(t.roles)) for t in truths]
    r = score_set(truths, perfect, [0.5] * 6)
    m = r["roles"]["macro"]
    assert m["roc_auc"] == pytest.approx(1.0) and m["pr_auc"] == pytest.approx(1.0)
    assert m["f1"] == pytest.approx(1.0) and m["accuracy"] == pytest.approx(1.0) and m["pearson"] == pytest.approx(1.0)
    const = [Pred(t.intervals, np.full(t.roles.shape, 0.3)) for t in truths]
    assert score_set(truths, const, [0.5] * 6)["roles"]["macro"]["roc_auc"] == pytest.approx(0.5)
    # every Pred says 120 BPM: only the 124 and 119 BPM tracks are within 4%
    assert r["summary"]["within_4pc"] == pytest.approx(0.2)


@needs_set
def test_missing_audio_is_reported(tmp_path):
    truths = load_drysdale(DRYSDALE)
    (tmp_path / "3_the way it is.wav").write_bytes(b"")
    missing = match_drysdale_audio(truths, tmp_path)
    assert len(missing) == 9 and "track 0:" in missing[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AnnotationError, match="none of the ten"):
        match_drysdale_audio(truths, empty)


def test_alignment_is_overlap_weighted():
    truth = np.array([[0.0, 4.0], [4.0, 8.0]])
    pred_iv = np.array([[0.0, 2.0], [2.0, 6.0], [6.0, 8.0]])
    pred = np.array([[1.0, 0.0, 0.5]])
    out = align(truth, pred_iv, pred)
    assert out[0, 0] == pytest.approx((1.0 * 2 + 0.0 * 2) / 4)
    assert out[0, 1] == pytest.approx((0.0 * 2 + 0.5 * 2) / 4)


def test_metrics_against_hand_computed_values():
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]], float)
    p = np.array([[0.9, 0.1], [0.4, 0.2], [0.3, 0.3], [0.2, 0.4]], float)
    s = classification_scores(y, p, [0.5, 0.5], roles=("a", "b"))
    # role a: positives 0.9, 0.3; negatives 0.4, 0.2 -> 3 of 4 pairs ordered right
    assert s["roles"]["a"]["roc_auc"] == pytest.approx(0.75)
    # AP: ranks 0.9 (pos), 0.4 (neg), 0.3 (pos): (1/1 + 2/3) / 2
    assert s["roles"]["a"]["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)
    # at 0.5: TP 1, FN 1, FP 0 -> F1 2/3, accuracy 3/4
    assert s["roles"]["a"]["f1"] == pytest.approx(2 / 3) and s["roles"]["a"]["accuracy"] == pytest.approx(0.75)
    # role b: all four off, one (0.4) above a 0.35 threshold -> false-positive rate 1/4; role a has none
    assert classification_scores(y, p, [0.5, 0.35], roles=("a", "b"))["roles"]["b"]["false_positive_rate"] == pytest.approx(0.25)
    assert s["roles"]["a"]["false_positive_rate"] == 0.0
    # role b is always off: ROC-AUC, PR-AUC and F1 are undefined, not 0, and left out of the macro mean
    assert s["roles"]["b"]["roc_auc"] is None and s["roles"]["b"]["f1"] is None
    assert s["macro"]["roc_auc"] == pytest.approx(0.75)
    always_on = classification_scores(np.ones((3, 1)), np.array([[0.2], [0.6], [0.9]]), roles=("c",))
    assert always_on["roles"]["c"]["roc_auc"] is None and always_on["macro"]["roc_auc"] is None


def test_thresholds_by_accuracy_and_by_f1_differ_on_a_rare_role():
    # two positives; two negatives score between them. F1 (2/3) ties at 0.10 < t <= 0.30 (2 TP, 2 FP) and at
    # 0.35 < t <= 0.90 (1 TP, 1 FN), and the lowest of those grid points wins; accuracy is best (9/10) only above 0.35.
    y = np.array([[1, 1, 0, 0, 0, 0, 0, 0, 0, 0]]).T
    p = np.array([[0.9, 0.3, 0.35, 0.35, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]]).T
    assert best_thresholds(y, p) == pytest.approx([0.15])
    assert best_thresholds(y, p, metric="accuracy") == pytest.approx([0.40])
    assert classification_scores(y, p, [0.40], roles=ROLES[:1])["macro"]["accuracy"] == pytest.approx(0.9)


def test_length_mismatch_and_bad_inputs(tmp_path):
    t = {"roles": list(ROLES), "segments": [{"start": 8.0 * k, "end": 8.0 * (k + 1)} for k in range(30)],
         "activations": [[1] * 30] * 6, "tempo": 120.0}
    (tmp_path / "a.truth.json").write_text(json.dumps(t))
    truth = load_truth_json(tmp_path / "a.truth.json")
    short = Pred(np.array([[0.0, 8.0], [8.0, 16.0]]), np.ones((6, 2)))
    with pytest.raises(AnnotationError, match="same track"):
        score_set([truth], [short], [0.5] * 6)
    (tmp_path / "b.truth.json").write_text("{not json")
    with pytest.raises(AnnotationError, match="malformed"):
        load_truth_json(tmp_path / "b.truth.json")
    with pytest.raises(AnnotationError, match="unknown set"):
        load_set("nope", tmp_path)


def test_custom_csv_format(tmp_path):
    (tmp_path / "mine.csv").write_text("file,start,end,percussion,bass\nsong.wav,0,8,1,0\nsong.wav,8,16,1,1\n")
    [t] = load_set("custom", tmp_path)
    assert t.roles.shape == (6, 2) and t.roles[0].tolist() == [1, 1] and np.isnan(t.roles[2]).all()


def test_example_annotation_in_repository_loads():
    ex = Path(__file__).resolve().parent.parent / "annotations" / "example"
    truths = load_set("custom", ex)
    assert truths and all(t.roles.shape[0] == 6 for t in truths)


def test_group_bootstrap_draws_whole_groups_the_same_way_for_every_model():
    from iram.evaluate import group_bootstrap

    groups = np.repeat(["a", "b", "c"], [1, 2, 3])
    y = np.arange(6.0)
    sizes = group_bootstrap(groups, y, {"m": y, "n": y + 1}, lambda yy, p: len(yy), boot=200, seed=3)
    # a draw is three whole groups: its size is a sum of three of 1, 2, 3
    assert set(sizes["m"]) <= {a + b + c for a in (1, 2, 3) for b in (1, 2, 3) for c in (1, 2, 3)} and len(sizes["m"]) == 200
    means = group_bootstrap(groups, y, {"m": y, "n": y + 1}, lambda yy, p: p.mean(), boot=200, seed=3)
    np.testing.assert_allclose(means["n"] - means["m"], 1.0)  # same draws: the difference is exact
    assert len(set(sizes["m"])) > 1
