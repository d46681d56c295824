"""The session store: patients, sessions, sets, reps, faults, reconnect gaps and every raw
sample, written safely while a session runs; one SQLite database per user by default, or the
clinic's PostgreSQL server (DOWEL_DATABASE_URL; store.postgres), behind the same interface.

Durability: WAL journal, synchronous=FULL, and a writer thread that commits whatever arrived
every `flush_interval_s` (0.5 s), so a crash loses at most that much. FULL (an fsync per
commit, two a second) rather than NORMAL: NORMAL already survives a kill -9 in WAL mode, but
a clinic laptop can also lose power, and two fsyncs a second cost nothing next to patient data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import math
import os
import sqlite3
import threading
import stat
import re
import time
import unicodedata
import urllib.parse
import uuid
import weakref
import zlib
from pathlib import Path

import numpy as np

from ..errors import StoreError
from . import paths
from . import samples as S
from .schema import MIGRATIONS, SCHEMA_VERSION, patient_key

ENV_DATABASE_URL = "DOWEL_DATABASE_URL"

FLUSH_INTERVAL_S = 0.5
MAX_BLOCK_SAMPLES = 2000
# Samples held in memory while the database cannot be written (a server restarting, a full
# disk): 10 minutes at 100 Hz, 17 MB. Past it, samples are not saved until the store is back
# (reps, sets and gaps still are), the writer says so once, and the stretch is stored as a gap.
MAX_BUFFERED_SAMPLES = 60_000
UNASSIGNED_PATIENT = "Unassigned"
MAX_PATIENT_NAME = 120
SIDE_FILES = ("-wal", "-shm", "-journal")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
REP_FIELDS = ("start_s", "bottom_s", "end_s", "depth_deg", "descent_s", "ascent_s")


def now_iso():
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def describe_sqlite_error(e, path, action):
    """One clear sentence for an sqlite3 error, naming the database and what to do."""
    name = getattr(e, "sqlite_errorname", "") or ""
    text = str(e)
    if name.startswith("SQLITE_FULL") or "full" in text:
        return (
            "the disk holding %s is full, so %s failed; free some disk space "
            "(nothing already saved was lost)" % (path, action)
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")) or "readonly" in text:
        return (
            "%s cannot be written (%s), so %s failed; check that its directory is writable, "
            "or set %s to a writable directory" % (path, text, action, paths.ENV_DATA_DIR)
        )
    if name.startswith("SQLITE_CANTOPEN"):
        return (
            "%s cannot be opened (%s); check that its directory exists and is writable, "
            "or set %s to another directory" % (path, text, paths.ENV_DATA_DIR)
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return (
            "%s is damaged or is not a smart-dowel database (%s); it was left untouched: "
            "keep a copy for recovery and move it aside to start a new one" % (path, text)
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return (
            "%s is busy (another dowel program is writing to it), so %s failed; "
            "try again in a moment" % (path, action)
        )
    if name.startswith("SQLITE_IOERR"):
        return "a disk error occurred while %s in %s (%s)" % (action, path, text)
    return "%s failed on %s: %s" % (action, path, text)


def _num(v):
    """A JSON/SQLite-friendly float (or None) from numpy or Python numbers."""
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def _as_dict(obj):
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return dict(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if hasattr(obj, "_asdict"):
        return dict(obj._asdict())
    if hasattr(obj, "__dict__"):
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    if hasattr(obj, "__slots__"):
        return {k: getattr(obj, k) for k in obj.__slots__ if hasattr(obj, k)}
    raise TypeError("cannot store %r" % type(obj).__name__)


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if dataclasses.is_dataclass(v) or hasattr(v, "__dict__") or hasattr(v, "_asdict"):
        return _jsonable(_as_dict(v))
    return str(v)


def normalise_rep(rep):
    """A rep from the pipeline (dict, dataclass or object) as a plain dict with a fault list.

    Faults may be identifiers or records {id, phase, start_s, duration_s, cue}.
    """
    d = _as_dict(rep)
    faults = []
    for f in d.pop("faults", None) or []:
        if isinstance(f, str):
            faults.append({"id": f, "phase": None, "start_s": None, "duration_s": None, "cue": ""})
            continue
        fd = _as_dict(f)
        fid = fd.get("id") or fd.get("fault") or fd.get("kind")
        if not fid:
            raise ValueError("a fault without an id: %r" % (f,))
        faults.append(
            {
                "id": str(fid),
                "phase": None if fd.get("phase") is None else str(fd.get("phase")),
                "start_s": _num(fd.get("start_s")),
                "duration_s": _num(fd.get("duration_s")),
                "cue": str(fd.get("cue") or ""),
            }
        )
    out = {k: _num(d.pop(k, None)) for k in REP_FIELDS}
    if out["start_s"] is None:
        raise ValueError("a rep needs start_s")
    d.pop("index", None)
    d.pop("number", None)
    out["faults"] = faults
    out["extra"] = _jsonable(d)
    return out


class Store:
    """The session database. Open with Store.open(); safe to share between threads."""

    def __init__(self, conn, path, readonly=False, dialect=None):
        self._conn = conn
        self.dialect = dialect or SQLITE
        self.path = None if path is None else Path(path)  # None: a database server
        # where the sessions are, for messages: the file, or the server's URL without password
        self.location = str(path) if path is not None else conn.location
        self.readonly = readonly
        self.exists = True  # False: a read-only open of a database not created yet
        self.upgraded_from = SCHEMA_VERSION  # the schema version it had when opened
        self.warnings = []  # what Store.open found worth saying (printed once on stderr)
        self._lock = threading.RLock()
        self._closed = False
        self._writers = weakref.WeakSet()  # open SessionWriters, closed with the store

    # --- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, directory=None, *, path=None, readonly=False, url=None, upgrade=False):
        """Open (creating and migrating as needed) the database in the data directory, or the
        one that `url` or DOWEL_DATABASE_URL names when no directory or path is given
        (postgresql://... a server, sqlite:///PATH a file).

        readonly: create nothing (a missing database reads as an empty one), write nothing;
        works on a read-only directory or medium. Raises StoreError, leaving the file
        untouched, for a damaged database, one written by a newer version of smart-dowel, a
        database that is a symbolic link, or a directory that cannot be used.
        A server's schema is created or upgraded only with upgrade=True (`dowel db upgrade`):
        a server that is not at this program's version is refused with a clear error.
        """
        if directory is None and path is None:
            url = url if url is not None else os.environ.get(ENV_DATABASE_URL) or None
            if url is not None:
                kind, target = parse_database_url(url)
                if kind == "postgresql":
                    return cls._open_server(target, readonly=readonly, upgrade=upgrade)
                path = target
        warnings = []
        if path is None:
            directory, warnings = paths.check_data_dir(
                directory if directory is not None else paths.data_dir(), create=not readonly
            )
            path = paths.db_path(directory)
        path = Path(path)
        exists = _check_db_file(path, warnings)
        for w in warnings:
            paths.warn_once(w)
        if readonly:
            if not exists:
                conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                _migrate(conn, 0)
                store = cls(conn, path, readonly=True)
                store.exists = False
                store.upgraded_from = 0
                store.warnings = warnings
                return store
            conn = _connect_readonly(path)
        else:
            if not exists:
                # create it 0600 before SQLite touches it; SQLite gives -wal and -shm its mode
                try:
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW,
                                     paths.FILE_MODE))
                except OSError as e:
                    raise StoreError(
                        "cannot create the session database %s (%s); check that the directory "
                        "is writable, or set %s to a writable directory"
                        % (path, e.strerror or e, paths.ENV_DATA_DIR)
                    ) from e
            else:
                _check_writable(path)
            try:
                conn = sqlite3.connect(
                    str(path), isolation_level=None, check_same_thread=False, timeout=10.0
                )
            except sqlite3.Error as e:
                raise StoreError(describe_sqlite_error(e, path, "opening it")) from e
        try:
            version = _read_version(conn, path)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    "%s was written by a newer version of smart-dowel (database version %d, this "
                    "program knows up to %d); it was left untouched: update smart-dowel to open it"
                    % (path, version, SCHEMA_VERSION)
                )
            if readonly:
                if version < SCHEMA_VERSION:
                    conn.close()
                    return cls._upgrade_then_read(path, version)
            else:
                try:
                    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                    conn.execute("PRAGMA synchronous=FULL")
                    conn.execute("PRAGMA foreign_keys=ON")
                    if str(mode).lower() != "wal":
                        raise StoreError(
                            "%s cannot use write-ahead logging (journal mode %s); put the data "
                            "directory on a local disk" % (path, mode)
                        )
                    _migrate(conn, version)
                except sqlite3.Error as e:
                    raise StoreError(describe_sqlite_error(e, path, "preparing it")) from e
        except BaseException:
            conn.close()
            raise
        store = cls(conn, path, readonly=readonly)
        store.warnings = warnings
        store.upgraded_from = version
        return store

    @classmethod
    def _open_server(cls, url, readonly=False, upgrade=False):
        from . import postgres

        conn = postgres.Connection(url)
        dialect = postgres.Dialect()
        try:
            try:
                version = before = dialect.read_version(conn)
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        "%s holds a newer smart-dowel schema (version %d, this program knows up "
                        "to %d); it was left untouched: update smart-dowel on this PC"
                        % (conn.location, version, SCHEMA_VERSION))
                if upgrade and not readonly:
                    version = _migrate(conn, version, dialect=dialect)
            except dialect.errors as e:
                raise StoreError(dialect.describe(e, conn.location, "opening it")) from e
            if version == 0:
                raise StoreError("%s has no smart-dowel tables yet; create them once with "
                                 "`dowel db upgrade` (as the role that owns the database)"
                                 % conn.location)
            if version < SCHEMA_VERSION:
                raise StoreError(
                    "%s holds an older smart-dowel schema (version %d, this program needs %d); "
                    "upgrade it with `dowel db upgrade` (a server is never upgraded behind the "
                    "clinic's back)" % (conn.location, version, SCHEMA_VERSION))
        except BaseException:
            conn.close()
            raise
        store = cls(conn, None, readonly=readonly, dialect=dialect)
        store.upgraded_from = before
        return store

    @classmethod
    def _upgrade_then_read(cls, path, version):
        """A read of a database from an older version: it is upgraded first (the one write a
        read may make), then read; on read-only media that is a clear error instead."""
        try:
            store = cls.open(path=path)
        except StoreError as e:
            raise StoreError(
                "%s is from an older version of smart-dowel (database version %d) and must be "
                "upgraded before it can be read, which failed: %s" % (path, version, e)) from e
        store.readonly = True
        return store

    @property
    def connection(self):
        """The sqlite3 connection, or a postgres.Connection (for tests and maintenance); hold
        `lock` while using it."""
        return self._conn

    @property
    def lock(self):
        return self._lock

    def close(self):
        """Close open sessions (committing what they hold), then the database. A session that
        cannot be saved raises StoreError and the database stays open for a retry."""
        for writer in list(self._writers):
            writer.close()
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _live_connection(self):
        """The connection; one to a server that was lost is made again first (StoreError
        while the server cannot be reached)."""
        if self._closed:
            raise StoreError("the session store is closed")
        if hasattr(self._conn, "ensure_alive"):
            self._conn.ensure_alive()
        return self._conn

    def _failed(self, e, action):
        """The StoreError for a database error (the connection, if lost, is made again on the
        next use)."""
        return StoreError(self.dialect.describe(e, self.location, action))

    @contextlib.contextmanager
    def _read(self, action):
        with self._lock:
            conn = self._live_connection()
            try:
                yield conn
            except self.dialect.errors as e:
                raise self._failed(e, action) from e

    @contextlib.contextmanager
    def _write(self, action):
        """One transaction: committed on success, rolled back (and StoreError) on failure."""
        with self._lock:
            if self._closed:
                raise StoreError("the session store is closed")
            if self.readonly:
                raise StoreError("%s is open read-only, so %s is not possible here"
                                 % (self.location, action))
            conn = self._live_connection()
            try:
                conn.execute(self.dialect.begin_write)
                yield conn
                conn.execute("COMMIT")
            except self.dialect.errors as e:
                _rollback(conn, self.dialect)
                raise self._failed(e, action) from e
            except BaseException:
                _rollback(conn, self.dialect)
                raise

    def integrity_check(self):
        """'ok', or the database's description of what is damaged."""
        with self._read("checking it") as conn:
            return self.dialect.integrity_check(conn)

    # --- patients ----------------------------------------------------------------------------

    def patient_id(self, name, create=True):
        """The id of the patient with this name (created if missing and create is true)."""
        name = clean_patient_name(name)
        with self._read("looking up a patient") as conn:
            row = _find_patient(conn, name)
        if row is not None:
            return row[0]
        if not create:
            raise StoreError("no patient named %r in %s" % (name, self.location))
        with self._write("adding a patient") as conn:
            # the unique name key decides: a PC adding the same patient at the same moment
            # makes this insert do nothing, and both find the one row (no conflict target:
            # the same spelling also meets the older unique index on the name itself, and a
            # server reports whichever of the two it meets first)
            conn.execute(
                "INSERT INTO patients (name, name_key, created) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING", (name, patient_key(name), now_iso()))
            return _find_patient(conn, name)[0]

    def patient_name(self, patient_id):
        """The stored name of patient number `patient_id`; StoreError if there is none."""
        with self._read("looking up a patient") as conn:
            row = conn.execute("SELECT name FROM patients WHERE id = ?",
                               (int(patient_id),)).fetchone()
        if row is None:
            raise StoreError("there is no patient number %d in %s (`dowel sessions list --json` "
                             "shows each session's patient_id)" % (patient_id, self.location))
        return row[0]

    def _stored_name(self, conn, patient):
        """The name as stored of the patient matching `patient` (NFC, case-insensitive), or
        the cleaned name itself when there is no such patient (a query then finds nothing)."""
        name = clean_patient_name(patient)
        row = _find_patient(conn, name)
        return row[1] if row is not None else name

    def patients(self):
        """Every patient with their session count and latest session, by name."""
        with self._read("listing patients") as conn:
            rows = conn.execute(
                "SELECT p.id, p.name, p.created, COUNT(s.id), MAX(s.started) "
                "FROM patients p LEFT JOIN sessions s ON s.patient_id = p.id "
                "GROUP BY p.id, p.name, p.created ORDER BY lower(p.name), p.id"
            ).fetchall()
        return [
            {"id": r[0], "name": r[1], "created": r[2], "session_count": r[3], "last_session": r[4]}
            for r in rows
        ]

    # --- writing a session -------------------------------------------------------------------

    def start_session(
        self,
        patient,
        device_info=None,
        *,
        source="dowel",
        port=None,
        calibration=None,
        pipeline_version="",
        flush_interval_s=FLUSH_INTERVAL_S,
        on_error=None,
    ):
        """Create a session for a patient (by name) and return its SessionWriter.

        device_info: the link's DeviceInfo (or a dict); calibration: anything JSON-able.
        on_error(StoreError) is called from the writer thread when a write fails.
        """
        pid = self.patient_id(patient if patient is not None else UNASSIGNED_PATIENT)
        device = _jsonable(_as_dict(device_info))
        with self._write("starting a session") as conn:
            cur = conn.execute(
                "INSERT INTO sessions (uuid, patient_id, started, source, port, device_json, "
                "calibration_json, pipeline_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING id",
                (
                    str(uuid.uuid4()),
                    pid,
                    now_iso(),
                    str(source),
                    port,
                    json.dumps(device, sort_keys=True),
                    json.dumps(_jsonable(calibration or {}), sort_keys=True),
                    str(pipeline_version or ""),
                ),
            )
            sid = cur.fetchone()[0]
        writer = SessionWriter(self, sid, flush_interval_s=flush_interval_s, on_error=on_error)
        self._writers.add(writer)
        return writer

    def set_calibration(self, session_id, calibration):
        with self._write("saving the calibration") as conn:
            conn.execute(
                "UPDATE sessions SET calibration_json = ? WHERE id = ?",
                (json.dumps(_jsonable(calibration or {}), sort_keys=True), int(session_id)),
            )

    # --- reading -----------------------------------------------------------------------------

    def list_sessions(self, patient=None, session_id=None):
        """Sessions, newest first: id, patient, started, ended, duration_s, sets, rep_count,
        fault_count, faulty_reps, mean_depth_deg, samples, gaps, lost_frames, source."""
        sql = (
            "SELECT s.id, p.name, s.started, s.ended, s.source, "
            " (SELECT COUNT(*) FROM sets WHERE session_id = s.id), "
            " (SELECT COUNT(*) FROM reps WHERE session_id = s.id), "
            " (SELECT COUNT(*) FROM faults f JOIN reps r ON f.rep_id = r.id WHERE r.session_id = s.id), "
            " (SELECT COUNT(DISTINCT f.rep_id) FROM faults f JOIN reps r ON f.rep_id = r.id "
            "   WHERE r.session_id = s.id), "
            " (SELECT AVG(depth_deg) FROM reps WHERE session_id = s.id), "
            " (SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM sample_blocks WHERE session_id = s.id), "
            " (SELECT MAX(t1_s) FROM sample_blocks WHERE session_id = s.id), "
            " (SELECT COUNT(*) FROM gaps WHERE session_id = s.id), s.patient_id, "
            " s.lost_frames "
            "FROM sessions s JOIN patients p ON p.id = s.patient_id "
        )
        where, args = [], []
        if patient is not None:
            where.append("p.name = ?")
            with self._read("looking up a patient") as conn:
                args.append(self._stored_name(conn, patient))
        if session_id is not None:
            where.append("s.id = ?")
            args.append(int(session_id))
        if where:
            sql += "WHERE " + " AND ".join(where) + " "
        sql += "ORDER BY s.started DESC, s.id DESC"
        with self._read("listing sessions") as conn:
            rows = conn.execute(sql, args).fetchall()
        return [
            {
                "id": r[0],
                "patient": r[1],
                "started": r[2],
                "ended": r[3],
                "source": r[4],
                "set_count": r[5],
                "rep_count": r[6],
                "fault_count": r[7],
                "faulty_reps": r[8],
                "mean_depth_deg": r[9],
                "sample_count": r[10],
                "duration_s": r[11] or 0.0,
                "gap_count": r[12],
                "patient_id": r[13],
                "lost_frames": r[14],  # None: not counted (a session from before version 2)
            }
            for r in rows
        ]

    def session_summary(self, session_id):
        """The list_sessions entry of one session; StoreError if there is none."""
        found = self.list_sessions(session_id=session_id)
        if not found:
            raise StoreError("there is no session %s in %s" % (session_id, self.location))
        return found[0]

    def session(self, session_id):
        """Everything about one session but its samples: the list_sessions fields plus
        device, calibration, pipeline_version, sets (each with its reps), reps (all, each with
        its faults, set number and index), gaps (lost_frames None where unknown, cause), link
        (the link's counters) and events (the dowel's TEXT and the host's warnings)."""
        sid = int(session_id)
        summary = self.session_summary(sid)
        with self._read("reading a session") as conn:
            srow = conn.execute(
                "SELECT port, device_json, calibration_json, pipeline_version, notes "
                "FROM sessions WHERE id = ?",
                (sid,),
            ).fetchone()
            set_rows = conn.execute(
                "SELECT id, number, start_s, end_s, target_depth_deg, target_reps, "
                "feedback_schedule FROM sets WHERE session_id = ? ORDER BY number",
                (sid,),
            ).fetchall()
            rep_rows = conn.execute(
                "SELECT id, set_id, number, start_s, bottom_s, end_s, depth_deg, descent_s, "
                "ascent_s, metrics_json, feedback FROM reps WHERE session_id = ? "
                "ORDER BY start_s, id",
                (sid,),
            ).fetchall()
            fault_rows = conn.execute(
                "SELECT f.rep_id, f.fault, f.phase, f.start_s, f.duration_s, f.cue "
                "FROM faults f JOIN reps r ON r.id = f.rep_id WHERE r.session_id = ? "
                "ORDER BY f.rep_id, f.start_s, f.id",
                (sid,),
            ).fetchall()
            gap_rows = conn.execute(
                "SELECT start_s, end_s, lost_frames, reason, cause, lost_known FROM gaps "
                "WHERE session_id = ? ORDER BY start_s",
                (sid,),
            ).fetchall()
            event_rows = conn.execute(
                "SELECT t_s, source, level, kind, message FROM session_events "
                "WHERE session_id = ? ORDER BY t_s, id",
                (sid,),
            ).fetchall()
            link_row = conn.execute(
                "SELECT link_json FROM sessions WHERE id = ?", (sid,)
            ).fetchone()
        faults_by_rep = {}
        for r in fault_rows:
            faults_by_rep.setdefault(r[0], []).append(
                {"id": r[1], "phase": r[2], "start_s": r[3], "duration_s": r[4], "cue": r[5]}
            )
        sets = []
        set_by_id = {}
        for r in set_rows:
            st = {
                "number": r[1],
                "start_s": r[2],
                "end_s": r[3],
                "target_depth_deg": r[4],
                "target_reps": r[5],
                "feedback_schedule": r[6],
                "reps": [],
            }
            sets.append(st)
            set_by_id[r[0]] = st
        reps = []
        for i, r in enumerate(rep_rows):
            rep = {
                "index": i + 1,
                "set": set_by_id[r[1]]["number"] if r[1] in set_by_id else None,
                "number": r[2],
                "start_s": r[3],
                "bottom_s": r[4],
                "end_s": r[5],
                "depth_deg": r[6],
                "descent_s": r[7],
                "ascent_s": r[8],
                "metrics": json.loads(r[9] or "{}"),
                "faults": faults_by_rep.get(r[0], []),
                "feedback": None if r[10] is None else bool(r[10]),
            }
            reps.append(rep)
            if r[1] in set_by_id:
                set_by_id[r[1]]["reps"].append(rep)
        out = dict(summary)
        out.update(
            {
                "port": srow[0],
                "device": json.loads(srow[1] or "{}"),
                "calibration": json.loads(srow[2] or "{}"),
                "pipeline_version": srow[3],
                "notes": srow[4],
                "sets": sets,
                "reps": reps,
                "gaps": [
                    {"start_s": g[0], "end_s": g[1], "lost_frames": g[2] if g[5] else None,
                     "reason": g[3], "cause": g[4]}
                    for g in gap_rows
                ],
                "link": json.loads(link_row[0] or "{}"),
                # the dowel's TEXT messages (source "dowel") and the host's warnings
                "events": [
                    {"t_s": e[0], "source": e[1], "level": e[2], "kind": e[3], "message": e[4]}
                    for e in event_rows
                ],
            }
        )
        return out

    def load_samples(self, session_id, start_s=None, end_s=None):
        """Every stored sample of a session (SAMPLE_DTYPE records), in time order."""
        sid = int(session_id)
        sql = "SELECT data FROM sample_blocks WHERE session_id = ?"
        args = [sid]
        if end_s is not None:
            sql += " AND t0_s <= ?"
            args.append(float(end_s))
        if start_s is not None:
            sql += " AND t1_s >= ?"
            args.append(float(start_s))
        sql += " ORDER BY t0_s, id"
        with self._read("reading samples") as conn:
            exists = conn.execute("SELECT 1 FROM sessions WHERE id = ?", (sid,)).fetchone()
            if exists is None:
                raise StoreError("there is no session %d in %s" % (sid, self.location))
            blobs = [bytes(r[0]) for r in conn.execute(sql, args).fetchall()]
        parts = []
        for blob in blobs:
            try:
                parts.append(S.unpack_block(blob))
            except (ValueError, zlib.error) as e:
                raise StoreError(
                    "a block of samples of session %d in %s is damaged (%s)" % (sid, self.location, e)
                ) from e
        out = np.concatenate(parts) if parts else S.empty()
        if start_s is not None or end_s is not None:
            t = out["t_us"] / 1e6
            keep = np.ones(len(out), dtype=bool)
            if start_s is not None:
                keep &= t >= start_s
            if end_s is not None:
                keep &= t <= end_s
            out = out[keep]
        return out

    def progress(self, patient):
        """A patient's progress, oldest session first: id, started, rep_count, mean_depth_deg,
        fault_rate (share of reps with a fault), faults_per_rep, fault_counts {id: n}, and
        with_feedback / without_feedback: {rep_count, mean_depth_deg, fault_rate} of the reps
        that got live feedback and of those that did not (None when there were none)."""
        with self._read("reading progress") as conn:
            name = self._stored_name(conn, patient)
            rows = conn.execute(
                "SELECT s.id, s.started, COUNT(r.id), AVG(r.depth_deg), "
                " (SELECT COUNT(DISTINCT f.rep_id) FROM faults f JOIN reps r2 ON r2.id = f.rep_id "
                "   WHERE r2.session_id = s.id), "
                " (SELECT COUNT(*) FROM faults f JOIN reps r2 ON r2.id = f.rep_id "
                "   WHERE r2.session_id = s.id) "
                "FROM sessions s JOIN patients p ON p.id = s.patient_id "
                "LEFT JOIN reps r ON r.session_id = s.id "
                "WHERE p.name = ? GROUP BY s.id ORDER BY s.started, s.id",
                (name,),
            ).fetchall()
            counts = conn.execute(
                "SELECT r.session_id, f.fault, COUNT(*) FROM faults f "
                "JOIN reps r ON r.id = f.rep_id JOIN sessions s ON s.id = r.session_id "
                "JOIN patients p ON p.id = s.patient_id WHERE p.name = ? "
                "GROUP BY r.session_id, f.fault",
                (name,),
            ).fetchall()
            split = conn.execute(
                "SELECT r.session_id, r.feedback, COUNT(*), AVG(r.depth_deg), "
                " SUM(CASE WHEN EXISTS (SELECT 1 FROM faults f WHERE f.rep_id = r.id) "
                "     THEN 1 ELSE 0 END) "
                "FROM reps r JOIN sessions s ON s.id = r.session_id "
                "JOIN patients p ON p.id = s.patient_id "
                "WHERE p.name = ? AND r.feedback IS NOT NULL GROUP BY r.session_id, r.feedback",
                (name,),
            ).fetchall()
        by_session = {}
        for sid, fid, n in counts:
            by_session.setdefault(sid, {})[fid] = n
        by_feedback = {}
        for sid, given, n, depth, faulty in split:
            by_feedback.setdefault(sid, {})[bool(given)] = {
                "rep_count": n, "mean_depth_deg": depth, "fault_rate": faulty / n}
        out = []
        for sid, started, reps, depth, faulty, nfaults in rows:
            out.append(
                {
                    "id": sid,
                    "started": started,
                    "rep_count": reps,
                    "mean_depth_deg": depth,
                    "fault_rate": (faulty / reps) if reps else None,
                    "faults_per_rep": (nfaults / reps) if reps else None,
                    "fault_counts": by_session.get(sid, {}),
                    # reps with live feedback and without (issue 15): does the skill hold
                    # when the feedback is gone? None where the session has no such reps
                    "with_feedback": by_feedback.get(sid, {}).get(True),
                    "without_feedback": by_feedback.get(sid, {}).get(False),
                }
            )
        return out


def _rate_hz(blocks):
    """Samples per second in queued SAMPLE_DTYPE blocks (0 when it cannot be told)."""
    if not blocks:
        return 0.0
    t0, t1 = int(blocks[0]["t_us"][0]), int(blocks[-1]["t_us"][-1])
    n = sum(len(b) for b in blocks)
    return (n - 1) / ((t1 - t0) / 1e6) if t1 > t0 else 0.0


# What `dowel db copy` moves of a session, table by table (ids are the target's own; a
# patient is matched by name key, a session by its UUID)
_COPY_SESSION = ("uuid", "started", "ended", "source", "port", "device_json", "calibration_json",
                 "pipeline_version", "notes", "lost_frames", "link_json")
_COPY_CHILDREN = (
    ("sets", ("number", "start_s", "end_s", "target_depth_deg", "target_reps",
              "feedback_schedule"), "number"),
    ("reps", ("set_id", "number", "start_s", "bottom_s", "end_s", "depth_deg", "descent_s",
              "ascent_s", "metrics_json", "feedback"), "start_s, id"),
    ("sample_blocks", ("t0_s", "t1_s", "n", "data"), "t0_s, id"),
    ("gaps", ("start_s", "end_s", "lost_frames", "reason", "cause", "lost_known"), "start_s, id"),
    ("session_events", ("t_s", "source", "level", "kind", "message"), "t_s, id"),
)
_COPY_FAULTS = ("fault", "phase", "start_s", "duration_s", "cue")


def session_rows(store, session_id):
    """Everything stored of one session, as plain rows, for copy_session_rows."""
    sid = int(session_id)
    with store._read("reading session %d to copy it" % sid) as conn:
        row = conn.execute(
            "SELECT %s, p.name, p.created, p.notes FROM sessions s JOIN patients p "
            "ON p.id = s.patient_id WHERE s.id = ?" % ", ".join("s." + c for c in _COPY_SESSION),
            (sid,)).fetchone()
        if row is None:
            raise StoreError("there is no session %d in %s" % (sid, store.location))
        out = {"session": dict(zip(_COPY_SESSION, row)),
               "patient": {"name": row[-3], "created": row[-2], "notes": row[-1]}}
        for table, cols, order in _COPY_CHILDREN:
            out[table] = conn.execute("SELECT id, %s FROM %s WHERE session_id = ? ORDER BY %s"
                                      % (", ".join(cols), table, order), (sid,)).fetchall()
        out["faults"] = conn.execute(
            "SELECT f.rep_id, %s FROM faults f JOIN reps r ON r.id = f.rep_id "
            "WHERE r.session_id = ? ORDER BY f.id" % ", ".join("f." + c for c in _COPY_FAULTS),
            (sid,)).fetchall()
    return out


def copy_session_rows(store, rows):
    """Write a session read by session_rows into `store` in one transaction; returns "copied",
    "present" (its UUID is there, as complete as the source's) or "updated" (an unfinished
    copy replaced by the source's fuller one)."""
    sess = rows["session"]
    name = clean_patient_name(rows["patient"]["name"])
    with store._write("copying session %s" % sess["uuid"]) as conn:
        there = conn.execute(
            "SELECT id, ended, (SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM sample_blocks "
            "WHERE session_id = sessions.id), (SELECT COUNT(*) FROM reps WHERE session_id = "
            "sessions.id) FROM sessions WHERE uuid = ?", (sess["uuid"],)).fetchone()
        status = "copied"
        if there is not None:
            samples = sum(int(b[3]) for b in rows["sample_blocks"])
            fuller = sess["ended"] is not None or samples > there[2] or len(rows["reps"]) > there[3]
            if there[1] is not None or not fuller:
                return "present"
            conn.execute("DELETE FROM sessions WHERE id = ?", (there[0],))  # children cascade
            status = "updated"
        conn.execute("INSERT INTO patients (name, name_key, created, notes) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT DO NOTHING",
                     (name, patient_key(name), rows["patient"]["created"],
                      rows["patient"]["notes"] or ""))
        pid = _find_patient(conn, name)[0]
        sid = conn.execute(
            "INSERT INTO sessions (patient_id, %s) VALUES (?, %s) RETURNING id"
            % (", ".join(_COPY_SESSION), ", ".join("?" * len(_COPY_SESSION))),
            (pid,) + tuple(sess[c] for c in _COPY_SESSION)).fetchone()[0]
        new_ids = {}
        for table, cols, _order in _COPY_CHILDREN:
            sql = ("INSERT INTO %s (session_id, %s) VALUES (?, %s)"
                   % (table, ", ".join(cols), ", ".join("?" * len(cols))))
            if table in ("sets", "reps"):  # their new ids are needed by reps and faults
                ids = new_ids.setdefault(table, {})
                for r in rows[table]:
                    vals = list(r[1:])
                    if table == "reps" and vals[0] is not None:
                        vals[0] = new_ids["sets"][vals[0]]
                    ids[r[0]] = conn.execute(sql + " RETURNING id", [sid] + vals).fetchone()[0]
            elif rows[table]:
                conn.executemany(sql, [[sid] + list(r[1:]) for r in rows[table]])
        if rows["faults"]:
            conn.executemany(
                "INSERT INTO faults (rep_id, %s) VALUES (?, %s)"
                % (", ".join(_COPY_FAULTS), ", ".join("?" * len(_COPY_FAULTS))),
                [[new_ids["reps"][f[0]]] + list(f[1:]) for f in rows["faults"]])
    return status


def session_uuids(store):
    """(id, uuid, ended) of every session, oldest first."""
    with store._read("listing sessions") as conn:
        return conn.execute("SELECT id, uuid, ended FROM sessions ORDER BY id").fetchall()


# Characters a name may not hold: controls, and the format characters that reorder or hide
# text (bidi overrides, embeddings and isolates, marks). Joiners (ZWJ, ZWNJ) stay: Persian
# names and emoji sequences need them.
_JOINERS = {"\u200c", "\u200d"}


def clean_patient_name(name):
    """A patient name as stored: NFC, trimmed, single-spaced, 1..120 characters; any script,
    emoji and joiners inside words accepted; control and bidi-override characters refused."""
    if name is None:
        raise StoreError("a patient name is needed")
    text = " ".join(unicodedata.normalize("NFC", str(name)).split())
    text = re.sub(r"(?<!\S)[\u200c\u200d]+|[\u200c\u200d]+(?!\S)", "", text).strip()
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs") or (cat == "Cf" and ch not in _JOINERS):
            raise StoreError(
                "a patient name cannot hold %s (U+%04X, %s), got %r"
                % ("a control character" if cat != "Cf" else "an invisible formatting character",
                   ord(ch), unicodedata.name(ch, "unnamed"), name))
    if not text:
        raise StoreError("a patient name is needed, got %r" % (name,))
    if len(text) > MAX_PATIENT_NAME:
        raise StoreError("a patient name is limited to %d characters" % MAX_PATIENT_NAME)
    return text


def _find_patient(conn, name):
    """(id, stored name) of the patient whose name matches (patient_key), or None."""
    return conn.execute("SELECT id, name FROM patients WHERE name_key = ?",
                        (patient_key(name),)).fetchone()


def parse_database_url(url):
    """("postgresql", url) for a server, ("sqlite", Path) for sqlite:///PATH; StoreError for
    anything else. sqlite:///data.db is relative, sqlite:////srv/data.db absolute."""
    from . import postgres

    text = str(url).strip()
    if text.startswith("sqlite:///") and len(text) > len("sqlite:///"):
        return "sqlite", Path(urllib.parse.unquote(text[len("sqlite:///"):])).expanduser()
    if postgres.is_server_url(text):
        return "postgresql", text
    raise StoreError(
        "%r is not a database URL smart-dowel knows: use postgresql://USER@HOST/DATABASE for "
        "the clinic's server or sqlite:///PATH for a file (%s)"
        % (postgres.redact(text)[:200], ENV_DATABASE_URL))


def _rollback(conn, dialect):
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except dialect.errors:
        if not getattr(conn, "broken", False):
            raise  # a lost connection has rolled back by itself; anything else is news


class SqliteDialect:
    """What the store does differently on SQLite (the other is postgres.Dialect)."""

    name = "sqlite"
    begin_write = "BEGIN IMMEDIATE"  # take the write lock now: no deadlock on upgrade
    errors = (sqlite3.Error,)

    def describe(self, e, location, action):
        return describe_sqlite_error(e, location, action)

    def lost_connection(self, e):
        return False

    def read_version(self, conn):
        return conn.execute("PRAGMA user_version").fetchone()[0]

    def lock_schema(self, conn):
        pass  # BEGIN IMMEDIATE holds the database's write lock

    def set_version(self, conn, version):
        conn.execute("PRAGMA user_version = %d" % int(version))

    def run_script(self, conn, script):
        for stmt in _statements(script):
            conn.execute(stmt)

    def integrity_check(self, conn):
        return "; ".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall())


