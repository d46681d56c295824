"""The clinic screen's widgets. They only render what they are given: the app hands each one
the newest Snapshot (or LinkStatus) on its redraw timer; nothing here computes or does I/O.
"""

from __future__ import annotations

from collections import deque

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable, Digits, Label, Static

from ..feedback import BANDWIDTH, POST_SET, in_band, set_summary
from ..link.types import CONNECTED, CONNECTING, RECONNECTING
from ..pipeline.types import CONTACT_LABELS, CONTACTS
from . import drawing
from .state import (
    CONTACT_FAULTS,
    FAULT_SHORT,
    FAULT_TITLES,
    TARGET_BAND_DEG,
    LinkStatus,
    Snapshot,
)

# Full scale of each contact bar, N: the expected pressure sits around the middle
# (light at the head, firm at the mid-back, steady at the tailbone).
BAR_FULL_SCALE_N = {"head": 8.0, "midback": 30.0, "tailbone": 20.0}


def set_text(widget, content, layout=True):
    """Update a Static/Label only when its text changes (an update costs a repaint)."""
    key = content.plain if isinstance(content, Text) else content
    if getattr(widget, "_shown_text", None) == key and not isinstance(content, Text):
        return
    if isinstance(content, Text) and getattr(widget, "_shown_text", None) == (key, content.spans):
        return
    widget._shown_text = (key, content.spans) if isinstance(content, Text) else key
    widget.update(content, layout=layout)


class PaintedByTheApp:
    """A live widget the app paints itself, within the redraw that changed it (app._paint_now).

    A repaint asked for there needs no turn of the widget's own message loop (Textual posts
    it a Prompt and then an Idle event, a wake-up of its task each, for nothing: about 300
    a second at 20 frames), unless something else is pending too (a layout, styles, a
    scroll). The app gives the turn back to any the redraw did not paint after all."""

    def check_idle(self):
        try:
            app = self.app
        except Exception:  # noqa: BLE001 - not in an app (yet): Textual's own way
            app = None
        unprompted = getattr(app, "_unprompted", None)
        if unprompted is not None and not (
                self._layout_required or self._refresh_styles_required
                or self._scroll_required or self._recompose_required):
            unprompted.add(self)
            return
        super().check_idle()


class BigDigits(PaintedByTheApp, Digits):
    """Digits whose lines are kept by value, size and style: an angle's digits come back
    again and again, and rich renders them slowly (about 1 ms a time)."""

    KEEP = 256

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._kept = {}

    def render_line(self, y):
        size = self.size
        key = (self.value, size.width, size.height, self.rich_style)
        lines = self._kept.get(key)
        if lines is None:
            lines = [super(BigDigits, self).render_line(i) for i in range(size.height)]
            if len(self._kept) >= self.KEEP:
                del self._kept[next(iter(self._kept))]
            self._kept[key] = lines
        return lines[y] if y < len(lines) else Strip.blank(size.width, self.rich_style)

    def render_lines(self, crop):
        """The lines in `crop` as Textual styles them (about 0.3 ms for the three rows), all
        of them at once and kept by the same key as the lines themselves."""
        width, height = self.outer_size
        key = ("styled", self.value, width, height, self.rich_style)
        strips = self._kept.get(key)
        if strips is None:
            strips = super().render_lines(Region(0, 0, width, height))
            if len(self._kept) >= self.KEEP:
                del self._kept[next(iter(self._kept))]
            self._kept[key] = strips
        strips = [strips[y] for y in crop.line_range if y < len(strips)]
        x1, x2 = crop.column_span
        if (x1, x2) != (0, width):
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips


def set_digits(digits, value):
    if digits.value != value:
        digits.update(value)


_STYLES = {}


def _style(base, *layers):
    """base + each layer (a style string or Style), cached: the drawings reuse a few dozen."""
    key = (base, layers)
    style = _STYLES.get(key)
    if style is None:
        style = base
        for layer in layers:
            if layer:
                style = style + (Style.parse(layer) if isinstance(layer, str) else layer)
        if len(_STYLES) > 4096:
            _STYLES.clear()
        _STYLES[key] = style
    return style


