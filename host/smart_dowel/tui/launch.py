"""Entry points of `dowel demo` and `dowel ui`: build the app, run it, return the exit code."""

from .app import make_app


def run_demo(args):
    """The clinic screen on the built-in simulated dowel (a real pty, opened like hardware)."""
    app = make_app(args)
    app.run()
    return app.return_code or 0


def run_ui(args):
    """The clinic screen on a dowel (--port, or auto-detected), the simulator, or a replay."""
    app = make_app(args)
    app.run()
    return app.return_code or 0
