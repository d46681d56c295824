"""The clinic screen's dialogs: keys, patient choice, targets, and a patient's history."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    DataTable,
    Input,
    Label,
    LoadingIndicator,
    OptionList,
    Sparkline,
    Static,
)

from .feed import MAX_TARGET_DEPTH_DEG, MAX_TARGET_REPS, MIN_TARGET_DEPTH_DEG
from .state import FAULT_SHORT


class HelpScreen(ModalScreen):
    """Every key of the clinic screen (escape, q or ? closes it)."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def __init__(self, keys):
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box", classes="dialog"):
            yield Label("Keys", classes="dialog-title")
            table = DataTable(id="help-keys", cursor_type="none", show_header=False)
            yield table
            yield Label("escape closes this help", classes="dialog-hint")

    def on_mount(self):
        table = self.query_one(DataTable)
        table.add_column("Key", width=10)
        table.add_column("What it does")
        for key, text in self.keys:
            table.add_row(key, text)

    def action_dismiss(self):
        self.dismiss(None)


class PatientScreen(ModalScreen):
    """Choose a stored patient or type a new name; dismisses with the name (None: cancel)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, names, current=""):
        super().__init__()
        self.names = list(names)
        self.current = current or ""

    def compose(self) -> ComposeResult:
        with Vertical(id="patient-box", classes="dialog"):
            yield Label("Patient", classes="dialog-title")
            yield Label("Current: %s" % (self.current or "none"), id="patient-current")
            yield OptionList(*self.names, id="patient-list")
            yield Input(placeholder="New patient: type a name, press enter", id="patient-new")
            yield Label("enter chooses · escape cancels", classes="dialog-hint")

    def on_mount(self):
        if self.names:
            self.query_one(OptionList).focus()
        else:
            self.query_one(Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected):
        self.dismiss(self.names[event.option_index])

    def on_input_submitted(self, event: Input.Submitted):
        name = " ".join(event.value.split())
        if not name:
            self.notify("Type the patient's name first.", severity="warning")
            return
        self.dismiss(name)

    def action_cancel(self):
        self.dismiss(None)


class TargetScreen(ModalScreen):
    """Target depth (degrees) and reps per set; dismisses with (depth, reps) or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, depth_deg, reps):
        super().__init__()
        self.depth_deg = depth_deg
        self.reps = reps

    def compose(self) -> ComposeResult:
        with Vertical(id="target-box", classes="dialog"):
            yield Label("Targets", classes="dialog-title")
            yield Label("Target depth, degrees (%d-%d)" % (MIN_TARGET_DEPTH_DEG,
                                                          MAX_TARGET_DEPTH_DEG))
            yield Input(str(int(self.depth_deg)), id="target-depth", type="integer")
            yield Label("Reps per set (1-%d)" % MAX_TARGET_REPS)
            yield Input(str(self.reps), id="target-reps", type="integer")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="target-ok", variant="primary")
                yield Button("Cancel", id="target-cancel")

    def _result(self):
        depth = self.query_one("#target-depth", Input).value.strip()
        reps = self.query_one("#target-reps", Input).value.strip()
        if not depth.isdigit() or not reps.isdigit():
            self.notify("Both targets must be whole numbers.", severity="error",
                        title="Targets")
            return None
        return float(depth), int(reps)

    def on_input_submitted(self, event):
        result = self._result()
        if result is not None:
            self.dismiss(result)

    def on_button_pressed(self, event: Button.Pressed):
        if event.button.id == "target-ok":
            result = self._result()
            if result is not None:
                self.dismiss(result)
        else:
            self.dismiss(None)

    def action_cancel(self):
        self.dismiss(None)


class HistoryScreen(ModalScreen):
    """A patient's progress over sessions: reps, mean depth and the share of faulty reps.

    Opened with progress=None it shows that the history is being read (the store is read on
    a worker thread, which may wait for another program's lock); show_progress() fills it.
    """

    BINDINGS = [Binding("escape,q,h", "close", "Close")]

    def __init__(self, patient, progress=None):
        super().__init__()
        self.patient = patient
        self.progress = None if progress is None else list(progress)
        self._shown = progress is not None

    @property
    def busy(self):
        """True until the history is on screen."""
        return not self._shown

    async def show_progress(self, progress):
        self.progress = list(progress)
        await self.recompose()
        self._fill_table()
        self._shown = True

    def compose(self) -> ComposeResult:
        with Vertical(id="history-box", classes="dialog"):
            yield Label("History · %s" % self.patient, classes="dialog-title")
            if self.progress is None:
                yield Static("Reading the history of %s… (the session store is busy; escape "
                             "closes)" % self.patient, id="history-busy")
                yield LoadingIndicator(id="history-loading")
                yield Label("escape closes", classes="dialog-hint")
                return
            with_reps = [p for p in self.progress if p["rep_count"]]
            if with_reps:
                yield Label("Mean depth per session (°)", classes="history-label")
                yield Sparkline([p["mean_depth_deg"] or 0.0 for p in with_reps],
                                id="history-depth")
                yield Label("Reps with a fault per session (%)", classes="history-label")
                yield Sparkline([100.0 * (p["fault_rate"] or 0.0) for p in with_reps],
                                id="history-faults")
            else:
                yield Static("No reps stored for %s yet." % self.patient, id="history-empty")
            with VerticalScroll():
                yield DataTable(id="history-table", cursor_type="row")
            yield Label("escape closes", classes="dialog-hint")

    def on_mount(self):
        self._fill_table()

    def _fill_table(self):
        if self.progress is None:
            return
        table = self.query_one("#history-table", DataTable)
        if table.columns:
            return
        for col in ("Session", "Started", "Reps", "Depth °", "Faulty %", "Most common fault",
                    "With feedback", "Without feedback"):
            table.add_column(col)
        for p in self.progress:
            counts = p.get("fault_counts") or {}
            common = max(counts, key=counts.get) if counts else ""
            table.add_row(
                str(p["id"]),
                str(p["started"])[:16].replace("T", " "),
                str(p["rep_count"]),
                "" if p["mean_depth_deg"] is None else "%.0f" % p["mean_depth_deg"],
                "" if p["fault_rate"] is None else "%.0f" % (100 * p["fault_rate"]),
                FAULT_SHORT.get(common, common),
                feedback_cell(p.get("with_feedback")),
                feedback_cell(p.get("without_feedback")),
            )

    def action_close(self):
        self.dismiss(None)


def feedback_cell(part):
    """"8 reps · 25% faulty · 52°" for the reps with (or without) live feedback; "" if none."""
    if not part:
        return ""
    depth = "" if part["mean_depth_deg"] is None else " · %.0f°" % part["mean_depth_deg"]
    return "%d reps · %.0f%% faulty%s" % (part["rep_count"], 100 * part["fault_rate"], depth)