def line_strip(line, base, width, console):
    """One line of rich Text as a Strip of exactly `width` cells on the `base` style.

    The drawings build their lines by appending runs (spans in order, never overlapping):
    those are cut into Segments directly, far cheaper than rendering the Text; anything
    else goes through rich.
    """
    plain = line.plain
    own = line.style or None
    segs = []
    pos = 0
    for span in line.spans:
        if span.start < pos:  # overlapping spans: let rich resolve them
            segs = Segment.apply_style(line.render(console), base)
            return Strip(segs).adjust_cell_length(width, base)
        if span.start > pos:
            segs.append(Segment(plain[pos:span.start], _style(base, own)))
        if span.end > span.start:
            segs.append(Segment(plain[span.start:span.end], _style(base, own, span.style)))
        pos = span.end
    if pos < len(plain):
        segs.append(Segment(plain[pos:], _style(base, own)))
    return Strip(segs).adjust_cell_length(width, base)


class Drawing(PaintedByTheApp, Widget):
    """A widget drawn as lines of rich Text, rendered line by line (Textual's line API).

    The lines are kept as Strips until what it shows, its size or its style changes; new data
    repaints only the lines that changed (a partial refresh), so a redraw 30 times a second
    costs the compositor only what actually moved on screen.
    """

    # How many drawings (their Strips) each widget keeps by what they show: a force, an angle
    # comes back again and again, and cutting its lines costs far more than finding them.
    # 0 for a drawing that never repeats (the trace).
    KEEP = 128

    def __init__(self, **kw):
        super().__init__(**kw)
        self._shown = None
        self._lines = None  # the Strips of each line, for self._lines_size
        self._lines_size = None
        self._base_style = None
        self._kept = {}  # (shown, width, height, base style) -> Strips
        self._render_state = None  # (theme count, plain?, background): render_lines
        self._styled = {}  # (shown, width, height) -> Strips styled by Textual (not plain)

    def set_shown(self, shown):
        """Show new data (any comparable value); repaints only the lines that changed."""
        if shown == self._shown:
            return
        self._shown = shown
        old = self._lines
        size = self.content_size
        if old is None or self._lines_size != (size.width, size.height):
            self._lines = None
            self.refresh()
            return
        new = self._strips(size.width, size.height)
        self._lines = new
        if len(new) != len(old):
            self.refresh()
            return
        regions = []
        y = 0
        n = len(new)
        while y < n:
            if new[y] is old[y] or new[y] == old[y]:
                y += 1
                continue
            y0 = y
            while y < n and not (new[y] is old[y] or new[y] == old[y]):
                y += 1
            regions.append(Region(0, y0, size.width, y - y0))
        if regions:
            self.refresh(*regions)

    def draw_lines(self, width, height):  # pragma: no cover - interface
        """The drawing as a list of one-line rich Texts (at most `height`)."""
        raise NotImplementedError

    def render(self):
        """The drawing as one rich Text (tests look at it; the screen uses render_line)."""
        size = self.content_size
        return Text("\n").join(self.draw_lines(size.width, size.height)[:size.height])

    def _strips(self, width, height):
        """The Strips of what is shown at this size: kept ones, or newly cut."""
        if not self.KEEP:
            return self._build(width, height)
        base = self._base_style
        if base is None:
            base = self._base_style = self.rich_style
        key = (self._shown, width, height, base)
        kept = self._kept
        strips = kept.get(key)
        if strips is None:
            strips = self._build(width, height)
            if len(kept) >= self.KEEP:
                del kept[next(iter(kept))]  # the oldest
            kept[key] = strips
        return strips

    def _build(self, width, height):
        base = self._base_style
        if base is None:
            base = self._base_style = self.rich_style
        console = self.app.console
        strips = []
        prev = prev_strip = None
        for line in self.draw_lines(width, height)[:height]:
            if line is not prev:  # a repeated line (a bar's rows) is cut once
                prev, prev_strip = line, line_strip(line, base, width, console)
            strips.append(prev_strip)
        blank = Strip.blank(width, base)
        strips.extend(blank for _ in range(height - len(strips)))
        return strips

    def _current_lines(self, width, height):
        if self._lines is None or self._lines_size != (width, height):
            # the style is read only here: what the widget shows (and so its CSS classes)
            # changed, or its size did
            self._base_style = self.rich_style
            self._lines = self._strips(width, height)
            self._lines_size = (width, height)
        return self._lines

    def render_line(self, y):
        size = self.content_size
        lines = self._current_lines(size.width, size.height)
        if y < len(lines):
            return lines[y]
        return Strip.blank(size.width, self._base_style)

    def render_lines(self, crop):
        """The lines in `crop` as the compositor (and the app's own painter) asks for them.

        A drawing without border, padding, outline, tint, hatch or opacity of its own (the
        contact bars, the gauge, the trace) is its lines as they are, through the app's line
        filters: they are handed over directly, without Textual's per-line styling pass
        (half the cost of a frame). Anything else (the side view, in its border) is styled
        the usual way, all its lines at once, and kept by what it shows like its lines.
        What decides (the styles, the background under the filters) is read once per change
        of style or theme, not on every frame: reading it walks all the widget's ancestors.
        """
        width, height = self.outer_size  # with a border and padding, if any (not plain)
        state = self._render_state
        css = getattr(self.app, "_css_update_count", None)
        if state is None or state[0] != css:
            st = self.styles
            plain = not (
                st.gutter.width or st.gutter.height or any(st.outline.spacing)
                or st.tint.a or st.text_opacity != 1.0 or self.opacity != 1.0
                or (st.has_rule("hatch") and st.hatch != "none"))
            state = self._render_state = (css, plain, self.background_colors[1])
            self._styled.clear()
        if not state[1]:
            key = (self._shown, width, height)
            styled = self._styled.get(key)
            if styled is None:
                styled = super().render_lines(Region(0, 0, width, height))
                if len(self._styled) >= max(1, self.KEEP):
                    del self._styled[next(iter(self._styled))]
                self._styled[key] = styled
            strips = [styled[y] for y in crop.line_range if y < len(styled)]
        else:  # no gutter: the outer size is the content's
            lines = self._current_lines(width, height)
            strips = [lines[y] for y in crop.line_range if y < len(lines)]
            filters = self.get_line_filters()
            if filters:
                background = state[2]
                for f in filters:
                    strips = [strip.apply_filter(f, background) for strip in strips]
        x1, x2 = crop.column_span
        if (x1, x2) != (0, width):
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips

    def notify_style_update(self):
        super().notify_style_update()
        self._lines = None
        self._base_style = None
        self._render_state = None


