"""`dowel report ID --out FILE.html`: a printable, self-contained session report.

One HTML file with inline SVG plots drawn here (no scripts, no external assets): the patient
and date, sets, the per-rep table, the hinge angle trace and contact timeline, a fault summary
with the coaching cues, and progress against the patient's earlier sessions.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
import sys

import numpy as np

from . import __version__
from .private import check_target, write_text
from .store import paths
from .store.db import Store

FAULT_LABELS = {
    "head_contact_lost": "Head contact lost",
    "midback_contact_lost": "Mid-back contact lost",
    "tailbone_contact_lost": "Tailbone contact lost",
    "shallow": "Shallow hinge",
    "squat_pattern": "Squat pattern (knees, not hips)",
    "rushed": "Rushed descent",
}
FAULT_MEANING = {
    "head_contact_lost": "chin poke or neck flexion, or the head lifted off the dowel",
    "midback_contact_lost": "thoracic rounding: the shoulders curled forward",
    "tailbone_contact_lost": "lumbar flexion or a pelvic tuck: the movement came from the low back",
    "shallow": "the hinge stopped short of the target depth",
    "squat_pattern": "knee-dominant: the hips dropped instead of moving back",
    "rushed": "the descent was faster than a controlled hinge",
}
DEFAULT_CUES = {
    "head_contact_lost": "Head back to the stick: tuck your chin a little.",
    "midback_contact_lost": "Chest proud: keep the stick between your shoulder blades.",
    "tailbone_contact_lost": "Hips back: keep the stick touching your tailbone.",
    "shallow": "Go a little lower, until the backs of your legs stretch.",
    "squat_pattern": "Less knee bend: send your hips back, not down.",
    "rushed": "Slow down: take about two seconds on the way down.",
}
CONTACTS = ("head", "midback", "tailbone")
CONTACT_LABELS = {"head": "Head", "midback": "Mid-back", "tailbone": "Tailbone"}
CONTACT_FAULT = {
    "head": "head_contact_lost",
    "midback": "midback_contact_lost",
    "tailbone": "tailbone_contact_lost",
}
DEFAULT_TARGET_DEG = 45.0
MAX_SET_FIGURES = 12
FIGURE_MAX_S = 300.0  # longer sets are plotted in parts of this length
MAX_FIGURES = 24
MAX_PROGRESS_SESSIONS = 12

esc = html.escape


# --- data ---------------------------------------------------------------------------------------


def gather(store, session_id):
    """Everything the report shows, from the store and one pass of the pipeline over the
    stored samples (for the angle trace and contact states)."""
    from .pipeline import PipelineConfig, analyze
    from .store.replay import calibration_of, to_samples

    session = store.session(session_id)
    records = store.load_samples(session_id)
    cal = calibration_of(session)
    samples = to_samples(records, cal)
    targets = [s["target_depth_deg"] for s in session["sets"] if s["target_depth_deg"]]
    config = PipelineConfig(target_depth_deg=targets[0] if targets else DEFAULT_TARGET_DEG)
    t = samples.t_s
    if len(samples) >= 2:
        analysis = analyze(samples, config=config, calibration=cal)
        hinge = np.asarray(analysis.hinge_deg, dtype=float)
        contacts_on = {c: np.asarray(analysis.contacts_on[c], dtype=bool) for c in CONTACTS}
    else:
        hinge = np.full(len(t), np.nan)
        contacts_on = {c: np.zeros(len(t), dtype=bool) for c in CONTACTS}
    history = [
        p for p in store.progress(session["patient"])
        if (p["started"], p["id"]) <= (session["started"], session["id"])
    ][-MAX_PROGRESS_SESSIONS:]
    return {
        "session": session,
        "t_s": t,
        "hinge_deg": hinge,
        "forces_n": {c: samples.force(c) for c in CONTACTS},
        "contacts_on": contacts_on,
        "history": history,
        "default_target_deg": config.target_depth_deg,
    }


# --- small formatting helpers -------------------------------------------------------------------


def fmt_clock(seconds):
    """Session time as m:ss (or h:mm:ss)."""
    seconds = int(round(max(0.0, seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return "%d:%02d:%02d" % (h, m, s) if h else "%d:%02d" % (m, s)


def fmt_date(iso, with_time=True):
    try:
        d = _dt.datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return esc(str(iso or "-"))
    return d.strftime("%d %b %Y, %H:%M" if with_time else "%d %b %Y")


def fmt_num(v, fmt="%.1f", none="–"):
    return none if v is None or (isinstance(v, float) and math.isnan(v)) else fmt % v


def nice_ticks(lo, hi, count=6):
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = first
    while v <= hi + 1e-9 * step:
        ticks.append(round(v, 10))
        v += step
    return ticks


def time_ticks(lo, hi, count=8):
    """Tick times (s) at round seconds or minutes."""
    span = max(hi - lo, 1e-6)
    for step in (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if span / step <= count:
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) // step) + 1)]


# --- SVG drawing --------------------------------------------------------------------------------


class Svg:
    """A minimal SVG canvas: elements appended as strings, all text escaped."""

    def __init__(self, width, height, title):
        self.width, self.height = width, height
        self.title = title
        self.parts = []

    def add(self, s):
        self.parts.append(s)

    def rect(self, x, y, w, h, cls="", extra=""):
        if w <= 0 or h <= 0:
            return
        self.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="%s"%s/>'
                 % (x, y, w, h, cls, extra))

    def line(self, x1, y1, x2, y2, cls=""):
        self.add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="%s"/>' % (x1, y1, x2, y2, cls))

    def text(self, x, y, s, cls="", anchor="start"):
        self.add('<text x="%.1f" y="%.1f" class="%s" text-anchor="%s">%s</text>'
                 % (x, y, cls, anchor, esc(str(s))))

    def path(self, d, cls=""):
        if d:
            self.add('<path d="%s" class="%s"/>' % (d, cls))

    def render(self):
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" '
            'role="img" aria-label="%s"><title>%s</title>%s</svg>'
            % (self.width, self.height, esc(self.title), esc(self.title), "".join(self.parts))
        )


def envelope(t, y, t0, t1, columns):
    """Min/max per pixel column of (t, y) within [t0, t1], in time order, NaN-separated where
    the data has gaps or no value, so a long session plots as a faithful outline."""
    sel = (t >= t0) & (t <= t1)
    t, y = t[sel], y[sel]
    if len(t) == 0:
        return np.zeros(0), np.zeros(0)
    dt = np.diff(t)
    med = float(np.median(dt)) if len(dt) else 0.01
    breaks = np.flatnonzero(dt > max(0.5, 5 * med)) + 1
    out_t, out_y = [], []
    for seg_t, seg_y in zip(np.split(t, breaks), np.split(y, breaks)):
        if len(seg_t) > 2 * columns * (seg_t[-1] - seg_t[0]) / max(t1 - t0, 1e-9) + 4:
            col = np.floor((seg_t - t0) / max(t1 - t0, 1e-9) * columns).astype(int)
            edges = np.flatnonzero(np.diff(col)) + 1
            for ct, cy in zip(np.split(seg_t, edges), np.split(seg_y, edges)):
                ok = ~np.isnan(cy)
                if not ok.any():
                    out_t.append(ct[0])
                    out_y.append(np.nan)
                    continue
                i_min, i_max = np.nanargmin(cy), np.nanargmax(cy)
                for i in sorted({i_min, i_max}):
                    out_t.append(ct[i])
                    out_y.append(cy[i])
        else:
            out_t.extend(seg_t)
            out_y.extend(seg_y)
        out_t.append(seg_t[-1])
        out_y.append(np.nan)
    return np.asarray(out_t), np.asarray(out_y)


def polyline_d(xs, ys):
    """SVG path data for a line broken at NaN values."""
    parts = []
    pen_down = False
    for x, y in zip(xs, ys):
        if not (math.isfinite(x) and math.isfinite(y)):
            pen_down = False
            continue
        parts.append("%s%.1f,%.1f" % ("L" if pen_down else "M", x, y))
        pen_down = True
    return "".join(parts)


def runs(mask):
    """(start, end) index pairs of the True runs of a boolean array (end exclusive)."""
    m = np.concatenate(([False], np.asarray(mask, dtype=bool), [False]))
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def trace_figure(data, t0, t1, reps, target_deg, title, width=1000):
    """The hinge angle over [t0, t1] with reps shaded, over the three contact lanes."""
    t = data["t_s"]
    left, right, top = 64, 16, 26
    angle_h, lane_h, lane_gap = 220, 24, 6
    lanes_top = top + angle_h + 50
    height = lanes_top + 3 * (lane_h + lane_gap) + 34
    svg = Svg(width, height, title)
    pw = width - left - right
    span = max(t1 - t0, 1e-6)

    def X(v):
        return left + (v - t0) / span * pw

    hinge = data["hinge_deg"]
    sel = (t >= t0) & (t <= t1)
    finite = hinge[sel][np.isfinite(hinge[sel])]
    y_max = max(90.0, (float(finite.max()) + 5.0) if len(finite) else 0.0, (target_deg or 0) + 10)
    y_min = min(-10.0, (float(finite.min()) - 5.0) if len(finite) else 0.0)
    y_max = min(y_max, 135.0)
    y_min = max(y_min, -45.0)

    def Y(v):
        return top + (y_max - v) / (y_max - y_min) * angle_h

    svg.rect(left, top, pw, angle_h, "plotbg")
    # gaps in the data (unplugged dowel)
    for g in data["session"]["gaps"]:
        g0, g1 = g["start_s"], g["end_s"] if g["end_s"] is not None else g["start_s"]
        if g1 >= t0 and g0 <= t1:
            a, b = X(max(g0, t0)), X(min(g1, t1))
            svg.rect(a, top, max(b - a, 2), angle_h, "gap")
            svg.text((a + b) / 2, top + angle_h - 6, "no data", "small", "middle")
    # reps: shaded spans, numbered (labels thinned out where they would overlap)
    last_label_x = -1e9
    for rep in reps:
        if rep["end_s"] is None or rep["end_s"] < t0 or rep["start_s"] > t1:
            continue
        a, b = X(max(rep["start_s"], t0)), X(min(rep["end_s"], t1))
        svg.rect(a, top, b - a, angle_h, "rep faulty" if rep["faults"] else "rep")
        width_needed = 7 * len(rep["label"]) + 6
        if (a + b) / 2 - last_label_x >= width_needed and (a + b) / 2 >= left + width_needed / 2:
            svg.text((a + b) / 2, top - 8, rep["label"], "replabel", "middle")
            last_label_x = (a + b) / 2
    # grid and axes
    for v in nice_ticks(y_min, y_max, 6):
        svg.line(left, Y(v), left + pw, Y(v), "grid")
        svg.text(left - 6, Y(v) + 4, "%g°" % v, "tick", "end")
    if target_deg:
        svg.line(left, Y(target_deg), left + pw, Y(target_deg), "target")
        svg.text(left + pw - 4, Y(target_deg) - 5, "target depth %.0f°" % target_deg, "small target-label", "end")
    svg.line(left, Y(0), left + pw, Y(0), "zero")
    et, ey = envelope(t, hinge, t0, t1, int(pw))
    svg.path(polyline_d(X(et), Y(ey)), "hinge")
    svg.text(left - 48, top - 8, "Hinge", "axislabel")
    svg.rect(left, top, pw, angle_h, "frame")
    # contact lanes
    svg.text(left, lanes_top - 12, "Contacts (filled: the dowel touches; red: a contact-lost fault)", "axislabel")
    for i, c in enumerate(CONTACTS):
        y = lanes_top + i * (lane_h + lane_gap)
        svg.rect(left, y, pw, lane_h, "lanebg")
        on = data["contacts_on"][c]
        for a, b in runs(on & sel):
            ta = t[a]
            tb = t[b - 1] if b - 1 < len(t) else t[-1]
            svg.rect(X(ta), y + 3, max(X(tb) - X(ta), 1.0), lane_h - 6, "on %s" % c)
        for rep in reps:
            for f in rep["faults"]:
                if f["id"] != CONTACT_FAULT[c]:
                    continue
                fs = f["start_s"] if f["start_s"] is not None else rep["start_s"]
                fd = f["duration_s"] if f["duration_s"] else 0.0
                if fs + fd < t0 or fs > t1:
                    continue
                a, b = X(max(fs, t0)), X(min(fs + fd, t1))
                svg.rect(a, y, max(b - a, 3.0), lane_h, "lost")
        svg.text(left - 6, y + lane_h / 2 + 4, CONTACT_LABELS[c], "tick", "end")
    # time axis
    axis_y = lanes_top + 3 * (lane_h + lane_gap) + 4
    for v in time_ticks(t0, t1):
        svg.line(X(v), top + angle_h, X(v), top + angle_h + 4, "axis")
        svg.line(X(v), axis_y - 4, X(v), axis_y, "axis")
        svg.text(X(v), axis_y + 14, fmt_clock(v), "tick", "middle")
        svg.text(X(v), top + angle_h + 16, fmt_clock(v), "tick", "middle")
    svg.text(left + pw, axis_y + 28, "session time (min:s)", "small", "end")
    return svg.render()


def bar_chart(title, labels, values, current_index, fmt, unit="", width=320, height=190,
              y_max=None):
    """A small bar chart of one measure over sessions; the current session highlighted."""
    svg = Svg(width, height, title)
    left, right, top, bottom = 40, 8, 30, 38
    pw, ph = width - left - right, height - top - bottom
    vals = [None if v is None else float(v) for v in values]
    finite = [v for v in vals if v is not None]
    top_tick = y_max if y_max is not None else (max(finite) if finite and max(finite) > 0 else 1.0)
    hi = top_tick * 1.15  # room for the value above the tallest bar
    svg.text(left - 34, 16, title, "charttitle")
    for v in nice_ticks(0, top_tick, 4):
        y = top + ph - v / hi * ph
        svg.line(left, y, left + pw, y, "grid")
        svg.text(left - 4, y + 4, ("%g" % v) + unit, "tick", "end")
    n = max(1, len(vals))
    slot = pw / n
    bw = min(34.0, slot * 0.7)
    for i, v in enumerate(vals):
        cx = left + slot * (i + 0.5)
        if v is None:
            svg.text(cx, top + ph - 4, "–", "tick", "middle")
        else:
            h = v / hi * ph
            svg.rect(cx - bw / 2, top + ph - h, bw, h, "bar current" if i == current_index else "bar")
            svg.text(cx, top + ph - h - 4, fmt % v, "small", "middle")
        for k, part in enumerate(str(labels[i]).split("\n")):
            svg.text(cx, height - bottom + 15 + 12 * k, part, "tick", "middle")
    svg.line(left, top + ph, left + pw, top + ph, "axis")
    return svg.render()


# --- the document -------------------------------------------------------------------------------

CSS = """
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1d2733;
       margin: 0 auto; max-width: 1040px; padding: 24px 28px; font-size: 14px; line-height: 1.4;
       -webkit-print-color-adjust: exact; print-color-adjust: exact; background: #fff; }
