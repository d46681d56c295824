"""Character drawings of the clinic screen: the side view of the dowel along the back, the
hinge gauge with its target band and the hinge trace. Pure functions of what they draw (no
Textual), returning rich Text, so they are easy to test and to look at.
"""

from __future__ import annotations

import math
from itertools import groupby

from rich.text import Text

BLOCKS = " ▁▂▃▄▅▆▇█"

# Colours by meaning (kept in one place so the figure, bars and banner agree).
OK = "bold #3fdc5a"
LOST = "bold #ffffff on #d02020"
LOST_FG = "bold #ff3b3b"
DOWEL = "bold #e8b04a"
BODY = "#8aa4c8"
DIM = "#6c7380"
BAND = "#2f8f3f"
NEEDLE = "bold #ffffff"

# Where the contacts sit along the trunk, from the hip (0) to the top of the head (1).
CONTACT_AT = {"tailbone": 0.08, "midback": 0.55, "head": 0.97}


def _line_char(dx, dy):
    """A character for a line going dx cells right and dy cells down (screen space)."""
    ang = math.degrees(math.atan2(-dy, dx * 0.5))  # cells are about twice as tall as wide
    ang = ang % 180.0
    if ang < 22.5 or ang >= 157.5:
        return "━"
    if ang < 67.5:
        return "╱"
    if ang < 112.5:
        return "┃"
    return "╲"


def side_view(width, height, hinge_deg, contacts_on, has_data=True):
    """The patient from the side (facing right) with the dowel along the back.

    hinge_deg tilts the trunk forward about the hips (None: upright). contacts_on maps
    "head"/"midback"/"tailbone" to True (touching, green dot) or False (lost: a red X and a
    gap between dowel and back). Returns a rich Text of `height` lines of `width` cells.
    """
    return Text("\n").join(side_view_lines(width, height, hinge_deg, contacts_on, has_data))


