"""Entry points of `dowel demo` and `dowel ui`: build the app, run it, return the exit code."""

from .app import make_app


def _resolve_patient(args):
    """--patient-id N becomes the patient's name before the screen starts (a clear error on
    the command line, not on the screen, if there is no such patient)."""
    if getattr(args, "patient_id", None) is not None:
        from ..store import patient_from_args

        args.patient = patient_from_args(args)


def run_demo(args):
    """The clinic screen on the built-in simulated dowel (a real pty, opened like hardware)."""
    _resolve_patient(args)
    app = make_app(args)
    app.run()
    return app.return_code or 0


def run_ui(args):
    """The clinic screen on a dowel (--port, or auto-detected), the simulator, or a replay."""
    _resolve_patient(args)
    app = make_app(args)
    app.run()
    return app.return_code or 0