class ContactBar(Drawing):
    """One contact point: its name, pressure in N and a thick bar; red with LOST when lost."""

    def __init__(self, point, **kw):
        super().__init__(id="contact-" + point, **kw)
        self.point = point
        self.label = CONTACT_LABELS[point]
        self.on, self.pressure_n, self.known = True, 0.0, False

    def show(self, contact, has_data, live=True):
        self.known = has_data
        # this very sample: the cue does not wait for the debounce; no LOST while the
        # feedback schedule holds feedback back
        self.on = contact.now_on or not live
        self.pressure_n = round(contact.pressure_n, 1)
        self.set_class(has_data and not self.on, "-lost")
        self.set_class(not has_data, "-unknown")
        self.set_shown((self.known, self.on, self.pressure_n))

    def draw_lines(self, w, h):
        h = max(1, h)
        lost = self.known and not self.on
        value = "%4.1f N" % self.pressure_n if self.known else "  -- N"
        head = Text()
        head.append(self.label, "bold")
        state = "LOST" if lost else ("" if self.known else "no data")
        pad = max(1, w - len(self.label) - len(value) - len(state) - 1)
        head.append(" " * pad)
        if state:
            head.append(state + " ", "bold" if lost else "dim")
        head.append(value, "bold")
        lines = [head]
        bar_rows = h - 1
        if bar_rows > 0:
            if lost:
                word = "LOST"
                left = (w - len(word)) // 2
                hatch = Text("▚" * w, "#ff8080")
                for r in range(bar_rows):
                    if r == bar_rows // 2:
                        lines.append(Text(" " * left + word + " " * (w - left - len(word)), "bold"))
                    else:
                        lines.append(hatch)
            else:
                frac = min(1.0, max(0.0, self.pressure_n / BAR_FULL_SCALE_N[self.point]))
                eighths = int(round(frac * w * 8))
                full, part = divmod(eighths, 8)
                partials = " ▏▎▍▌▋▊▉"
                row = "█" * full + (partials[part] if part and full < w else "")
                style = "#3fdc5a" if self.known else "#444444"
                bar = Text(row, style)
                bar.append("░" * max(0, w - len(row)), "#333a40")
                lines.extend([bar] * bar_rows)
        return lines[:h]


