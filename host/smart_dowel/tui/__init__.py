"""The clinic TUI (Textual): `dowel demo` and `dowel ui`. make_app(args) builds the app for
the CLI and the tests; launch.run_demo / launch.run_ui are the CLI entry points."""

import os

# Textual composes a dirty screen on a 60 Hz timer: up to 17 ms between a change and the
# terminal. At 120 Hz that wait halves for what the app does not write itself (a layout, a
# dialog, a notification); the live picture is written at once by the app, at most 25 times
# a second (see app.py), and this only takes effect if Textual is not imported yet.
os.environ.setdefault("TEXTUAL_FPS", "120")


def make_app(args=None, **kw):
    """See smart_dowel.tui.app.make_app (imported lazily: Textual loads only when used)."""
    from .app import make_app as _make_app

    return _make_app(args, **kw)
