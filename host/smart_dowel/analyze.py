"""`dowel analyze FILE [--json]`: the signal pipeline over a recording, a CSV file or a stored
session, printing the reps as a table or as product.md's JSON.
"""

import importlib
import json
import os
import sys

from .csvfile import looks_like_csv, read_csv
from .errors import InputFileError
from .pipeline import Calibration, analyze
from .recording import MAGIC, is_recording, read_recording

SESSION_PREFIX = "session:"
# Hook for stored sessions: the store provides this function,
#   load_for_analysis(session_id: int) -> (Samples, Calibration | dict | None, source: dict)
# raising InputFileError (or StoreError) when the session cannot be read.
SESSION_LOADER = "smart_dowel.store.analysis:load_for_analysis"


def load_input(spec):
    """(Samples, Calibration or None, source dict) for a file path or `session:ID`."""
    if spec.startswith(SESSION_PREFIX):
        return _load_session(spec[len(SESSION_PREFIX):])
    if not os.path.exists(spec):
        raise InputFileError("%s: no such file" % spec)
    if os.path.isdir(spec):
        raise InputFileError("%s: is a directory, expected a recording or a CSV file" % spec)
    try:
        with open(spec, "rb") as f:
            head = f.read(len(MAGIC) + 4096)
    except OSError as e:
        raise InputFileError("%s: cannot open (%s)" % (spec, e.strerror or e)) from e
    if is_recording(head):
        meta, samples, counters = read_recording(spec)
        cal = Calibration.from_dict(meta.get("calibration"))
        source = {"kind": "recording", "path": spec, "device": meta.get("device"),
                  "decoder": counters}
        return samples, cal, source
    if not looks_like_csv(head):
        raise InputFileError("%s, line 1: neither a smart-dowel recording nor a text CSV file" % spec)
    return read_csv(spec), None, {"kind": "csv", "path": spec}


def _load_session(ref):
    try:
        session_id = int(ref)
    except ValueError:
        raise InputFileError("session:%s: a session is named by its number, e.g. session:12"
                             % ref) from None
    module_name, func_name = SESSION_LOADER.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        raise InputFileError("session:%d: analysing stored sessions is not available in this "
                             "build (no %s)" % (session_id, module_name)) from e
    samples, cal, source = getattr(module, func_name)(session_id)
    if isinstance(cal, dict):
        cal = Calibration.from_dict(cal)
    return samples, cal, dict(source or {}, kind="session", session_id=session_id)


def format_table(name, result):
    """The human-readable report of an Analysis."""
    s = result.samples
    lines = ["%s: %d rep%s in %.1f s at %.0f Hz (gyroscope: %s, contacts: %s)" % (
        name, result.rep_count, "" if result.rep_count == 1 else "s", result.duration_s,
        result.sample_rate_hz, "yes" if s.has_gyro else "no", "yes" if s.has_force else "no")]
    if result.reps:
        lines.append("  rep   start  bottom     end    depth  descent   ascent  faults")
        for r in result.reps:
            lines.append("  %3d %7.2f %7.2f %7.2f %6.1f deg %6.2f s %6.2f s  %s" % (
                r.index, r.start_s, r.bottom_s, r.end_s, r.depth_deg, r.descent_s, r.ascent_s,
                ", ".join(r.fault_ids) or "-"))
        counts = {k: v for k, v in result.fault_counts().items() if v}
        if counts:
            lines.append("faults: " + ", ".join("%s x%d" % kv for kv in counts.items()))
    return "\n".join(lines)


def run(args):
    """Entry point of `dowel analyze`; returns the exit code (errors raise InputFileError)."""
    samples, cal, source = load_input(args.file)
    if len(samples) == 0:
        raise InputFileError("%s: no samples to analyse" % args.file)
    result = analyze(samples, calibration=cal, source=source)
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_table(args.file, result))
    return 0