class Contacts(Vertical):
    """The three contact bars, Head at the top as on the body."""

    def compose(self) -> ComposeResult:
        self.bars = [ContactBar(point) for point in CONTACTS]
        yield from self.bars

    def show(self, snap):
        for bar in self.bars:
            bar.show(snap.contact(bar.point), snap.has_data, snap.feedback_live)


class SideView(Drawing):
    """The patient seen from the side with the dowel along the back; lost contacts in red."""

    hinge_deg = None
    lost = ()
    has_data = False

    def show(self, snap):
        self.hinge_deg = None if snap.hinge_deg is None else round(snap.hinge_deg / 2.0) * 2
        self.lost = snap.lost if snap.feedback_live else ()
        self.has_data = snap.has_data
        self.set_shown((self.hinge_deg, self.lost, self.has_data))

    def draw_lines(self, width, height):
        on = {p: p not in self.lost for p in CONTACTS}
        art = drawing.side_view_lines(width, max(6, height - 1), self.hinge_deg, on,
                                      self.has_data)
        caption = Text()
        if not self.has_data:
            caption.append("waiting for the dowel", "dim")
        elif self.lost:
            caption.append(" ".join(CONTACT_LABELS[p] for p in self.lost) + " LOST",
                           drawing.LOST_FG)
        else:
            caption.append("3 contacts on", drawing.OK)
        caption.align("center", width)
        return art + [caption]


class HingeGauge(Drawing):
    """The gauge bar with the target band, and its scale."""

    def show(self, hinge_deg, target_deg):
        self.set_shown((None if hinge_deg is None else round(hinge_deg), target_deg))

    def draw_lines(self, width, height):
        hinge_deg, target_deg = self._shown or (None, 45.0)
        return drawing.gauge_lines(width, hinge_deg, target_deg, TARGET_BAND_DEG)


class HingeTrace(Drawing):
    """The last seconds of the hinge angle, with the target depth as a dotted line."""

    KEEP = 0  # it moves on every frame

    def show(self, values, target_deg):
        self.set_shown((values, target_deg))

    def draw_lines(self, width, height):
        values, target_deg = self._shown or ((), 45.0)
        return drawing.trace_lines(width, height, values, target_deg)


class HingePanel(Vertical):
    """`Hinge`: big digits in degrees, the gauge, the trace."""

    def compose(self) -> ComposeResult:
        self.digits = BigDigits("--", id="hinge-digits")
        self.target = Label("", id="hinge-target")
        self.gauge = HingeGauge(id="hinge-gauge")
        self.trace = HingeTrace(id="hinge-trace")
        yield Label("Hinge", classes="panel-title")
        yield self.digits
        yield self.target
        yield self.gauge
        yield self.trace

    def show(self, snap):
        deg = snap.hinge_deg
        digits = self.digits
        # always two characters wide ("--", " 5", "45"): the digits never change width,
        # so a new angle repaints them without a layout of the whole screen
        set_digits(digits, "--" if deg is None else "%2d" % round(deg))
        lo, hi = snap.target_depth_deg, snap.target_depth_deg + TARGET_BAND_DEG
        in_band = deg is not None and lo <= deg <= hi
        digits.set_class(in_band, "-in-band")
        target = "target %d-%d°" % (lo, hi)
        if deg is None and snap.has_data:
            target = "press c: upright · " + target
        set_text(self.target, target, layout=False)
        self.gauge.show(deg, snap.target_depth_deg)
        self.trace.show(snap.trace, snap.target_depth_deg)