h1 { font-size: 24px; margin: 0 0 2px 0; }
h2 { font-size: 18px; margin: 26px 0 8px 0; padding-bottom: 4px; border-bottom: 2px solid #d5dde6; }
h3 { font-size: 15px; margin: 16px 0 4px 0; }
.sub { color: #52606d; margin: 0 0 14px 0; }
.meta { display: grid; grid-template-columns: repeat(3, 1fr); gap: 4px 24px; margin: 10px 0;
        padding: 10px 14px; background: #f3f6f9; border-radius: 6px; }
.meta div span { color: #52606d; display: inline-block; min-width: 92px; }
.tiles { display: flex; gap: 12px; margin: 14px 0 4px 0; }
.tile { flex: 1; border: 1px solid #d5dde6; border-radius: 6px; padding: 8px 12px; }
.tile .v { font-size: 26px; font-weight: bold; }
.tile .k { color: #52606d; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e1e7ee; vertical-align: top; }
th { background: #eef2f6; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.faulty td { background: #fff4ec; }
.fault { display: inline-block; padding: 0 6px; margin: 1px 2px 1px 0; border-radius: 3px;
         background: #fde2d2; color: #8a3412; font-size: 12px; white-space: nowrap; }
.ok { color: #2d6a4f; }
.muted { color: #6b7785; }
.figure { break-inside: avoid; page-break-inside: avoid; margin: 8px 0 16px 0; }
.charts { display: flex; gap: 10px; break-inside: avoid; }
.charts > div { flex: 1; }
.cue { font-style: italic; }
section { break-inside: auto; }
.legend span { display: inline-block; margin-right: 16px; font-size: 12px; color: #52606d; }
.sw { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin-right: 4px;
      border-radius: 2px; }
footer { margin-top: 28px; color: #6b7785; font-size: 12px; border-top: 1px solid #d5dde6;
         padding-top: 8px; }
svg text { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; fill: #1d2733; }
svg .tick { font-size: 11px; fill: #52606d; }
svg .small { font-size: 10px; fill: #52606d; }
svg .axislabel { font-size: 12px; font-weight: 600; }
svg .charttitle { font-size: 13px; font-weight: 600; }
svg .replabel { font-size: 10px; fill: #52606d; }
svg .plotbg { fill: #ffffff; }
svg .frame { fill: none; stroke: #9aa5b1; stroke-width: 1; }
svg .grid { stroke: #e4e9ef; stroke-width: 1; }
svg .axis { stroke: #9aa5b1; stroke-width: 1; }
svg .zero { stroke: #9aa5b1; stroke-width: 1; }
svg .target { stroke: #2d6a4f; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .target-label { fill: #2d6a4f; }
svg .hinge { fill: none; stroke: #1f4e79; stroke-width: 1.6; stroke-linejoin: round; }
svg .rep { fill: #e8eef5; }
svg .rep.faulty { fill: #fde8dc; }
svg .gap { fill: #d9d9d9; opacity: .7; }
svg .lanebg { fill: #f3f6f9; }
svg .on.head { fill: #4a7fb5; }
svg .on.midback { fill: #3d9b8f; }
svg .on.tailbone { fill: #7d5ba6; }
svg .lost { fill: #d1495b; opacity: .85; }
svg .bar { fill: #aab8c6; }
svg .bar.current { fill: #1f4e79; }
"""


def _rep_rows(session):
    """Reps with a display label ("S1·3" for set 1 rep 3, or the session index)."""
    multi = len(session["sets"]) > 1
    out = []
    for rep in session["reps"]:
        r = dict(rep)
        if multi and rep["set"] is not None:
            r["label"] = "%d·%d" % (rep["set"], rep["number"])
        else:
            r["label"] = str(rep["number"] if rep["set"] is not None else rep["index"])
        out.append(r)
    return out


def _windows(session, t):
    """Time windows to plot: each set, or the whole session without sets; a long one is cut
    into parts of at least FIGURE_MAX_S, so reps stay legible, in at most MAX_FIGURES plots."""
    out = []
    for name, a, b, target in _set_windows(session, t):
        out.append((name, a, b, target))
    total = sum(b - a for _n, a, b, _t in out)
    part_s = max(FIGURE_MAX_S, total / MAX_FIGURES)
    split = []
    for name, a, b, target in out:
        parts = max(1, int(math.ceil((b - a) / part_s - 1e-9)))
        if parts == 1:
            split.append((name, a, b, target))
            continue
        step = (b - a) / parts
        for k in range(parts):
            pa, pb = a + k * step, a + (k + 1) * step
            split.append(("%s, %s to %s" % (name, fmt_clock(pa), fmt_clock(pb)), pa, pb, target))
    return split


def _set_windows(session, t):
    t_end = float(t[-1]) if len(t) else session["duration_s"]
    sets = session["sets"]
    if sets and len(sets) <= MAX_SET_FIGURES:
        out = []
        for s in sets:
            a = s["start_s"] if s["start_s"] is not None else 0.0
            b = s["end_s"] if s["end_s"] is not None else t_end
            reps = [r for r in session["reps"] if r["set"] == s["number"]]
            if reps:
                a = min(a, min(r["start_s"] for r in reps))
                b = max(b, max(r["end_s"] or r["start_s"] for r in reps))
            pad = max(1.0, 0.02 * (b - a))
            out.append(("Set %d" % s["number"], max(0.0, a - pad), min(t_end, b + pad),
                        s["target_depth_deg"]))
        return out
    return [("Whole session", 0.0, max(t_end, 1.0), None)]


def _fault_badges(faults):
    if not faults:
        return '<span class="ok">none</span>'
    return "".join(
        '<span class="fault">%s%s</span>' % (
            esc(FAULT_LABELS.get(f["id"], f["id"])),
            (" · %s" % esc(f["phase"])) if f.get("phase") else "")
        for f in faults
    )


def _lost_tile(s):
    """Frames lost over the session: a count, "+ unknown" after a restart, "–" if not counted."""
    lost = s.get("lost_frames")
    unknown = any(g["lost_frames"] is None for g in s["gaps"])
    if lost is None:
        return "unknown" if unknown else "–"
    return "%d%s" % (lost, " + unknown" if unknown else "")


def render(data):
    """The report as one HTML string."""
    s = data["session"]
    reps = _rep_rows(s)
    t = data["t_s"]
    n_reps = len(reps)
    faulty = sum(1 for r in reps if r["faults"])
    depths = [r["depth_deg"] for r in reps if r["depth_deg"] is not None]
    mean_depth = sum(depths) / len(depths) if depths else None
    dev = s["device"] or {}
    device_bits = []
    for key, label in (("board_id", "board"), ("fw_version", "firmware"), ("imu_name", "IMU"),
                       ("rate_hz", "rate")):
        if dev.get(key) not in (None, ""):
            device_bits.append("%s %s%s" % (label, dev[key], " Hz" if key == "rate_hz" else ""))
    if not device_bits and dev:
        device_bits = ["%s %s" % (k, dev[k]) for k in sorted(dev)][:4]
    title = "Hip hinge session report: %s, %s" % (s["patient"], fmt_date(s["started"], False))
    h = []
    add = h.append
    add("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    add('<meta name="generator" content="smart-dowel %s">' % esc(__version__))
    add("<title>%s</title><style>%s</style></head><body>" % (esc(title), CSS))
    add("<h1>Hip hinge session report</h1>")
    add('<p class="sub">%s · %s</p>' % (esc(s["patient"]), esc(fmt_date(s["started"]))))
    add('<div class="meta">')
    meta = [
        ("Patient", esc(s["patient"])),
        ("Date", esc(fmt_date(s["started"]))),
        ("Session", "#%d" % s["id"]),
        ("Length", fmt_clock(s["duration_s"]) + ("" if s["ended"] else " (not closed)")),
        ("Source", esc(s["source"] + (" on %s" % s["port"] if s["port"] else ""))),
        ("Dowel", esc(", ".join(device_bits) or "–")),
    ]
    for k, v in meta:
        add("<div><span>%s</span> %s</div>" % (k, v))
    add("</div>")
    add('<div class="tiles">')
    for k, v in (("Reps", str(n_reps)), ("Sets", str(len(s["sets"]))),
                 ("Mean depth", fmt_num(mean_depth, "%.0f°")),
                 ("Reps with a fault", "%d%%" % round(100 * faulty / n_reps) if n_reps else "–"),
                 ("Connection gaps", str(len(s["gaps"]))),
                 ("Frames lost", _lost_tile(s))):
        add('<div class="tile"><div class="k">%s</div><div class="v">%s</div></div>' % (k, v))
    add("</div>")

    # sets
    add("<section><h2>Sets</h2>")
    if s["sets"]:
        add("<table><tr><th>Set</th><th class=\"n\">Reps</th><th class=\"n\">Target reps</th>"
            "<th class=\"n\">Target depth</th><th class=\"n\">Mean depth</th>"
            "<th class=\"n\">Reps with a fault</th><th class=\"n\">Time</th></tr>")
        for st in s["sets"]:
            sr = [r for r in reps if r["set"] == st["number"]]
            sd = [r["depth_deg"] for r in sr if r["depth_deg"] is not None]
            add("<tr><td>Set %d</td><td class=\"n\">%d</td><td class=\"n\">%s</td>"
                "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%d</td>"
                "<td class=\"n\">%s–%s</td></tr>" % (
                    st["number"], len(sr), fmt_num(st["target_reps"], "%d"),
                    fmt_num(st["target_depth_deg"], "%.0f°"),
                    fmt_num(sum(sd) / len(sd) if sd else None, "%.0f°"),
                    sum(1 for r in sr if r["faults"]),
                    fmt_clock(st["start_s"]), fmt_clock(st["end_s"]) if st["end_s"] is not None else "…"))
        add("</table>")
    else:
        add('<p class="muted">No sets were marked in this session; every rep is listed below.</p>')
    if s["gaps"]:
        add("<p>The dowel's connection dropped %d time(s): %s. The session carried on after "
            "each; those stretches have no data.</p>" % (
                len(s["gaps"]),
                "; ".join("at %s for %s s%s%s" % (
                    fmt_clock(g["start_s"]),
                    fmt_num((g["end_s"] - g["start_s"]) if g["end_s"] is not None else None, "%.1f"),
                    ", frames lost unknown" if g["lost_frames"] is None
                    else (", %d samples lost" % g["lost_frames"]) if g["lost_frames"] else "",
                    " (%s)" % esc(g["reason"]) if g["reason"] else "")
                    for g in s["gaps"])))
    events = s.get("events") or []
    if events:
        add("<p>Messages during the session:</p><ul>")
        for e in events:
            who = "The dowel said (%s)" % e["level"] if e["source"] == "dowel" else "Warning"
            add("<li>%s, at %s: %s</li>" % (esc(who), fmt_clock(e["t_s"]), esc(e["message"])))
        add("</ul>")
    add("</section>")

    # traces
    add("<section><h2>Hinge angle and contacts</h2>")
    add('<p class="legend"><span><i class="sw" style="background:#1f4e79"></i>Hinge angle '
        '(0° standing tall)</span><span><i class="sw" style="background:#e8eef5"></i>a rep'
        '</span><span><i class="sw" style="background:#fde8dc"></i>a rep with a fault</span>'
        '<span><i class="sw" style="background:#d1495b"></i>contact lost</span>'
        '<span><i class="sw" style="background:#d9d9d9"></i>no data (unplugged)</span></p>')
    if len(t) == 0:
        add('<p class="muted">This session holds no samples.</p>')
    for name, a, b, target in _windows(s, t):
        add('<div class="figure"><h3>%s</h3>%s</div>' % (
            esc(name), trace_figure(data, a, b, reps, target or data["default_target_deg"],
                                    "%s: hinge angle and contacts" % name)))
    add("</section>")

    # per-rep table
    add("<section><h2>Reps</h2>")
    if reps:
        add("<table><tr><th>Rep</th><th class=\"n\">At</th><th class=\"n\">Depth</th>"
            "<th class=\"n\">Down</th><th class=\"n\">Up</th><th>Faults</th></tr>")
        for r in reps:
            label = ("Set %d, rep %d" % (r["set"], r["number"])) if r["set"] is not None else "Rep %d" % r["index"]
            add("<tr%s><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
                "<td class=\"n\">%s</td><td class=\"n\">%s</td><td>%s</td></tr>" % (
                    ' class="faulty"' if r["faults"] else "", esc(label), fmt_clock(r["start_s"]),
                    fmt_num(r["depth_deg"], "%.0f°"), fmt_num(r["descent_s"], "%.1f s"),
                    fmt_num(r["ascent_s"], "%.1f s"), _fault_badges(r["faults"])))
        add("</table>")
    else:
        add('<p class="muted">No reps were counted in this session.</p>')
    add("</section>")

    # fault summary
    add("<section><h2>Faults and coaching cues</h2>")
    counts = {}
    for r in reps:
        for f in r["faults"]:
            c = counts.setdefault(f["id"], {"reps": set(), "phases": {}, "cue": ""})
            c["reps"].add(r["index"])
            if f.get("phase"):
                c["phases"][f["phase"]] = c["phases"].get(f["phase"], 0) + 1
            c["cue"] = c["cue"] or f.get("cue") or ""
    if counts:
        add("<table><tr><th>Fault</th><th class=\"n\">Reps</th><th>Usually in</th>"
            "<th>What it means</th><th>Cue for the patient</th></tr>")
        order = [k for k in FAULT_LABELS if k in counts] + sorted(k for k in counts if k not in FAULT_LABELS)
        for fid in order:
            c = counts[fid]
            phase = max(c["phases"], key=c["phases"].get) if c["phases"] else "–"
            add("<tr><td>%s</td><td class=\"n\">%d of %d</td><td>%s</td><td>%s</td>"
                "<td class=\"cue\">%s</td></tr>" % (
                    esc(FAULT_LABELS.get(fid, fid)), len(c["reps"]), n_reps, esc(phase),
                    esc(FAULT_MEANING.get(fid, "")), esc(c["cue"] or DEFAULT_CUES.get(fid, ""))))
        add("</table>")
    elif reps:
        add('<p class="ok">No faults: every rep kept all three contacts, reached depth and '
            'was controlled.</p>')
    else:
        add('<p class="muted">No reps, so no faults.</p>')
    add("</section>")

    # progress
    add("<section><h2>Progress</h2>")
    hist = data["history"]
    earlier = [p for p in hist if p["id"] != s["id"]]
    if not earlier:
        add('<p class="muted">This is the first stored session for %s; later reports will '
            'compare against it.</p>' % esc(s["patient"]))
    else:
        labels = ["%s\n#%d" % (fmt_date(p["started"], False)[:6], p["id"]) for p in hist]
        cur = next((i for i, p in enumerate(hist) if p["id"] == s["id"]), len(hist) - 1)
        add('<div class="charts"><div>%s</div><div>%s</div><div>%s</div></div>' % (
            bar_chart("Reps", labels, [p["rep_count"] for p in hist], cur, "%d"),
            bar_chart("Mean depth (°)", labels, [p["mean_depth_deg"] for p in hist], cur, "%.0f"),
            bar_chart("Reps with a fault (%)", labels,
                      [None if p["fault_rate"] is None else 100 * p["fault_rate"] for p in hist],
                      cur, "%.0f", y_max=100.0)))
        add("<table><tr><th>Session</th><th>Date</th><th class=\"n\">Reps</th>"
            "<th class=\"n\">Mean depth</th><th class=\"n\">Reps with a fault</th>"
            "<th>Most frequent fault</th></tr>")
        for p in hist:
            top = max(p["fault_counts"], key=p["fault_counts"].get) if p["fault_counts"] else None
            add("<tr%s><td>#%d%s</td><td>%s</td><td class=\"n\">%d</td><td class=\"n\">%s</td>"
                "<td class=\"n\">%s</td><td>%s</td></tr>" % (
                    ' style="font-weight:600"' if p["id"] == s["id"] else "", p["id"],
                    " (this one)" if p["id"] == s["id"] else "", esc(fmt_date(p["started"])),
                    p["rep_count"], fmt_num(p["mean_depth_deg"], "%.0f°"),
                    fmt_num(None if p["fault_rate"] is None else 100 * p["fault_rate"], "%.0f%%"),
                    esc(FAULT_LABELS.get(top, top)) if top else "–"))
        add("</table>")
    add(_feedback_table(hist, s["id"]))
    add("</section>")
    add("<footer>Generated %s by smart-dowel %s%s. Session times are minutes:seconds from the "
        "first sample. Depth is the dowel's inclination from the patient's upright pose.</footer>" % (
            esc(_dt.datetime.now().astimezone().strftime("%d %b %Y %H:%M")), esc(__version__),
            (", pipeline %s" % esc(s["pipeline_version"])) if s["pipeline_version"] else ""))
    add("</body></html>\n")
    return "".join(h)


def _feedback_table(hist, current_id):
    """Fault rate and depth on reps with live feedback and on reps without, per session (the
    feedback schedules of issue 15): does the skill hold when the feedback is gone?"""
    rows = [p for p in hist if p.get("with_feedback") or p.get("without_feedback")]
    if not rows:
        return ""

    def cells(part):
        if not part:
            return '<td class="n">–</td><td class="n">–</td><td class="n">–</td>'
        return '<td class="n">%d</td><td class="n">%s</td><td class="n">%s</td>' % (
            part["rep_count"], fmt_num(100 * part["fault_rate"], "%.0f%%"),
            fmt_num(part["mean_depth_deg"], "%.0f°"))

    h = ['<h3>With and without live feedback</h3><p class="muted">Reps that got live '
         'feedback (cues, tones) against reps that did not, under the sets\' feedback '
         'schedules: a skill that holds shows the same fault rate and depth without it.</p>',
         '<table><tr><th>Session</th><th class="n">Reps with feedback</th>'
         '<th class="n">faulty</th><th class="n">mean depth</th>'
         '<th class="n">Reps without</th><th class="n">faulty</th>'
         '<th class="n">mean depth</th></tr>']
    for p in rows:
        h.append('<tr%s><td>#%d</td>%s%s</tr>' % (
            ' style="font-weight:600"' if p["id"] == current_id else "", p["id"],
            cells(p.get("with_feedback")), cells(p.get("without_feedback"))))
    h.append("</table>")
    return "".join(h)


def build(store, session_id):
    return render(gather(store, session_id))


def run(args):
    """`dowel report ID --out FILE.html`."""
    from pathlib import Path

    force = getattr(args, "force", False)
    out = Path(args.out)
    if not out.is_dir():
        check_target(out, force)  # refuse before any work is done
    with Store.open(readonly=True) as store:
        text = build(store, args.id)
        if out.is_dir():
            out = out / paths.default_export_name(args.id, store.session_summary(args.id)["patient"], "html")
    write_text(out, text, force=force)
    print("wrote the report of session %d to %s" % (args.id, out), file=sys.stderr)
    return 0
