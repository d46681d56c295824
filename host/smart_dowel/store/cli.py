"""`dowel sessions list|show|export`: the session history on the command line."""

import json
import sys

from .db import Store
from .export import export_session


def fmt_duration(seconds):
    seconds = int(round(seconds or 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return "%d:%02d:%02d" % (h, m, s) if h else "%d:%02d" % (m, s)


def fmt_started(iso):
    """'2025-03-04 09:15' from the stored ISO 8601 time."""
    return (iso or "")[:16].replace("T", " ")


def fmt_num(v, fmt="%.1f", none="-"):
    return none if v is None else fmt % v


def run(args, out=None):
    out = out if out is not None else sys.stdout
    with Store.open(readonly=True) as store:
        action = args.sessions_command
        if action == "list":
            return list_sessions(store, args, out)
        if action == "show":
            return show_session(store, args.id, out)
        if action == "export":
            path = export_session(store, args.id, args.format, args.out, stdout=out,
                                  force=getattr(args, "force", False))
            if path is not None:
                print("exported session %d to %s" % (args.id, path), file=sys.stderr)
            return 0
    raise ValueError("unknown sessions action %r" % action)


def list_sessions(store, args, out):
    from .db import patient_from_args

    rows = store.list_sessions(patient=patient_from_args(args, store))
    if getattr(args, "json", False):
        json.dump(rows, out, indent=1)
        out.write("\n")
        return 0
    if not rows:
        print("no sessions stored yet in %s" % store.location, file=out)
        return 0
    header = ("ID", "Patient", "Started", "Length", "Sets", "Reps", "Faulty", "Depth")
    table = [header]
    for r in rows:
        table.append((
            str(r["id"]),
            r["patient"],
            fmt_started(r["started"]) + ("" if r["ended"] else " *"),
            fmt_duration(r["duration_s"]),
            str(r["set_count"]),
            str(r["rep_count"]),
            str(r["faulty_reps"]),
            fmt_num(r["mean_depth_deg"], "%.0f°"),
        ))
    _print_table(table, out, right=(0, 3, 4, 5, 6, 7))
    if any(not r["ended"] for r in rows):
        print("* not closed: still recording, or the program stopped without ending it", file=out)
    return 0


def lost_line(s):
    """'12 frames (3 gaps, 1 with frames lost unknown)' for a session dict."""
    lost = s.get("lost_frames")
    unknown = sum(1 for g in s.get("gaps", []) if g["lost_frames"] is None)
    if lost is None:
        text = "not counted"
    else:
        text = "%d frame%s" % (lost, "" if lost == 1 else "s")
    if unknown:
        text += ", and unknown in %d gap%s (the dowel restarted)" % (
            unknown, "" if unknown == 1 else "s")
    return text


def _print_table(rows, out, right=()):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [
            str(c).rjust(widths[i]) if i in right else str(c).ljust(widths[i])
            for i, c in enumerate(r)
        ]
        print("  ".join(cells).rstrip(), file=out)


def show_session(store, session_id, out):
    s = store.session(session_id)
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p("Session %d: %s" % (s["id"], s["patient"]))
    p("  started   %s" % fmt_started(s["started"]))
    p("  ended     %s" % (fmt_started(s["ended"]) if s["ended"] else "not closed"))
    p("  length    %s, %d samples" % (fmt_duration(s["duration_s"]), s["sample_count"]))
    dev = s["device"] or {}
    if dev:
        p("  dowel     %s" % ", ".join("%s %s" % (k, dev[k]) for k in sorted(dev)))
    if s["port"]:
        p("  port      %s" % s["port"])
    if s["pipeline_version"]:
        p("  pipeline  %s" % s["pipeline_version"])
    p("  reps      %d in %d set(s), %d with a fault" % (s["rep_count"], s["set_count"], s["faulty_reps"]))
    p("  lost      %s" % lost_line(s))
    if s["gaps"]:
        for g in s["gaps"]:
            lost = ("frames lost unknown" if g["lost_frames"] is None
                    else "%d frames lost" % g["lost_frames"])
            p("  gap       %.1f s to %s s (%s) %s" % (
                g["start_s"], fmt_num(g["end_s"]), lost, g["reason"]))
    for e in s.get("events", []):
        who = "dowel" if e["source"] == "dowel" else "warning"
        p("  %-9s %.1f s %s%s" % (who, e["t_s"],
                                  "%s: " % e["level"] if e["source"] == "dowel" else "",
                                  e["message"]))
    groups = [(st["number"], st) for st in s["sets"]]
    loose = [r for r in s["reps"] if r["set"] is None]
    if loose:
        groups.append((None, {"reps": loose, "target_depth_deg": None, "target_reps": None}))
    for number, st in groups:
        p("")
        title = "Set %d" % number if number is not None else "Reps outside a set"
        targets = []
        if st.get("target_depth_deg") is not None:
            targets.append("target depth %.0f°" % st["target_depth_deg"])
        if st.get("target_reps") is not None:
            targets.append("target %d reps" % st["target_reps"])
        p(title + (" (%s)" % ", ".join(targets) if targets else ""))
        table = [("Rep", "Start", "Depth", "Down", "Up", "Faults")]
        for r in st["reps"]:
            table.append((
                str(r["number"]),
                fmt_num(r["start_s"], "%.1f s"),
                fmt_num(r["depth_deg"], "%.0f°"),
                fmt_num(r["descent_s"], "%.1f s"),
                fmt_num(r["ascent_s"], "%.1f s"),
                ", ".join(f["id"] for f in r["faults"]) or "-",
            ))
        if len(table) == 1:
            p("  no reps")
        else:
            _print_table(table, out, right=(0, 1, 2, 3, 4))
    return 0