class RepPanel(Vertical):
    """`Reps`: the count in big digits, the set number and the target."""

    def compose(self) -> ComposeResult:
        self.digits = BigDigits("0", id="reps-digits")
        self.set_line = Label("", id="reps-set")
        self.hint = Label("", id="reps-hint")
        self.feedback = Label("", id="reps-feedback")
        yield Label("Reps", classes="panel-title")
        yield self.digits
        yield self.set_line
        yield self.hint
        yield self.feedback

    def show(self, snap):
        digits = self.digits
        set_digits(digits, str(snap.rep_count))
        if snap.group == "set":
            done = "" if snap.set_running else " done"
            line = "Set %d%s · %d / %d" % (snap.set_number, done, snap.rep_count, snap.target_reps)
            hint = "s: stop set" if snap.set_running else "s: next set"
        else:
            line = "Practice"
            hint = "s: start set %d" % (snap.set_number + 1)
        digits.set_class(snap.group == "set" and snap.rep_count >= snap.target_reps, "-complete")
        set_text(self.set_line, line, layout=False)
        set_text(self.hint, hint, layout=False)
        fb = "Feedback: %s" % snap.feedback_schedule
        if snap.feedback_next != snap.feedback_schedule:
            fb += "\nnext set: %s" % snap.feedback_next
        set_text(self.feedback, fb, layout=False)


class FaultBanner(Static):
    """The latest fault with its coaching cue; calm when there is nothing to correct."""

    def show(self, snap, status):
        kind, text = banner_content(snap, status)
        for k in ("fault", "warn", "good", "idle", "link"):
            self.set_class(k == kind, "-" + k)
        set_text(self, text, layout=False)


def banner_content(snap, status):
    """(kind, Text) of the banner: link trouble first, then the live fault, then praise."""
    if status is not None and status.state == RECONNECTING:
        return "link", Text("RECONNECTING · plug the dowel back in: the set resumes by itself",
                            "bold")
    if status is not None and status.no_valid_data:
        return "link", Text("NO VALID DATA · %s" % (status.rejected or "nothing readable"),
                            "bold")
    if status is not None and status.refused:
        return "link", Text("THE DOWEL REFUSES TO STREAM · %s" % status.refused, "bold")
    if status is not None and status.state == CONNECTED and status.stalled:
        return "link", Text("NO DATA · the dowel is connected but silent: check the cable",
                            "bold")
    if status is not None and status.state == CONNECTING and not snap.has_data:
        where = status.port or "the dowel"
        return "idle", Text("Connecting to %s ..." % where)
    if (snap.feedback_schedule == POST_SET and snap.group == "set" and not snap.set_running
            and snap.rows):
        return "good", Text(set_summary(snap.set_number, snap.rows, snap.target_depth_deg,
                                        TARGET_BAND_DEG, FAULT_SHORT), "bold")
    if not snap.feedback_live and snap.has_data:
        return "idle", Text("Feedback %s · this rep on your own: feel the three points"
                            % snap.feedback_schedule)
    if snap.fault_id:
        t = Text()
        t.append(FAULT_TITLES.get(snap.fault_id, snap.fault_id.upper()), "bold")
        t.append("  " + snap.cue)
        return ("fault" if snap.fault_id in CONTACT_FAULTS else "warn"), t
    if not snap.has_data:
        return "idle", Text("Waiting for data from the dowel")
    if not snap.upright:
        return "idle", Text("Stand tall with the dowel on your back, then hold still")
    if snap.feedback_schedule == BANDWIDTH and snap.set_running:
        # mid-rep past the band's deep end, or the last rep's depth outside the band
        lo, hi = snap.target_depth_deg, snap.target_depth_deg + TARGET_BAND_DEG
        depth = None
        if snap.phase in ("descent", "bottom", "ascent"):
            if snap.hinge_deg is not None and snap.hinge_deg > hi:
                depth = snap.hinge_deg
        elif snap.rows and not in_band(snap.rows[-1].depth_deg, lo, TARGET_BAND_DEG):
            depth = snap.rows[-1].depth_deg
        if depth is not None:
            return "warn", Text("OUTSIDE THE BAND  depth %.0f°, target %.0f-%.0f°"
                                % (depth, lo, hi), "bold")
    if snap.last_rep_good and snap.rep_count:
        return "good", Text("GOOD REP  Keep the three points on the stick", "bold")
    return "idle", Text("Hips back, back flat: keep the stick on head, mid-back and tailbone")


