"""Scoring detected reps against ground truth (the simulator's, or a clinician's labels):
rep matching, count error, fault precision/recall, hinge-angle RMS error.
"""

import numpy as np


def match_reps(detected, truth):
    """Pairs (i_detected, i_truth): each truth rep takes the detected rep whose bottom lies
    inside it (nearest bottom first); each rep is used at most once.

    detected: Rep objects or dicts with start_s/bottom_s/end_s; truth: dicts likewise.
    """
    def get(r, k):
        return r[k] if isinstance(r, dict) else getattr(r, k)

    cands = []
    for j, tr in enumerate(truth):
        for i, d in enumerate(detected):
            b = get(d, "bottom_s")
            if get(tr, "start_s") <= b <= get(tr, "end_s"):
                cands.append((abs(b - get(tr, "bottom_s")), i, j))
    cands.sort()
    used_d, used_t, pairs = set(), set(), []
    for _, i, j in cands:
        if i not in used_d and j not in used_t:
            used_d.add(i)
            used_t.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def fault_confusion(detected, truth):
    """(true positives, false positives, false negatives) of fault ids over matched reps;
    faults of unmatched reps count as false positives / negatives."""
    def ids(r):
        return set(r["faults"] if isinstance(r, dict) else r.fault_ids)

    pairs = match_reps(detected, truth)
    tp = fp = fn = 0
    seen_d, seen_t = set(), set()
    for i, j in pairs:
        d, t = ids(detected[i]), ids(truth[j])
        tp += len(d & t)
        fp += len(d - t)
        fn += len(t - d)
        seen_d.add(i)
        seen_t.add(j)
    for i, d in enumerate(detected):
        if i not in seen_d:
            fp += len(ids(d))
    for j, t in enumerate(truth):
        if j not in seen_t:
            fn += len(ids(t))
    return tp, fp, fn


def precision_recall(tp, fp, fn):
    """Precision and recall; 1.0 when there was nothing to find or nothing found."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r


def angle_rms_deg(hinge_deg, true_deg, mask=None):
    """RMS error (deg) where both are defined (and mask is True)."""
    h = np.asarray(hinge_deg, dtype=float)
    g = np.asarray(true_deg, dtype=float)
    m = np.isfinite(h) & np.isfinite(g)
    if mask is not None:
        m &= np.asarray(mask, dtype=bool)
    if not m.any():
        return float("nan")
    return float(np.sqrt(np.mean((h[m] - g[m]) ** 2)))
