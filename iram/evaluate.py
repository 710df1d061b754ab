"""Scores for role predictions, from scikit-learn (and mir_eval in benchmark).

A role whose ground truth is all 0 or all 1 has no ROC-AUC or PR-AUC: it is
reported as ``None`` (undefined) and left out of the macro average. NaN in the
ground truth marks a masked cell (a doubtful label): that role of that example is
left out of that role's scores.
"""
from __future__ import annotations

import warnings

import numpy as np

from .roles import ROLES


def _defined(y: np.ndarray) -> bool:
    return 0 < y.sum() < len(y)


def _known(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The examples whose label is not masked (NaN)."""
    keep = np.isfinite(y)
    return y[keep], p[keep]


def best_thresholds(y: np.ndarray, p: np.ndarray, grid=np.linspace(0.05, 0.95, 19), metric: str = "f1") -> list[float]:
    """Per-role threshold that maximises ``metric`` ("f1" or "accuracy") on (y, p); 0.5 where a role is undefined.

    Ties go to the lowest threshold on the grid.
    """
    from sklearn.metrics import accuracy_score, f1_score

    score = {"f1": lambda yt, on: f1_score(yt, on, zero_division=0), "accuracy": accuracy_score}[metric]
    out = []
    for r in range(y.shape[1]):
        yt, pr = _known(np.asarray(y[:, r], dtype=float), np.asarray(p[:, r], dtype=float))
        if not _defined(yt):
            out.append(0.5)
            continue
        f = [score(yt, pr >= t) for t in grid]
        out.append(float(grid[int(np.argmax(f))]))
    return out


def classification_scores(y: np.ndarray, p: np.ndarray, thresholds=None, roles=ROLES) -> dict:
    """Per-role and macro ROC-AUC, PR-AUC, F1, accuracy and Pearson r, and per role the
    false-positive rate (share of its known-off examples switched on; e.g. voice on instrumentals).

    ``y`` (n, R) 0/1 ground truth (NaN: masked), ``p`` (n, R) probabilities, ``thresholds``
    (R,) (default 0.5). Undefined scores are ``None``; macro averages skip them. ``n`` counts
    examples; each role's ``n`` counts its unmasked ones.
    """
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score

    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape:
        raise ValueError(f"ground truth shape {y.shape} and prediction shape {p.shape} differ")
    th = np.full(y.shape[1], 0.5) if thresholds is None else np.asarray(thresholds, dtype=float)
    per = {}
    for r, role in enumerate(roles):
        yt, pr = _known(y[:, r], p[:, r])
        d = _defined(yt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per[role] = {
                "roc_auc": float(roc_auc_score(yt, pr)) if d else None,
                "pr_auc": float(average_precision_score(yt, pr)) if d else None,
                "f1": float(f1_score(yt, pr >= th[r], zero_division=0)) if yt.sum() > 0 else None,
                "accuracy": float(accuracy_score(yt, pr >= th[r])) if len(yt) else None,
                "pearson": float(np.corrcoef(yt, pr)[0, 1]) if d and pr.std() > 0 else None,
                "false_positive_rate": float(np.mean(pr[yt == 0] >= th[r])) if (yt == 0).any() else None,
                "support": int(yt.sum()),
                "n": int(len(yt)),
            }
    macro = {}
    for k in ("roc_auc", "pr_auc", "f1", "accuracy", "pearson"):
        vals = [v[k] for v in per.values() if v[k] is not None]
        macro[k] = float(np.mean(vals)) if vals else None
    return {"roles": per, "macro": macro, "n": int(len(y))}


def reliability(y: np.ndarray, p: np.ndarray, *, bins: int = 10, roles=ROLES) -> dict:
    """Per-role reliability curve: for equal-width probability bins, the mean predicted probability,
    the fraction of positives and the count (masked cells left out; empty bins dropped)."""
    edges = np.linspace(0, 1, bins + 1)
    out = {}
    for r, role in enumerate(roles):
        yt, pr = _known(np.asarray(y[:, r], float), np.asarray(p[:, r], float))
        k = np.clip(np.digitize(pr, edges[1:-1]), 0, bins - 1)
        rows = [(float(pr[k == b].mean()), float(yt[k == b].mean()), int((k == b).sum())) for b in range(bins) if (k == b).any()]
        out[role] = {"predicted": [a for a, _, _ in rows], "observed": [o for _, o, _ in rows], "count": [c for _, _, c in rows]}
    return out


def group_bootstrap(groups: np.ndarray, y: np.ndarray, probs: dict[str, np.ndarray], score, *, boot: int = 1000,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """``score(y[idx], p[idx])`` of every model ``p`` in ``probs`` over ``boot`` resamples in which
    whole groups (rows sharing a value of ``groups``: a module, a package) are drawn with
    replacement, the same draws for every model, so differences between models can be read off."""
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    rng = np.random.default_rng(seed)
    out = {name: [] for name in probs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(boot):
            idx = np.concatenate([members[i] for i in rng.integers(0, len(members), len(members))])
            for name, p in probs.items():
                out[name].append(score(y[idx], p[idx]))
    return {name: np.asarray(v, float) for name, v in out.items()}