class RepTable(DataTable):
    """The reps of the set: depth, tempo (descent / ascent) and faults.

    Holds the last MAX_ROWS reps (a set has at most 50; practice reps outside a set go on
    without end, and every row a DataTable holds costs memory and caches).
    """

    MAX_ROWS = 50

    def on_mount(self):
        self.cursor_type = "none"
        self.zebra_stripes = True
        self.add_column("Rep", key="rep", width=4)
        self.add_column("Depth °", key="depth", width=8)
        self.add_column("Down s", key="down", width=7)
        self.add_column("Up s", key="up", width=6)
        self.add_column("Faults", key="faults", width=44)
        self._shown = None
        self._row_keys = deque()

    def show(self, snap):
        # reps without live feedback keep their faults for after the set
        key = (snap.group, snap.set_number, snap.set_running, len(snap.rows))
        if key == self._shown:
            return
        if (self._shown is None or self._shown[:3] != key[:3]
                or len(snap.rows) < self._shown[3]):
            self.clear()
            self._row_keys.clear()
            start = 0
        else:
            start = self._shown[3]
        start = max(start, len(snap.rows) - self.MAX_ROWS)
        for row in snap.rows[start:]:
            if row.feedback is False and snap.set_running:
                faults = Text("(after the set)", "dim")
            else:
                faults = Text(", ".join(FAULT_SHORT.get(f, f) for f in row.faults) or "good",
                              "bold #ff5050" if row.faults else "#3fdc5a")
            self._row_keys.append(self.add_row(
                str(row.number), "%.0f" % row.depth_deg, "%.1f" % row.descent_s,
                "%.1f" % row.ascent_s, faults))
        while len(self._row_keys) > self.MAX_ROWS:
            self.remove_row(self._row_keys.popleft())
        # A DataTable keys its render caches by an update count that every new row bumps:
        # the old renders are never used again but stay until its LRU caches fill (10,000
        # cells), megabytes over a long session. A rep is rare: drop them now.
        clear_caches = getattr(self, "_clear_caches", None)
        if clear_caches is not None:
            clear_caches()
        self._shown = key
        if snap.rows:
            self.move_cursor(row=self.row_count - 1)
            self.scroll_end(animate=False)


class StatusLine(Static):
    """Connection, sample rate, lost frames, IMU, patient and saving; loud when reconnecting."""

    def show(self, status, snap):
        self.set_class(status.state == RECONNECTING, "-reconnecting")
        self.set_class(status.state == CONNECTED, "-connected")
        set_text(self, status_text(status, snap), layout=False)


def status_text(status: LinkStatus, snap: Snapshot):
    t = Text()
    where = status.port or "?"
    if status.source == "simulated":
        where = "simulated " + where
    elif status.source == "replay":
        where = "replay " + where
    if status.state == RECONNECTING:
        t.append(" RECONNECTING ", "bold reverse")
        away = ""
        if status.since_rx_s is not None:
            away = " · no data for %.0f s" % status.since_rx_s
        t.append(" %s%s · lost %d frames" % (where, away, status.lost_frames))
        return t
    if status.no_valid_data:
        # bytes arrive but nothing in them is a sample: never "connected"
        t.append(" NO VALID DATA ", "bold reverse")
        t.append(" %s · %s" % (where, status.rejected or "nothing readable"), "bold #ff5050")
        t.append(" · lost %d" % status.lost_frames)
        return t
    mark = {CONNECTED: "●", CONNECTING: "◌"}.get(status.state, "○")
    t.append("%s %s " % (mark, status.state), "bold")
    t.append(where)
    if status.refused:
        t.append(" · START REFUSED: %s" % status.refused, "bold #ff5050")
    elif status.stalled:
        t.append(" · NO DATA for %.0f s" % (status.since_rx_s or 0), "bold #ff5050")
    else:
        t.append(" · %.0f Hz" % status.sample_rate_hz)
    t.append(" · lost %d" % status.lost_frames)
    if status.crc_errors:
        t.append(" · CRC %d" % status.crc_errors)
    if status.imu_ok is False:
        t.append(" · IMU %s MISSING" % (status.imu or ""), "bold #ff5050")
    elif status.imu:
        t.append(" · IMU %s%s" % (status.imu, " ok" if status.imu_ok else ""))
    if status.overloaded:
        t.append(" · BOARD %.0f%% BUSY: lower the rate" % (100 * status.busy_max), "bold #ff5050")
    elif status.busy_max is not None:
        t.append(" · busy %.0f%%" % (100 * status.busy_max))
    patient = snap.patient or "no patient"
    t.append(" · %s" % patient, "bold")
    if snap.session_id is not None:
        t.append(" · session %d" % snap.session_id)
    elif status.source != "replay":
        t.append(" · NOT SAVED", "bold #f0a020")
    return t
