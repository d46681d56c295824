"""The clinic screen: live contacts, hinge depth, reps and cues, for `dowel demo` and `dowel ui`.

Data flows one way: the link's reader thread hands batches to the Feed (pipeline + store),
which posts paced SnapshotUpdated messages (at once for a contact, cue, rep or set change,
else at most 20 a second) and LinkStatusUpdated ones; the app keeps the newest, redraws at
once what changed at once and the rest at most 25 times a second, and writes only the lines
that changed. Keys call the Feed; widgets only render.
"""

from __future__ import annotations

import asyncio
import errno
import math
import os
import select
import signal
import sys
import threading
import time

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.geometry import Region
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

try:  # Textual's own partial update (an internal: without it, frames go Textual's way)
    from textual._compositor import ChopsUpdate
except ImportError:  # pragma: no cover - another Textual version
    ChopsUpdate = None

from ..errors import DowelError, StoreError
from ..feedback import DESCRIPTIONS, EVERY, POST_SET, next_schedule, set_summary
from . import messages as M
from .feed import Feed, shown_at_once
from .sound import SoundCues, open_sink
from .sources import IdleSource, LinkSource, ReplaySource, SimSource, Source
from .state import (
    DEFAULT_TARGET_DEPTH_DEG,
    DEFAULT_TARGET_REPS,
    FAULT_SHORT,
    TARGET_BAND_DEG,
    LinkStatus,
    Snapshot,
)
from .widgets import (
    Contacts,
    FaultBanner,
    HingePanel,
    RepPanel,
    RepTable,
    SideView,
    StatusLine,
)

# The redraw cap: a little above the Feed's frame rate, so a paced snapshot redraws at once
# (no timer) and a flood (a test, a burst of status) still costs at most 25 frames a second.
REDRAW_INTERVAL_S = 1.0 / 25.0
# A change drawn at once (a contact lost or back) goes out at once, whatever frame went just
# before, unless such changes come fast (one drawn within FLICKER_S, a pad flickering every
# sample): then it goes out once no frame of any kind has been drawn for AT_ONCE_GAP_S, else at
# the cap's next slot: frames at least AT_ONCE_GAP_S apart, about 25 a second, not one a sample
AT_ONCE_GAP_S = REDRAW_INTERVAL_S
FLICKER_S = 0.2
END_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_GONE = (errno.EIO, errno.EPIPE, errno.ENXIO, errno.EBADF)  # a write to a terminal that is gone


TERMINAL_CHECK_S = 1.0


def _terminal_fd():
    """The terminal the app reads its keys from (Textual's driver reads stdin), or None."""
    stdin = sys.__stdin__
    try:
        fd = stdin.fileno() if stdin is not None else None
    except (OSError, ValueError):
        return None
    return fd if fd is not None and os.isatty(fd) else None


class _TerminalOut:
    """The terminal as Textual's output thread writes to it. When the terminal goes away (its
    window closed: SIGHUP follows), writes fail; the thread would die on the first one, its
    queue then fill up and block the screen forever (it could not even quit). Here the output
    is dropped from then on: nobody is there to read it, and the SIGHUP handler closes the
    session as usual."""

    def __init__(self, file):
        self._file = file
        self.gone = False

    def write(self, text):
        if not self.gone:
            try:
                return self._file.write(text)
            except OSError as e:
                if e.errno not in _GONE:
                    raise
                self.gone = True
        return len(text)

    def flush(self):
        if not self.gone:
            try:
                self._file.flush()
            except OSError as e:
                if e.errno not in _GONE:
                    raise
                self.gone = True

    def __getattr__(self, name):
        return getattr(self._file, name)


def _guard_output_thread():
    """Give Textual's output thread a _TerminalOut (it binds its file's write at start)."""
    try:
        from textual.drivers._writer_thread import WriterThread
    except ImportError:  # another Textual: its own behaviour stands
        return
    if getattr(WriterThread, "_dowel_guarded", False):
        return
    run = WriterThread.run

    def guarded_run(self):
        self._file = _TerminalOut(self._file)
        run(self)

    WriterThread.run = guarded_run
    WriterThread._dowel_guarded = True


_guard_output_thread()
GIL_SWITCH_INTERVAL_S = 0.001
DEPTH_STEP_DEG = 5.0