def side_view_lines(width, height, hinge_deg, contacts_on, has_data=True):
    """side_view as a list of one-line Texts (what the widget renders)."""
    width, height = max(8, width), max(6, height)
    grid = [[(" ", "")] * width for _ in range(height)]

    def put(x, y, ch, style):
        xi, yi = int(round(x)), int(round(y))
        if 0 <= xi < width and 0 <= yi < height:
            grid[yi][xi] = (ch, style)

    theta = math.radians(max(0.0, min(100.0, hinge_deg or 0.0)))
    legs = max(2, height // 4)
    hip_y = height - 1 - legs
    trunk = max(3.0, hip_y - 1.5)  # rows the trunk spans when upright
    hip_x = width * 0.42 - math.sin(theta) * trunk * 0.6
    # unit vectors in cell units: along the trunk (up and forward), and backwards (to the dowel)
    ux, uy = math.sin(theta) * 2.0, -math.cos(theta)
    bx, by = -math.cos(theta) * 2.0, -math.sin(theta)

    # legs: knees slightly bent, feet on the floor
    knee_x, knee_y = hip_x + 1.5, hip_y + legs / 2.0
    foot_x, foot_y = hip_x + 0.5, height - 1
    for (x0, y0, x1, y1) in ((hip_x, hip_y, knee_x, knee_y), (knee_x, knee_y, foot_x, foot_y)):
        ch = _line_char(x1 - x0, y1 - y0)
        for k in range(9):
            f = k / 8.0
            put(x0 + (x1 - x0) * f, y0 + (y1 - y0) * f, ch, BODY)
    put(foot_x + 1, foot_y, "▄", BODY)

    # trunk (a thick back), bowing away from the dowel where a contact is lost
    def bow(s):
        out = 0.0
        for point, at in CONTACT_AT.items():
            if contacts_on.get(point, True) is False and has_data:
                out += 1.0 * max(0.0, 1.0 - abs(s - at) / 0.22)
        return out

    steps = int(trunk * 4) + 1
    fx, fy = -bx * 0.5, -by * 0.5  # half a cell forward: a back two cells thick
    for k in range(steps):
        s = k / (steps - 1) * 0.84
        off = bow(s)
        x = hip_x + ux * s * trunk - bx * off * 0.7
        y = hip_y + uy * s * trunk - by * off * 0.7
        put(x, y, "█", BODY)
        put(x + fx, y + fy, "█", BODY)
    # head: a blob at the top of the trunk
    hx = hip_x + ux * trunk * 0.97 - bx * bow(0.97) * 0.7 + fx
    hy = hip_y + uy * trunk * 0.97 - by * bow(0.97) * 0.7 + fy
    put(hx, hy, "█", BODY)
    put(hx + 1, hy, "▶", BODY)
    # arms: a hand behind the neck and one behind the low back, holding the dowel
    put(hip_x + ux * trunk * 0.78 + bx * 0.5, hip_y + uy * trunk * 0.78 + by * 0.5, "◖", BODY)
    put(hip_x + ux * trunk * 0.25 + bx * 0.5, hip_y + uy * trunk * 0.25 + by * 0.5, "◖", BODY)

    # the dowel, straight, one cell behind the back, a little longer than the trunk
    ch = _line_char(ux, uy)
    dsteps = int(trunk * 4) + 1
    for k in range(dsteps):
        s = -0.08 + k / (dsteps - 1) * 1.16
        put(hip_x + ux * s * trunk + bx * 1.0, hip_y + uy * s * trunk + by * 1.0, ch, DOWEL)

    # contact markers on the dowel
    for point, at in CONTACT_AT.items():
        x = hip_x + ux * at * trunk + bx * 1.0
        y = hip_y + uy * at * trunk + by * 1.0
        on = contacts_on.get(point, True)
        if not has_data:
            put(x, y, "○", DIM)
        elif on:
            put(x, y, "●", OK)
        else:
            put(x, y, "✖", LOST_FG)

    return [_runs(row) for row in grid]


def _runs(cells):
    """A line of Text from (char, style) cells, one span per run of equal style (fast)."""
    line = Text()
    for style, run in groupby(cells, key=_style_of):
        line.append("".join([ch for ch, _ in run]), style)
    return line


def _style_of(cell):
    return cell[1] or None


def gauge(width, hinge_deg, target_deg, band_deg, max_deg=90.0):
    """Two lines: a bar filled to the hinge angle with the target band marked, and a scale.

    Inside the band the fill is green; short of it, blue; past it, amber.
    """
    return Text("\n").join(gauge_lines(width, hinge_deg, target_deg, band_deg, max_deg))


def gauge_lines(width, hinge_deg, target_deg, band_deg, max_deg=90.0):
    """gauge as a list of two one-line Texts (what the widget renders)."""
    width = max(10, width)
    band_lo, band_hi = target_deg, min(max_deg, target_deg + band_deg)

    def col(deg):
        return int(round(min(max_deg, max(0.0, deg)) / max_deg * (width - 1)))

    lo, hi = col(band_lo), col(band_hi)
    filled = -1 if hinge_deg is None else col(hinge_deg)
    if hinge_deg is not None and hinge_deg >= band_lo and hinge_deg <= band_hi:
        fill = "bold #3fdc5a"
    elif hinge_deg is not None and hinge_deg > band_hi:
        fill = "bold #f0a020"
    else:
        fill = "bold #4aa8ff"
    cells = []
    for x in range(width):
        in_band = lo <= x <= hi
        if x <= filled:
            cells.append(("█", fill))
        else:
            cells.append(("▒", BAND) if in_band else ("─", DIM))
    labels = {}
    for deg in (0, 30, 60, 90):
        x = min(width - len(str(deg)), col(deg))
        for i, c in enumerate(str(deg)):
            labels[x + i] = c
    marks = []
    for x in range(width):
        if x in (lo, hi) and x not in labels:
            marks.append(("▲", "bold #3fdc5a"))
        else:
            marks.append((labels.get(x, " "), DIM))
    return [_runs(cells), _runs(marks)]


def trace(width, height, values, target_deg, max_deg=90.0):
    """The recent hinge angle as columns of blocks, newest at the right, with the target line.

    values: hinge angles oldest first (None where unknown); the last `width` are drawn.
    """
    return Text("\n").join(trace_lines(width, height, values, target_deg, max_deg))


def trace_lines(width, height, values, target_deg, max_deg=90.0):
    """trace as a list of `height` one-line Texts (what the widget renders)."""
    width, height = max(4, width), max(1, height)
    vals = list(values)[-width:]
    vals = [None] * (width - len(vals)) + vals
    levels = height * 8
    target_row = height - 1 - int(min(levels - 1, target_deg / max_deg * levels) // 8)
    # per column: its level in eighths of a row and its colour, once
    cols = []
    for v in vals:
        if v is None:
            cols.append((None, ""))
        else:
            n = int(round(min(max_deg, max(0.0, v)) / max_deg * levels))
            cols.append((n, "#3fdc5a" if v >= target_deg else "#4aa8ff"))
    # a row's runs of one style are the columns' own (but on the target line's): found once;
    # each column's cells top to bottom as one string, the rows read across them
    runs = [(style or None, sum(1 for _ in run))
            for style, run in groupby(style for _n, style in cols)]
    column_cells = []
    for n, _style in cols:
        if n is None:
            column_cells.append(" " * height)
            continue
        full, part = divmod(n, 8)  # whole rows filled from the bottom, and eighths above
        column_cells.append(" " * max(0, height - 1 - full)
                            + (BLOCKS[part] if full < height else "") + "█" * min(full, height))
    rows = []
    for r, chars in enumerate(zip(*column_cells)):
        if r == target_row:  # dotted where no column reaches into this row
            base = (height - 1 - r) * 8
            cells = [("┄", BAND) if n is None or n <= base else (BLOCKS[min(8, n - base)], style)
                     for n, style in cols]
            rows.append(_runs(cells))
            continue
        chars = "".join(chars)
        line = Text()
        pos = 0
        for style, count in runs:
            line.append(chars[pos:pos + count], style)
            pos += count
        rows.append(line)
    return rows