SQLITE = SqliteDialect()


def patient_from_args(args, store=None):
    """The patient named on the command line: --patient NAME, or --patient-id N (private:
    a number says nothing in `ps`) looked up in the store; None if neither is given."""
    pid = getattr(args, "patient_id", None)
    if pid is None:
        name = getattr(args, "patient", None)
        return None if name is None else clean_patient_name(name)  # refused before any work
    if store is not None:
        return store.patient_name(pid)
    with Store.open(readonly=True) as st:
        return st.patient_name(pid)


def _check_db_file(path, warnings):
    """True if the database file exists; StoreError if it is a symbolic link or not a file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise StoreError("cannot use the session database %s (%s); set %s to a directory of "
                         "yours" % (path, e.strerror or e, paths.ENV_DATA_DIR)) from e
    if stat.S_ISLNK(st.st_mode):
        raise StoreError(
            "%s is a symbolic link; smart-dowel does not follow links to its database, so it "
            "was left untouched: set %s to the directory that really holds the database"
            % (path, paths.ENV_DATA_DIR))
    if stat.S_ISDIR(st.st_mode):
        raise StoreError("%s is a directory, not a session database" % path)
    if not stat.S_ISREG(st.st_mode):
        raise StoreError("%s is not a regular file, so it cannot be a session database; it "
                         "was left untouched" % path)
    for suffix in SIDE_FILES:
        side = Path(str(path) + suffix)
        if side.is_symlink():
            raise StoreError("%s is a symbolic link; smart-dowel does not follow it (move it "
                             "aside when no dowel program is running)" % side)
    if st.st_mode & 0o077:
        warnings.append(
            "%s can be read by other users (mode %o); it was left as it is: chmod 600 it"
            % (path, stat.S_IMODE(st.st_mode)))
    return True


def _check_writable(path):
    """Before a read-write open: name the file that cannot be written, instead of SQLite's
    'attempt to write a readonly database' (which would blame the directory)."""
    for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm")):
        if p.exists() and not os.access(p, os.R_OK | os.W_OK):
            st = p.stat()
            if p == path:
                raise StoreError(
                    "%s is read-only for you (mode %o, owner uid %d), so sessions cannot be "
                    "saved; make it writable (chmod 600) or set %s to another directory"
                    % (p, stat.S_IMODE(st.st_mode), st.st_uid, paths.ENV_DATA_DIR))
            raise StoreError(
                "%s is read-only for you (mode %o, owner uid %d): a leftover of an earlier "
                "read-only open; it holds no sessions: when no dowel program is running, delete "
                "it (or chmod 600 it) and try again" % (p, stat.S_IMODE(st.st_mode), st.st_uid))


def _connect_readonly(path):
    """A read-only connection that creates no file: an unused database (no -wal, no -shm) is
    opened immutable (works on read-only media); one in use is read through its WAL."""
    wal, shm = Path(str(path) + "-wal"), Path(str(path) + "-shm")
    uri = "file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(path))
    quiet = not wal.exists() and not shm.exists()
    try:
        conn = sqlite3.connect(uri + ("&immutable=1" if quiet else ""), uri=True,
                               isolation_level=None, check_same_thread=False, timeout=10.0)
        conn.execute("PRAGMA query_only=ON")
        if quiet:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            if wal.exists():  # a writer arrived meanwhile: read through its WAL instead
                conn.close()
                conn = sqlite3.connect(uri, uri=True, isolation_level=None,
                                       check_same_thread=False, timeout=10.0)
        return conn
    except sqlite3.Error as e:
        raise StoreError(describe_sqlite_error(e, path, "opening it read-only")) from e


def _read_version(conn, path):
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as e:
        raise StoreError(describe_sqlite_error(e, path, "opening it")) from e


def _statements(script):
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                yield buf
            buf = ""
    if buf.strip():
        yield buf


def _migrate(conn, version, migrations=None, dialect=None):
    """Move the schema forward one version per transaction. Two programs upgrading at once
    are serialised (SQLite's BEGIN IMMEDIATE, an advisory lock on a server); the second
    finds it done."""
    migrations = MIGRATIONS if migrations is None else migrations
    dialect = dialect or SQLITE
    while version < len(migrations):
        conn.execute(dialect.begin_write)
        try:
            dialect.lock_schema(conn)
            version = dialect.read_version(conn)
            if version < len(migrations):
                steps = migrations[version]
                for step in [steps] if isinstance(steps, str) else steps:
                    if callable(step):
                        step(conn)
                    else:
                        dialect.run_script(conn, step)
                version += 1
                dialect.set_version(conn, version)
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn, dialect)
            raise
    return version


class SessionWriter:
    """Writes one running session: samples as they arrive, sets, reps and reconnect gaps.

    Nothing here blocks on the disk: calls queue their data and a writer thread commits the
    queue every flush_interval_s in one transaction. If a commit fails (disk full, directory
    gone read-only, the server restarting) the queue is kept in memory and retried (a lost
    server connection is made again), `error` says why and on_error is called; close() raises
    StoreError if the queue still cannot be written. Each commit is numbered in the session's
    row, so one whose answer was lost with the connection is never written twice. At most
    max_buffered_samples wait in memory: past that, samples are dropped (and the stretch
    stored as a gap once the store is back), with one error saying so.

    Times are session seconds: 0 at the first sample, on the device's (unwrapped) clock.
    """

    def __init__(self, store, session_id, flush_interval_s=FLUSH_INTERVAL_S, on_error=None):
        self.store = store
        self.id = session_id
        self.flush_interval_s = float(flush_interval_s)
        self.on_error = on_error
        self.error = None  # the StoreError of the latest failed commit; None once one succeeds
        self.committed_samples = 0  # samples known to be on disk
        self.committed_reps = 0
        self._clock = S.DeviceClock()
        self._lock = threading.Lock()  # guards the queue below
        self._samples = []  # SAMPLE_DTYPE arrays not yet committed
        self._ops = []  # (kind, payload) not yet committed, in call order
        self._queued_samples = 0  # samples in _samples and _unsure
        self.max_buffered_samples = MAX_BUFFERED_SAMPLES
        self._dropped = None  # [first_t_s, last_t_s, n] of samples not kept (buffer full)
        self._batch = 1  # number of the next commit (sessions.committed_batches after it)
        self._unsure = None  # (batch, blocks, ops) of a commit that failed: sent again first
        self._outage = None  # (monotonic s, session s) of the first failed commit since the last
        self._last_t_us = 0
        self._gap_awaiting_end = False  # a gap was recorded before the samples after it came
        self._set_number = 0
        self._set_open = False
        self._rep_in_set = 0
        self._closed = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._flush_lock = threading.Lock()  # one flush at a time
        self._thread = None
        if self.flush_interval_s > 0:
            self._thread = threading.Thread(
                target=self._run, name="dowel-store-writer-%d" % session_id, daemon=True
            )
            self._thread.start()

    # --- what the caller feeds in ------------------------------------------------------------

    @property
    def last_t_s(self):
        """Session time of the latest sample (0.0 before any)."""
        return self._last_t_us / 1e6

    def add_batch(self, batch):
        """The SAMPLE messages of a link.LinkBatch; returns their records (see add_samples)."""
        msgs = batch.messages
        first = next((i for i, m in enumerate(msgs) if m.type == S.SAMPLE), None)
        host = batch.rx_mono[first] if first is not None and batch.rx_mono else None
        return self.add_samples(msgs, host_time_s=host)

    def add_samples(self, samples, host_time_s=None):
        """Queue samples: dowel_protocol SAMPLE messages (others are ignored), or SAMPLE_DTYPE
        records whose t_us is already in session microseconds. Returns the session times in
        records queued (SAMPLE_DTYPE, t_us in session microseconds): feed those to the pipeline
        (replay.to_samples) so that rep times and stored samples share one clock.
        host_time_s: a monotonic host time at which the first arrived (lets the clock spot a
        dowel that restarted during an unplug)."""
        self._check_open()
        if isinstance(samples, np.ndarray):
            rec = np.asarray(samples, dtype=S.SAMPLE_DTYPE).copy()
        else:
            raw_t, rec = S.from_messages(samples)
            if len(rec):
                rec["t_us"] = self._clock.unwrap(raw_t, host_time_s)
        if len(rec):
            self._last_t_us = max(self._last_t_us, int(rec["t_us"][-1]))
            with self._lock:
                if self._queued_samples + len(rec) > self.max_buffered_samples:
                    self._drop(rec)
                    return rec
                self._samples.append(rec)
                self._queued_samples += len(rec)
                if self._gap_awaiting_end:
                    self._gap_awaiting_end = False
                    self._ops.append(("gap_end", int(rec["t_us"][0]) / 1e6))
        return rec

    def _drop(self, rec):
        """The buffer is full: these samples are not kept (called holding _lock)."""
        t0, t1 = int(rec["t_us"][0]) / 1e6, int(rec["t_us"][-1]) / 1e6
        if self._dropped is None:
            self._dropped = [t0, t1, 0]
            self.buffer_full_error = StoreError(
                "%s cannot be written and %d samples (%.0f s) are waiting in memory, the most "
                "this program holds: from %.1f s on, samples are not saved until it is back "
                "(reps, sets and gaps still are, and the stretch is stored as a gap)"
                % (self.store.location, self._queued_samples,
                   self._queued_samples / max(1.0, _rate_hz(
                       (self._unsure[1] if self._unsure else []) + self._samples)), t0))
        self._dropped[1] = t1
        self._dropped[2] += len(rec)

    buffer_full_error = None  # the StoreError saying samples are being dropped, once they are

    def start_set(self, target_depth_deg=None, target_reps=None, start_s=None,
                  feedback_schedule=None):
        """Start the next set (closing an open one); returns its number (1, 2, ...).
        feedback_schedule: the set's feedback schedule (smart_dowel.feedback.SCHEDULES), if any."""
        self._check_open()
        t = self.last_t_s if start_s is None else float(start_s)
        with self._lock:
            if self._set_open:
                self._ops.append(("end_set", (self._set_number, t)))
            self._set_number += 1
            self._set_open = True
            self._rep_in_set = 0
            self._ops.append(
                ("start_set", (self._set_number, t, _num(target_depth_deg),
                               None if target_reps is None else int(target_reps),
                               feedback_schedule))
            )
            n = self._set_number
        self._wake.set()
        return n

    def end_set(self, end_s=None):
        """End the open set (no-op without one)."""
        self._check_open()
        t = self.last_t_s if end_s is None else float(end_s)
        with self._lock:
            if self._set_open:
                self._ops.append(("end_set", (self._set_number, t)))
                self._set_open = False
        self._wake.set()

    def add_rep(self, rep, feedback=None):
        """Queue a rep found by the pipeline (dict, dataclass or object with start_s, bottom_s,
        end_s, depth_deg, descent_s, ascent_s, faults); it joins the open set. Returns its
        number within the set (or within the session outside any set). feedback: whether
        the patient got live feedback on it (None: not known)."""
        self._check_open()
        r = normalise_rep(rep)
        r["feedback"] = None if feedback is None else bool(feedback)
        with self._lock:
            self._rep_in_set += 1
            number = self._rep_in_set
            set_number = self._set_number if self._set_open else None
            self._ops.append(("rep", (set_number, number, r)))
        self._wake.set()
        return number

    def add_gap(self, gap=None, *, start_s=None, end_s=None, lost_frames=None, reason="",
                cause="", lost_known=None):
        """Record a stretch without data: a link.Gap (an unplug), or explicit times.

        With a link.Gap the times are placed on the session clock: from the last sample
        before the drop, for as long as the host saw nothing. lost_known=False (or a Gap whose
        dowel restarted) stores the frames lost as unknown; with explicit times, lost_frames
        None means unknown too. cause: one word for why ("unplugged", "restarted", ...).
        """
        self._check_open()
        awaiting = False
        if gap is not None:
            duration = max(0.0, float(gap.duration_s))
            lost_frames = gap.lost_frames if lost_frames is None else lost_frames
            reason = reason or gap.reason or ""
            cause = cause or "unplugged"
            if getattr(gap, "device_restarted", False):
                reason += " (the dowel restarted: how many frames were lost is unknown)"
                lost_known = False
            elif lost_known is None:
                lost_known = lost_frames is not None
            jump = self._clock.last_jump
            if start_s is None and jump is not None and abs((jump[1] - jump[0]) / 1e6 - duration) < 1.0 + duration * 0.2:
                # the samples after the reconnect are already here: use where the jump is
                start_s, end_s = jump[0] / 1e6, jump[1] / 1e6
                self._clock.last_jump = None
            if start_s is None:
                start_s = self.last_t_s
                end_s = start_s + duration  # until the first sample after it says otherwise
                self._clock.gap(duration)
                awaiting = True
        elif lost_known is None:
            lost_known = lost_frames is not None
        if start_s is None:
            raise ValueError("add_gap needs a link Gap or start_s")
        with self._lock:
            self._ops.append(
                ("gap", (float(start_s), _num(end_s), int(lost_frames or 0), str(reason),
                         str(cause), 1 if lost_known else 0))
            )
            self._gap_awaiting_end = awaiting
        self._wake.set()

    def amend_last_gap(self, cause=None, reason=None, lost_known=None):
        """Change the latest gap's cause, reason or whether its lost frames are known (a
        restart that the dowel confirmed after the gap was recorded)."""
        self._check_open()
        with self._lock:
            self._ops.append(("gap_amend", (cause, reason, lost_known)))
        self._wake.set()

    def add_event(self, t_s, source, level, kind, message):
        """Keep a message with the session: the dowel's TEXT (source "dowel") or something the
        host found (source "host": a clock that disagrees, a refused START, a restart)."""
        self._check_open()
        with self._lock:
            self._ops.append(("event", (float(t_s), str(source), str(level), str(kind),
                                        str(message))))
        self._wake.set()

    def set_link_summary(self, lost_frames, counters):
        """The frames lost over the session so far, and the link's counters (saved with it)."""
        self._check_open()
        payload = (None if lost_frames is None else int(lost_frames),
                   json.dumps(_jsonable(counters or {}), sort_keys=True))
        with self._lock:
            self._ops = [op for op in self._ops if op[0] != "link"]  # only the newest counts
            self._ops.append(("link", payload))
        self._wake.set()

    def set_calibration(self, calibration):
        """Queue the session's calibration (a pipeline Calibration, or a dict) to be saved."""
        self._check_open()
        cal = calibration.to_dict() if hasattr(calibration, "to_dict") else calibration
        with self._lock:
            self._ops.append(("calibration", json.dumps(_jsonable(cal or {}), sort_keys=True)))
        self._wake.set()

    # --- committing --------------------------------------------------------------------------

    def pending(self):
        """(samples, other changes) queued and not yet committed."""
        with self._lock:
            unsure_ops = len(self._unsure[2]) if self._unsure else 0
            return self._queued_samples, len(self._ops) + unsure_ops

    def flush(self):
        """Commit everything queued now. Raises StoreError (keeping the queue) on failure."""
        with self._flush_lock:
            n = 0
            if self._unsure is not None:  # exactly what failed before, under its number
                n += self._send(*self._unsure)
            with self._lock:
                blocks, self._samples = self._samples, []
                ops, self._ops = self._ops, []
                if self._dropped is not None:
                    t0, t1, dropped = self._dropped
                    self._dropped = None
                    ops.append(("gap", (t0, t1, dropped, "%d samples received while %s could "
                                        "not be written were not saved" % (dropped, self.store.location),
                                        "not saved", 1)))
                if not blocks and not ops:
                    return n
                self._unsure = (self._batch, blocks, ops)
            return n + self._send(*self._unsure)

    def _send(self, batch, blocks, ops):
        try:
            n = self._commit(batch, blocks, ops)
        except BaseException as e:
            if isinstance(e, StoreError):
                self.error = e
                if self._outage is None:
                    self._outage = (time.monotonic(), self.last_t_s)
            raise
        with self._lock:
            self._unsure = None
            self._queued_samples -= n
            if self._outage is not None:  # the session keeps a note of the stretch
                down_s = time.monotonic() - self._outage[0]
                self._ops.append(("event", (
                    self._outage[1], "host", "warning", "store",
                    "%s could not be written for %.1f s (%s); what arrived meanwhile was kept "
                    "in memory and saved" % (self.store.location, down_s, self.error))))
                self._outage = None
        self._batch = batch + 1
        self.error = None
        self.buffer_full_error = None
        self.committed_samples += n
        self.committed_reps += sum(1 for kind, _ in ops if kind == "rep")
        return n

    def _commit(self, batch, blocks, ops):
        allrec = np.concatenate(blocks) if blocks else S.empty()
        with self.store._write("saving session %d" % self.id) as conn:
            done = conn.execute("SELECT committed_batches FROM sessions WHERE id = ?",
                                (self.id,)).fetchone()[0]
            if done >= batch:
                return len(allrec)  # it went in, and only the answer was lost
            conn.execute("UPDATE sessions SET committed_batches = ? WHERE id = ?",
                         (batch, self.id))
            for i in range(0, len(allrec), MAX_BLOCK_SAMPLES):
                blk = allrec[i : i + MAX_BLOCK_SAMPLES]
                conn.execute(
                    "INSERT INTO sample_blocks (session_id, t0_s, t1_s, n, data) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (self.id, blk["t_us"][0] / 1e6, blk["t_us"][-1] / 1e6, len(blk),
                     S.pack_block(blk)),
                )
            for kind, payload in ops:
                self._apply(conn, kind, payload)
        return len(allrec)

    def _set_id(self, conn, number):
        row = conn.execute(
            "SELECT id FROM sets WHERE session_id = ? AND number = ?", (self.id, number)
        ).fetchone()
        return None if row is None else row[0]

    def _apply(self, conn, kind, payload):
        if kind == "start_set":
            number, t, depth, reps, schedule = payload
            conn.execute(
                "INSERT INTO sets (session_id, number, start_s, target_depth_deg, target_reps, "
                "feedback_schedule) VALUES (?, ?, ?, ?, ?, ?)",
                (self.id, number, t, depth, reps, schedule),
            )
        elif kind == "end_set":
            number, t = payload
            conn.execute(
                "UPDATE sets SET end_s = ? WHERE session_id = ? AND number = ?",
                (t, self.id, number),
            )
        elif kind == "rep":
            set_number, number, r = payload
            set_id = None if set_number is None else self._set_id(conn, set_number)
            cur = conn.execute(
                "INSERT INTO reps (session_id, set_id, number, start_s, bottom_s, end_s, "
                "depth_deg, descent_s, ascent_s, metrics_json, feedback) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (self.id, set_id, number, r["start_s"], r["bottom_s"], r["end_s"],
                 r["depth_deg"], r["descent_s"], r["ascent_s"],
                 json.dumps(r["extra"], sort_keys=True),
                 None if r.get("feedback") is None else int(r["feedback"])),
            )
            rep_id = cur.fetchone()[0]
            conn.executemany(
                "INSERT INTO faults (rep_id, fault, phase, start_s, duration_s, cue) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(rep_id, f["id"], f["phase"], f["start_s"], f["duration_s"], f["cue"])
                 for f in r["faults"]],
            )
        elif kind == "gap":
            start_s, end_s, lost, reason, cause, lost_known = payload
            conn.execute(
                "INSERT INTO gaps (session_id, start_s, end_s, lost_frames, reason, cause, "
                "lost_known) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.id, start_s, end_s, lost, reason, cause, lost_known),
            )
        elif kind == "gap_amend":
            cause, reason, lost_known = payload
            last = "(SELECT MAX(id) FROM gaps WHERE session_id = ?)"
            if cause is not None:
                conn.execute("UPDATE gaps SET cause = ? WHERE id = " + last, (cause, self.id))
            if reason is not None:
                conn.execute("UPDATE gaps SET reason = ? WHERE id = " + last, (reason, self.id))
            if lost_known is not None:
                conn.execute("UPDATE gaps SET lost_known = ? WHERE id = " + last,
                             (1 if lost_known else 0, self.id))
        elif kind == "event":
            conn.execute(
                "INSERT INTO session_events (session_id, t_s, source, level, kind, message) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (self.id,) + payload,
            )
        elif kind == "link":
            conn.execute("UPDATE sessions SET lost_frames = ?, link_json = ? WHERE id = ?",
                         payload + (self.id,))
        elif kind == "gap_end":
            conn.execute(
                "UPDATE gaps SET end_s = ? WHERE id = "
                "(SELECT MAX(id) FROM gaps WHERE session_id = ?)",
                (payload, self.id),
            )
        elif kind == "calibration":
            conn.execute(
                "UPDATE sessions SET calibration_json = ? WHERE id = ?", (payload, self.id)
            )
        elif kind == "end":
            conn.execute("UPDATE sessions SET ended = ? WHERE id = ?", (payload, self.id))
        else:  # pragma: no cover - programming error
            raise ValueError(kind)

    def _run(self):
        next_flush = time.monotonic() + self.flush_interval_s
        while not self._stop.is_set():
            self._wake.wait(max(0.0, next_flush - time.monotonic()))
            self._wake.clear()
            if self._stop.is_set():
                break
            now = time.monotonic()
            with self._lock:
                only_samples = not self._ops
            if now < next_flush and only_samples:
                continue  # woken for a rep or a set: commit those now, samples can wait
            next_flush = now + self.flush_interval_s
            try:
                self.flush()
            except StoreError as e:
                # kept in memory and retried at the next interval; the caller hears of it
                if self.on_error is not None:
                    self.on_error(self.buffer_full_error or e)

    # --- ending ------------------------------------------------------------------------------

    def _check_open(self):
        if self._closed:
            raise StoreError("session %d is already closed" % self.id)

    def close(self):
        """End the session: close an open set, mark the end, commit everything.

        Raises StoreError if the queued data still cannot be written; it stays queued, and
        close() may be called again (after freeing disk space, say).
        """
        if not self._closed:
            with self._lock:
                if self._set_open:
                    self._ops.append(("end_set", (self._set_number, self.last_t_s)))
                    self._set_open = False
                self._ops.append(("end", now_iso()))
            self._closed = True
            self._stop.set()
            self._wake.set()
            if self._thread is not None:
                self._thread.join()
        self.flush()
        self.store._writers.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
