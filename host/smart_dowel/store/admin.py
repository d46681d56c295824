"""`dowel db upgrade` and `dowel db copy`: creating or upgrading a store's schema, and moving
session histories between stores (a PC's SQLite file and the clinic's server) idempotently."""

import sys

from ..errors import StoreError
from . import db
from .schema import SCHEMA_VERSION


def run(args, out=None, err=None):
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if args.db_command == "upgrade":
        return upgrade(args, out)
    if args.db_command == "copy":
        return copy(args.from_url, args.to_url, out, err)
    raise ValueError("unknown db action %r" % args.db_command)


def upgrade(args, out):
    with db.Store.open(upgrade=True) as store:
        before = store.upgraded_from
        if before == SCHEMA_VERSION:
            print("%s: schema version %d, up to date" % (store.location, SCHEMA_VERSION), file=out)
        else:
            print("%s: schema %s version %d" % (
                store.location, "created at" if before == 0 else "upgraded from version %d to"
                % before, SCHEMA_VERSION), file=out)
    return 0


class Progress:
    """A one-line progress bar on a terminal; on anything else, nothing until the summary."""

    WIDTH = 30

    def __init__(self, total, stream):
        self.total, self.stream = total, stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def show(self, done, note=""):
        if not self.tty:
            return
        frac = done / self.total if self.total else 1.0
        bar = "#" * int(frac * self.WIDTH)
        self.stream.write("\r[%-*s] %d/%d sessions %s\033[K" % (self.WIDTH, bar, done,
                                                               self.total, note))
        self.stream.flush()

    def end(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def copy(from_url, to_url, out, err):
    """Copy every session of one store into another; what is there already is not copied
    again (sessions are matched by UUID, patients by their name key)."""
    with db.Store.open(url=from_url, readonly=True) as src:
        if not src.exists:
            raise StoreError("%s does not exist: nothing to copy" % src.location)
        with db.Store.open(url=to_url) as dst:
            if src.location == dst.location:
                raise StoreError("--from and --to name the same store (%s)" % src.location)
            sessions = db.session_uuids(src)
            counts = {"copied": 0, "present": 0, "updated": 0}
            bar = Progress(len(sessions), err)
            bar.show(0)
            for i, (sid, _uuid, _ended) in enumerate(sessions, 1):
                counts[db.copy_session_rows(dst, db.session_rows(src, sid))] += 1
                bar.show(i, "(session %d)" % sid)
            bar.end()
            unfinished = sum(1 for s in sessions if s[2] is None)
    print("%d session%s copied from %s to %s, %d already there%s%s" % (
        counts["copied"], "" if counts["copied"] == 1 else "s", src.location, dst.location,
        counts["present"],
        ", %d unfinished copies brought up to date" % counts["updated"] if counts["updated"] else "",
        "; %d not closed (still recording, or the program stopped without ending it): copied "
        "as they stand, and brought up to date by the next copy" % unfinished if unfinished
        else ""), file=out)
    return 0