# Keys that make the virtual patient move (simulated dowel only): key -> (action, description)
SIM_KEYS = {
    "1": ("good", "a good rep"),
    "2": ("lumbar-flexion", "lumbar flexion (Tailbone lost)"),
    "3": ("thoracic-rounding", "thoracic rounding (Mid-back lost)"),
    "4": ("head-forward", "head forward (Head lost)"),
    "5": ("squat", "a squat (knees, not hips)"),
    "6": ("shallow", "a shallow rep"),
    "7": ("rushed", "a rushed rep"),
    "0": ("rest", "rest (stop after this rep)"),
}


class DowelApp(App):
    """The clinic screen. Build it with make_app(args)."""

    CSS_PATH = "dowel.tcss"
    TITLE = "smart-dowel"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("s", "toggle_set", "Start/stop set"),
        Binding("c", "calibrate", "Upright"),
        Binding("z", "zero", "Zero pads"),
        Binding("p", "patients", "Patient"),
        Binding("h", "history", "History"),
        Binding("plus,equals_sign", "depth(1)", "Depth +5°", show=False, key_display="+"),
        Binding("minus", "depth(-1)", "Depth -5°", show=False, key_display="-"),
        Binding("right_square_bracket", "reps(1)", "Reps +1", show=False, key_display="]"),
        Binding("left_square_bracket", "reps(-1)", "Reps -1", show=False, key_display="["),
        Binding("t", "targets", "Targets", show=False),
        Binding("f", "cycle_feedback", "Feedback"),
        Binding("m", "toggle_sound", "Sound"),
    ] + [
        Binding(key, "move('%s')" % action, "Patient: " + text, show=False)
        for key, (action, text) in SIM_KEYS.items()
    ]

    def __init__(self, source: Source, *, patient=None, open_store=True,
                 target_depth_deg=DEFAULT_TARGET_DEPTH_DEG, target_reps=DEFAULT_TARGET_REPS,
                 store=None, feedback=EVERY, sound="off", voice=False, sink=None):
        super().__init__()
        # sound: "on", "off" or None (on where there is an audio output); sink: a
        # sound.Sink to play through (tests, bench), else one is opened on mount
        self.sound = SoundCues(sink, voice=voice, enabled=sound != "off")
        self._sound_mode = sound
        self.source = source
        self.open_store = open_store
        self.feed = Feed(self.post_message, store=store, patient=patient,
                         source=source.source, target_depth_deg=target_depth_deg,
                         target_reps=target_reps, feedback=feedback)
        self.snapshot = Snapshot(patient=patient or "", target_depth_deg=target_depth_deg,
                                 target_reps=target_reps, feedback_schedule=feedback,
                                 feedback_next=feedback)
        self.status = LinkStatus(source=source.source,
                                 state="connecting" if source.source != "none" else "closed",
                                 port=getattr(source, "port", None))
        self._stop = threading.Event()
        self._dirty = False
        self._redraw_timer = None
        self._widgets = None  # the live widgets, found once
        self._live_nodes = None  # ... and all their descendants
        self._paint_now_ok = ChopsUpdate is not None
        self._unprompted = None  # within a redraw: widgets whose idle turn it took over
        self._drawing = True  # False once an end signal came
        self._covered = None  # (the compositor's map, the live widgets something covers)
        self._switch_interval = None
        self._last_redraw = 0.0
        self._shown_key = None  # shown_at_once() of the snapshot on screen
        self._last_at_once = -math.inf  # when a change shown at once was last drawn
        self.redraws = 0  # how many redraws ran (tests, bench)
        self.shown_seq = None  # the newest sample sequence number on screen (bench)
        self.data_worker = None
        self._store_waiting = {}  # store call -> still waiting for its answer
        self.end_signal = None  # the signal that ended the app, if one did
        self._terminal = None  # the fd of the terminal it runs in (stdin), watched for a hang-up
        self._signal_loop = None
        if source.simulated:
            self.sub_title = "simulated dowel"
        if isinstance(source, ReplaySource) and source.on_end is None:
            source.on_end = lambda sid: self.post_message(M.ReplayFinished(sid))

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="live"):
            yield Contacts(id="contacts")
            yield SideView(id="side-view")
            yield HingePanel(id="hinge")
            yield RepPanel(id="reps")
        yield FaultBanner(id="banner")
        yield RepTable(id="rep-table")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self):
        # The reader thread (and the simulated dowel's, in `dowel demo`) share the GIL with
        # the UI: with Python's default 5 ms switch interval a thread that wakes up while
        # another composes a frame waits up to 5 ms; 1 ms keeps both hand-offs short.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, GIL_SWITCH_INTERVAL_S))
        if self.sound.enabled and self.sound.sink is None:
            self._open_sound(explicit=self._sound_mode == "on")
        self._redraw()
        self.data_worker = self.run_source()
        self._catch_end_signals()
        self._terminal = None if self.is_headless else _terminal_fd()
        if self._terminal is not None:
            self.set_interval(TERMINAL_CHECK_S, self._check_terminal)

    def on_unmount(self):
        # however the app ends (q, ctrl+c, a test leaving run_test), the data thread stops
        self._stop.set()
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
        if self.sound.sink is not None:
            self.sound.sink.close()
        loop = self._signal_loop
        if loop is not None:
            for sig in END_SIGNALS:
                loop.remove_signal_handler(sig)
            self._signal_loop = None

    def _catch_end_signals(self):
        """SIGTERM (a shutdown, `kill`) and SIGHUP (the terminal window closed) end the app like
        q: the session is closed, the dowel told STOP and the terminal restored. Only the main
        thread's event loop can take signals."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in END_SIGNALS:
            loop.add_signal_handler(sig, self._on_end_signal, sig)
        self._signal_loop = loop

    def _check_terminal(self):
        """A terminal that hung up without a SIGHUP (the app was not its controlling process:
        started under a supervisor, `setsid`, a pty without a session) ends the app as SIGHUP
        would. Textual's input thread does not see it: a read at end of input returns nothing
        and it selects again at once, a core at 100% for as long as the app lives."""
        if self.end_signal is not None:
            return
        poll = select.poll()
        poll.register(self._terminal, select.POLLIN)  # (once hung up, isatty() says no)
        if any(ev & (select.POLLHUP | select.POLLERR | select.POLLNVAL)
               for _, ev in poll.poll(0)):
            self._on_end_signal(signal.SIGHUP)

    def _on_end_signal(self, sig):
        self.end_signal = sig
        # no more live frames: after SIGHUP the terminal is gone (and its output is dropped:
        # _TerminalOut)
        self._drawing = False
        self.call_later(self.action_quit)

    # ------------------------------------------------------------------ data thread

    @work(thread=True, exclusive=True, exit_on_error=False, group="dowel-data",
          name="dowel-data")
    def run_source(self):
        """Open the store and run the source until quit (a thread worker: it may block)."""
        try:
            if self.open_store and self.feed.store is None:
                from ..store import Store

                try:
                    self.feed.store = Store.open()
                    for warning in self.feed.store.warnings:  # stderr is hidden by the screen
                        self.post_message(M.LinkNotice("Session store", warning, "warning"))
                except StoreError as e:
                    self.post_message(M.LinkNotice(
                        e.title, "%s. This session will not be saved." % e, "error"))
            self.source.run(self.feed, self._stop)
        finally:
            self.feed.close()
            if self.open_store and self.feed.store is not None:
                self.feed.store.close()

    def on_worker_state_changed(self, event: Worker.StateChanged):
        if event.worker is not self.data_worker:
            return
        if event.state == WorkerState.ERROR:
            self.show_error(event.worker.error)

    def show_error(self, error):
        title = getattr(error, "title", None) or type(error).__name__
        self.status = LinkStatus(source=self.status.source, state="closed",
                                 port=self.status.port, message=str(error))
        self._dirty = True
        self._schedule_redraw()
        self.notify(str(error), title=title, severity="error", timeout=30)

    # ------------------------------------------------------------------ messages in

    @on(M.SnapshotUpdated)
    def _snapshot(self, message):
        snap = message.snapshot
        self.snapshot = snap
        self.sound.on_snapshot(snap, self.status)  # before the redraw: the tone starts first
        now = time.monotonic()
        if shown_at_once(snap) != self._shown_key and (
                now - self._last_at_once >= FLICKER_S or now - self._last_redraw >= AT_ONCE_GAP_S):
            # a contact lost or back is the cue the patient waits for (and a fault's cue, a
            # rep, a set): drawn at once, not at the next slot of the redraw cap
            self._redraw_now()
        else:
            # (a change that comes soon after another drawn at once, and within AT_ONCE_GAP_S
            # of the last frame, a pad flickering with a loose connector: the cap's next slot)
            self._schedule_redraw()

    @on(M.LinkStatusUpdated)
    def _status(self, message):
        self.status = message.status
        self._schedule_redraw()

    @on(M.LinkNotice)
    def _notice(self, message):
        self.notify(message.text, title=message.title, severity=message.severity,
                    timeout=12 if message.severity == "error" else 5)

    @on(M.DowelFailed)
    def _failed(self, message):
        self.show_error(message.error)

    @on(M.ReplayFinished)
    def _replay_done(self, message):
        self.notify("End of session %d. Press q to quit." % message.session_id, title="Replay")

    @on(M.SetFinished)
    def _set_finished(self, message):
        summary = set_summary(message.set_number, message.rows, self.feed.target_depth_deg,
                              TARGET_BAND_DEG, FAULT_SHORT)
        post_set = message.feedback_schedule == POST_SET
        if message.reason == "target":
            self.bell()
            self.notify("%d of %d reps: set %d complete. Press s for the next set.\n%s"
                        % (message.reps, message.target_reps, message.set_number, summary),
                        title="Set %d done" % message.set_number, timeout=30 if post_set else 8)
        elif post_set or message.rows:
            self.notify(summary, title="Set %d" % message.set_number,
                        timeout=30 if post_set else 8)

    # ------------------------------------------------------------------ redraw

    def _schedule_redraw(self):
        """Redraw now if the last one is REDRAW_INTERVAL_S old, else once when it is."""
        self._dirty = True
        if self._redraw_timer is not None:
            return
        wait = self._last_redraw + REDRAW_INTERVAL_S - time.monotonic()
        if wait <= 0:
            self._redraw()
        else:
            self._redraw_timer = self.set_timer(wait, self._redraw_due)

    def _redraw_now(self):
        if self._redraw_timer is not None:
            self._redraw_timer.stop()
            self._redraw_timer = None
        self._redraw()

    def _redraw_due(self):
        self._redraw_timer = None
        if self._dirty:
            self._redraw()

    def _redraw(self):
        if not self.screen_stack or not self._drawing:
            return  # the app is closing: a late snapshot or redraw timer has nothing to draw
        self._dirty = False
        self._last_redraw = time.monotonic()
        snap, status = self.snapshot, self.status
        w = self._widgets
        if w is None:
            screen = self.screen_stack[0]
            w = self._widgets = tuple(screen.query_one(cls) for cls in (
                Contacts, SideView, HingePanel, RepPanel, FaultBanner, RepTable, StatusLine))
        contacts, side, hinge, reps, banner, table, status_line = w
        # the drawings and digits repainted here are painted by _paint_now below, not on their
        # own idle turn (widgets.PaintedByTheApp); whichever it does not paint gets that turn
        painting = self._paint_now_ok and self.screen is self.screen_stack[0]
        unprompted = self._unprompted = set() if painting else None
        try:
            contacts.show(snap)
            side.show(snap)
            hinge.show(snap)
            reps.show(snap)
            banner.show(snap, status)
            table.show(snap)
            status_line.show(status, snap)
        finally:
            self._unprompted = None
        self.redraws += 1
        self.shown_seq = snap.seq
        key = shown_at_once(snap)
        if key != self._shown_key:
            self._last_at_once = self._last_redraw
        self._shown_key = key
        try:
            if self._paint_now_ok:
                self._paint_now()
        finally:
            for widget in unprompted or ():
                if widget._repaint_required or widget._layout_required:
                    widget.check_idle()

    def _paint_now(self):
        """Write the lines this redraw repainted to the terminal right away, and only those.

        Textual would do it a few event-loop hops later (each repainted widget posts an
        Update to the screen on its next idle, the screen resumes its update timer on its
        idle, the timer posts the screen a tick), and its compositor then renders every
        widget that overlaps the box around all the changes (the screen, the panels, their
        borders and the unchanged widgets between them): most of the frame's cost. Here each
        repainted live widget renders only its changed lines, which go out as one update, as
        long as nothing is drawn over it (a notification): then, and whenever something
        needs a layout, the frame goes Textual's way. This uses Textual internals: if they
        are not there (another Textual version), it turns itself off and every frame goes
        the usual way.
        """
        screen = self.screen
        if screen is not self.screen_stack[0] or self._batch_count:
            return
        try:
            if (screen._layout_required or screen._scroll_required
                    or screen._recompose_required):
                return
            live = self._live_nodes
            if live is None:
                live = self._live_nodes = [n for w in self._widgets
                                           for n in (w, *w.walk_children())]
            todo = [w for w in live if w._repaint_required and not (
                w._layout_required or w._refresh_styles_required or w._scroll_required)]
            if not todo:
                return
            for w in todo:
                w._repaint_required = False
            if not self._paint_lines(screen, todo):
                screen._dirty_widgets.update(todo)
                screen._on_timer_update()
        except AttributeError:
            self._paint_now_ok = False

    def _paint_lines(self, screen, widgets):
        """Render the repainted lines of `widgets` and write them as one update; False (and
        nothing done) if one of them is not wholly on screen or has something over it."""
        compositor = screen._compositor
        visible = compositor.visible_widgets
        covered = self._covered
        if covered is None or covered[0] is not visible:
            covered = self._covered = (visible, _covered_widgets(visible, self._live_nodes))
        places = []
        for w in widgets:
            place = visible.get(w)
            if place is None:
                w._exchange_repaint_regions()  # not on screen: nothing to write
                continue
            region, clip = place
            if w in covered[1] or not clip.contains_region(region):
                return False
            places.append((w, region))
        chops = {}
        for w, region in places:
            height, width = region.height, region.width
            rows = set()
            for r in w._exchange_repaint_regions():
                rows.update(range(max(0, r.y), min(height, r.y + r.height)))
            if not rows:
                continue
            rows = sorted(rows)
            y0 = prev = rows[0]
            for y in rows[1:] + [None]:
                if y is not None and y == prev + 1:
                    prev = y
                    continue
                strips = w.render_lines(Region(0, y0, width, prev + 1 - y0))
                for dy, strip in enumerate(strips):
                    chops.setdefault(region.y + y0 + dy, {})[region.x] = (region.x + width,
                                                                         strip)
                if y is not None:
                    y0 = prev = y
        if chops:
            lines, ends, spans = {}, {}, []
            for y in sorted(chops):
                row = sorted(chops[y].items())
                lines[y] = {x: strip for x, (_end, strip) in row}
                ends[y] = [end for _x, (end, _strip) in row]
                spans.append((y, row[0][0], row[-1][1][0]))
            dirty = screen._dirty_widgets
            mine = [w for w in widgets if w not in dirty]
            dirty.update(mine)  # what this frame repaints, as Textual's own frames say it
            try:
                self._display(screen, ChopsUpdate(lines, spans, ends))
            finally:
                dirty.difference_update(mine)
        return True

    # ------------------------------------------------------------------ actions

    def check_action(self, action, parameters):
        if action == "move":
            return True if self.source.simulated else None
        return True

    async def action_quit(self):
        """Stop the data thread (closing the link and flushing the session), then exit 0."""
        self._stop.set()
        if self.data_worker is not None and not self.data_worker.is_finished:
            await self.workers.wait_for_complete([self.data_worker])
        self.exit(0)

    def action_help(self):
        from .screens import HelpScreen

        self.push_screen(HelpScreen(self.key_table()))

    def key_table(self):
        """(key, what it does) for every key of the clinic screen, in binding order."""
        rows = []
        for b in self.BINDINGS:
            if b.action.startswith("move(") and not self.source.simulated:
                continue
            key = b.key_display or b.key.split(",")[0]
            rows.append((key, b.description))
        rows.append(("ctrl+p", "Command palette: every action by name"))
        return rows

    def action_toggle_set(self):
        if self.snapshot.set_running:
            self.feed.stop_set()
        else:
            n = self.feed.start_set()
            self.notify("Set %d started: %d reps to %d°." % (
                n, self.feed.target_reps, self.feed.target_depth_deg), title="Set %d" % n)

    def action_start_set(self):
        n = self.feed.start_set()
        self.notify("Set %d started." % n, title="Set %d" % n)

    def action_stop_set(self):
        if not self.feed.stop_set():
            self.notify("No set is running.", severity="warning")

    def action_calibrate(self):
        if not self.snapshot.has_data:
            self.notify("No data from the dowel yet: calibrate once it streams.",
                        title="Calibrate upright", severity="warning")
            return
        self.feed.calibrate_upright()
        self.notify("This pose is now 0°.", title="Upright calibrated")

    def action_zero(self):
        try:
            self.feed.zero_contacts()
        except ValueError as e:
            self.notify(str(e), title="Zero contacts", severity="error")
            return
        self.notify("Pad readings now count as no load.", title="Contacts zeroed")

    def action_depth(self, direction):
        deg = self.feed.set_target_depth(self.feed.target_depth_deg + DEPTH_STEP_DEG * direction)
        self.notify("Target depth %d°." % deg, title="Target", timeout=2)

    def action_reps(self, direction):
        n = self.feed.set_target_reps(self.feed.target_reps + direction)
        self.notify("%d reps per set." % n, title="Target", timeout=2)

    def action_targets(self):
        from .screens import TargetScreen

        def done(result):
            if result is not None:
                depth, reps = result
                self.feed.set_target_depth(depth)
                self.feed.set_target_reps(reps)

        self.push_screen(TargetScreen(self.feed.target_depth_deg, self.feed.target_reps), done)

    def action_cycle_feedback(self):
        new = next_schedule(self.feed.feedback.next_schedule)
        waits = self.feed.set_feedback_schedule(new)
        self.notify("%s: %s%s." % (new, DESCRIPTIONS[new], " (from the next set)" if waits else ""),
                    title="Feedback", timeout=4)

    def _open_sound(self, explicit):
        """Open the audio output; without one, say so in one line and keep sound off."""
        sink, notice = open_sink(voice=self.sound.voice)
        self.sound.sink = sink
        self.sound.enabled = sink is not None
        if notice is not None:
            self.notify(notice, title="Sound", timeout=6,
                        severity="warning" if explicit or sink is not None else "information")

    def action_toggle_sound(self):
        if self.sound.enabled:
            self.sound.enabled = False
        elif self.sound.sink is None:
            self._open_sound(explicit=True)
        else:
            self.sound.enabled = True
        if self.sound.enabled:
            self.notify("Tones on%s." % (" with the cues spoken" if self.sound.voice else ""),
                        title="Sound", timeout=3)
        elif self.sound.sink is not None:
            self.notify("Sound off.", title="Sound", timeout=3)

    def action_move(self, action):
        try:
            self.source.sim_action(action)
        except DowelError as e:
            self.notify(str(e), title=e.title, severity="error")

    # ------------------------------------------------------------------ store reads
    # The store may wait seconds for another program's lock: every store call of an action
    # runs on a worker thread, the screen stays live and shows that it is waiting.

    @work(thread=True, exit_on_error=False, group="store-read")
    def _store_call(self, what, key, call):
        try:
            result = call()
        except Exception as e:  # noqa: BLE001 - shown on screen, never dropped
            self.post_message(M.StoreRead(what, key, error=e))
            return
        self.post_message(M.StoreRead(what, key, result=result))

    def _busy_notice(self, what, text):
        """Say that a store call is waiting, if it has not answered within 0.3 s."""
        self._store_waiting[what] = True

        def still_waiting():
            if self._store_waiting.get(what):
                self.notify(text, title="Session store", timeout=3)
        self.set_timer(0.3, still_waiting)

    def action_patients(self):
        store = self.feed.store
        if store is None:
            self._show_patients([])
            return
        self._busy_notice("patients", "Reading the patient list… (the session store is busy)")
        self._store_call("patients", None, lambda: [p["name"] for p in store.patients()])

    def _show_patients(self, names):
        from .screens import PatientScreen

        def chosen(name):
            if name and name != self.feed.patient:
                self._busy_notice("set_patient", "Starting a session for %s… (the session "
                                  "store is busy)" % name)
                self._store_call("set_patient", name, lambda: self.feed.set_patient(name))

        self.push_screen(PatientScreen(names, self.feed.patient), chosen)

    def action_history(self):
        from .screens import HistoryScreen

        store = self.feed.store
        if store is None:
            self.notify("The session store is not open.", title="History", severity="error")
            return
        patient = self.feed.patient
        if not patient:
            self.notify("Choose a patient first (p).", title="History", severity="warning")
            return
        self.push_screen(HistoryScreen(patient))  # says it is reading until the answer comes
        self._store_call("history", patient, lambda: store.progress(patient))

    @on(M.StoreRead)
    async def _store_read(self, msg: M.StoreRead):
        from .screens import HistoryScreen

        self._store_waiting[msg.what] = False
        if not self.screen_stack:
            return  # the app is closing: nobody to show it to
        if msg.what == "history":
            screen = self.screen
            waiting = isinstance(screen, HistoryScreen) and screen.busy and screen.patient == msg.key
            if msg.error is not None:
                if waiting:
                    screen.dismiss(None)
                self.notify(str(msg.error), title=_title(msg.error), severity="error")
            elif waiting:
                await screen.show_progress(msg.result)
        elif msg.what == "patients":
            if msg.error is not None:
                self.notify(str(msg.error), title=_title(msg.error), severity="error")
            else:
                self._show_patients(msg.result)
        elif msg.what == "set_patient":
            if msg.error is not None:
                self.notify(str(msg.error), title=_title(msg.error), severity="error")
            else:
                self.notify("Now recording for %s." % msg.key, title="Patient")

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        yield SystemCommand("Start or stop a set", "s: start the next set, or stop this one",
                            self.action_toggle_set)
        yield SystemCommand("Calibrate upright", "c: the current pose becomes 0°",
                            self.action_calibrate)
        yield SystemCommand("Zero the contacts", "z: pads off the back count as no load",
                            self.action_zero)
        yield SystemCommand("Choose or add a patient", "p", self.action_patients)
        yield SystemCommand("Targets: depth and reps per set", "t", self.action_targets)
        yield SystemCommand("Target depth +5°", "+", lambda: self.action_depth(1))
        yield SystemCommand("Target depth -5°", "-", lambda: self.action_depth(-1))
        yield SystemCommand("Reps per set +1", "]", lambda: self.action_reps(1))
        yield SystemCommand("Reps per set -1", "[", lambda: self.action_reps(-1))
        yield SystemCommand("Patient history", "h: progress over sessions", self.action_history)
        yield SystemCommand("Feedback schedule", "f: every, faded, bandwidth, post-set",
                            self.action_cycle_feedback)
        yield SystemCommand("Sound on or off", "m: tones for contacts, reps and the set",
                            self.action_toggle_sound)
        yield SystemCommand("Keys", "?: every key of this screen", self.action_help)
        if self.source.simulated:
            for key, (action, text) in SIM_KEYS.items():
                yield SystemCommand("Patient: " + text, "%s (simulated dowel)" % key,
                                    lambda a=action: self.action_move(a))


def _covered_widgets(visible, widgets):
    """Which of `widgets` have another widget drawn over them (a notification, a tooltip)
    in the compositor's `visible` map (front first): those are painted Textual's way."""
    mine = set(widgets)
    covered = set()
    before = []
    for w, (region, clip) in visible.items():
        shown = region.intersection(clip)
        if w in mine and any(shown.overlaps(r) for r in before):
            covered.add(w)
        before.append(shown)
    return covered


def _title(error):
    return getattr(error, "title", None) or type(error).__name__


def _arg(args, name, default=None):
    return getattr(args, name, default) if args is not None else default


def make_app(args=None, *, source=None, store=None, open_store=True, sink=None):
    """The clinic app for parsed CLI args (demo or ui); tests pass a `source` (and a store,
    a sound sink). Without args (tests) sound is off unless a sink is given.

    demo (no `port` attribute) and `ui --simulate` use the simulated dowel; `ui --replay ID`
    plays a stored session; `ui [--port P]` opens a real dowel (auto-detected without --port).
    """
    if source is None:
        if _arg(args, "replay") is not None:
            source = ReplaySource(args.replay, speed=_arg(args, "speed", 1.0) or 1.0)
        elif _arg(args, "command") == "demo" or _arg(args, "simulate") or (
                args is not None and not hasattr(args, "port")):
            source = SimSource(_arg(args, "scenario", "mixed") or "mixed", _arg(args, "seed"))
        elif args is not None:
            source = LinkSource(_arg(args, "port"))
        else:
            source = IdleSource()
    sound = _arg(args, "sound") if args is not None else ("on" if sink is not None else "off")
    return DowelApp(source, patient=_arg(args, "patient"), store=store, open_store=open_store,
                    feedback=_arg(args, "feedback", EVERY) or EVERY, sound=sound,
                    voice=bool(_arg(args, "voice", False)), sink=sink)
