"""Exports of a stored session: JSON (the clinical record) and CSV (every sample).

JSON: the session, its sets, every rep with its metrics and faults (id, phase, start, duration,
cue), the reconnect gaps; no samples. CSV: one row per sample in the column format
`dowel analyze` reads (t, ax ay az in g, gx gy gz in deg/s, head midback tailbone in N), plus
`rep` (the rep the sample falls in) and `faults` (the fault ids active at that sample,
";"-separated), so the export both carries the findings and can be re-analysed.
"""

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import StoreError
from ..private import atomic_output
from . import paths

CSV_COLUMNS = (
    "t", "ax", "ay", "az", "gx", "gy", "gz", "head", "midback", "tailbone", "rep", "faults",
)
EXPORT_FORMAT_VERSION = 1


def session_json(store, session_id):
    """The JSON export of a session, as a dict."""
    s = store.session(session_id)
    sets = []
    for st in s["sets"]:
        st = dict(st)
        st["rep_count"] = len(st.pop("reps"))  # each rep names its set: no copies here
        sets.append(st)
    s["sets"] = sets
    return {"format": "smart-dowel session", "format_version": EXPORT_FORMAT_VERSION, **s}


def _labels(session, t):
    """Per sample: the rep index it falls in (0: none) and the active fault ids."""
    rep_of = np.zeros(len(t), dtype=np.int64)
    faults = [[] for _ in range(len(t))]
    for rep in session["reps"]:
        start, end = rep["start_s"], rep["end_s"] if rep["end_s"] is not None else rep["start_s"]
        lo, hi = np.searchsorted(t, start, "left"), np.searchsorted(t, end, "right")
        rep_of[lo:hi] = rep["index"]
        for f in rep["faults"]:
            f_start = f["start_s"] if f["start_s"] is not None else start
            f_end = f_start + (f["duration_s"] or 0.0)
            if f["duration_s"] is None or f["start_s"] is None:
                f_start, f_end = start, end  # a fault of the whole rep
            a = np.searchsorted(t, f_start, "left")
            b = max(np.searchsorted(t, f_end, "left"), a + 1)  # [start, end)
            for k in range(a, min(b, len(t))):
                if f["id"] not in faults[k]:
                    faults[k].append(f["id"])
    return rep_of, faults


def write_samples_csv(store, session_id, out):
    """Write the CSV export of a session to a text stream; returns the rows written."""
    from .replay import calibration_of, to_samples

    session = store.session(session_id)
    records = store.load_samples(session_id)
    smp = to_samples(records, calibration_of(session))
    t = smp.t_s
    rep_of, faults = _labels(session, t)
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    cols = (smp.ax_g, smp.ay_g, smp.az_g, smp.gx_dps, smp.gy_dps, smp.gz_dps,
            smp.head_n, smp.midback_n, smp.tailbone_n)
    fmts = ("%.3f",) * 3 + ("%.1f",) * 3 + ("%.3f",) * 3
    for i in range(len(t)):
        row = ["%.6f" % t[i]]
        row.extend(f % c[i] for f, c in zip(fmts, cols))
        row.append(str(rep_of[i]) if rep_of[i] else "")
        row.append(";".join(faults[i]))
        w.writerow(row)
    return len(t)


def export_session(store, session_id, fmt, out_path=None, stdout=None, force=False):
    """Export to a new 0600 file (written via a temporary file) or to stdout. An existing
    file is replaced only with force, and only if it is a regular file (private.py)."""
    if fmt not in ("csv", "json"):
        raise StoreError("unknown export format %r: use csv or json" % fmt)
    summary = store.session_summary(session_id)  # a missing session fails before any file
    if out_path is None:
        stream = stdout if stdout is not None else sys.stdout
        _write(store, session_id, fmt, stream)
        return None
    path = Path(out_path)
    if path.is_dir():
        path = path / paths.default_export_name(session_id, summary["patient"], fmt)
    with atomic_output(path, force=force) as f:
        _write(store, session_id, fmt, f)
    return path


def _write(store, session_id, fmt, stream):
    if fmt == "json":
        json.dump(session_json(store, session_id), stream, indent=1, sort_keys=False)
        stream.write("\n")
    else:
        write_samples_csv(store, session_id, stream)


def export_text(store, session_id, fmt):
    buf = io.StringIO()
    _write(store, session_id, fmt, buf)
    return buf.getvalue()
