"""The session database's schema, one migration per version, for SQLite and PostgreSQL alike.

Migrations only ever add: a database is moved forward one version at a time inside one
transaction each, and a database from a newer version of the program is refused untouched.
They are written in SQLite's SQL; the PostgreSQL dialect (store.postgres) maps its few type
names. A migration is a script, or a list of scripts and Python steps `step(conn)` that fill
in what SQL cannot compute (a patient's name key).
"""

import unicodedata
import uuid


def patient_key(name):
    """What two names must share to be the same patient: NFC and case-folded ("ZOË" = "zoë")."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def _fill_keys_and_uuids(conn):
    """Version 4: each patient's name key, each session's UUID. Two old patients whose names
    fold to one key (possible only through names SQLite's NOCASE told apart) both stay; the
    later one gets its id in its key, so that neither is lost."""
    seen = set()
    for pid, name in conn.execute("SELECT id, name FROM patients ORDER BY id").fetchall():
        key = patient_key(name)
        if key in seen:
            key = "%s#%d" % (key, pid)
        seen.add(key)
        conn.execute("UPDATE patients SET name_key = ? WHERE id = ?", (key, pid))
    for (sid,) in conn.execute("SELECT id FROM sessions WHERE uuid IS NULL").fetchall():
        conn.execute("UPDATE sessions SET uuid = ? WHERE id = ?", (str(uuid.uuid4()), sid))


# MIGRATIONS[i] moves a database from version i to version i + 1.
MIGRATIONS = [
    # 0 -> 1: the first schema
    """
    CREATE TABLE patients (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created     TEXT NOT NULL,
        notes       TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE sessions (
        id               INTEGER PRIMARY KEY,
        patient_id       INTEGER NOT NULL REFERENCES patients(id),
        started          TEXT NOT NULL,          -- ISO 8601, local time with UTC offset
        ended            TEXT,                   -- NULL while recording (or after a crash)
        source           TEXT NOT NULL,          -- 'dowel', 'simulated', 'import'
        port             TEXT,
        device_json      TEXT NOT NULL DEFAULT '{}',
        calibration_json TEXT NOT NULL DEFAULT '{}',
        pipeline_version TEXT NOT NULL DEFAULT '',
        notes            TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX sessions_patient ON sessions(patient_id, started);
    CREATE TABLE sets (
        id               INTEGER PRIMARY KEY,
        session_id       INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        number           INTEGER NOT NULL,       -- 1, 2, ... within the session
        start_s          REAL NOT NULL,          -- session seconds
        end_s            REAL,
        target_depth_deg REAL,
        target_reps      INTEGER,
        UNIQUE (session_id, number)
    );
    CREATE TABLE reps (
        id           INTEGER PRIMARY KEY,
        session_id   INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        set_id       INTEGER REFERENCES sets(id) ON DELETE CASCADE,
        number       INTEGER NOT NULL,           -- 1, 2, ... within its set (or the session)
        start_s      REAL NOT NULL,
        bottom_s     REAL,
        end_s        REAL,
        depth_deg    REAL,
        descent_s    REAL,
        ascent_s     REAL,
        metrics_json TEXT NOT NULL DEFAULT '{}'  -- any further metrics the pipeline reports
    );
    CREATE INDEX reps_session ON reps(session_id, start_s);
    CREATE TABLE faults (
        id         INTEGER PRIMARY KEY,
        rep_id     INTEGER NOT NULL REFERENCES reps(id) ON DELETE CASCADE,
        fault      TEXT NOT NULL,                -- product.md's fault identifier
        phase      TEXT,
        start_s    REAL,
        duration_s REAL,
        cue        TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX faults_rep ON faults(rep_id);
    CREATE TABLE sample_blocks (
        id         INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        t0_s       REAL NOT NULL,                -- first and last sample time in the block
        t1_s       REAL NOT NULL,
        n          INTEGER NOT NULL,
        data       BLOB NOT NULL                 -- smart_dowel.store.samples.pack_block
    );
    CREATE INDEX sample_blocks_session ON sample_blocks(session_id, t0_s);
    CREATE TABLE gaps (
        id          INTEGER PRIMARY KEY,
        session_id  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        start_s     REAL NOT NULL,
        end_s       REAL,
        lost_frames INTEGER NOT NULL DEFAULT 0,
        reason      TEXT NOT NULL DEFAULT ''
    );
    """,
    # 1 -> 2: what the link knew of each session (issue 17): frames lost over the session and
    # the link's counters, the dowel's TEXT messages and the host's warnings, each gap's cause,
    # and gaps whose lost frames are unknown (the dowel restarted inside them)
    """
    ALTER TABLE gaps ADD COLUMN cause TEXT NOT NULL DEFAULT '';
    ALTER TABLE gaps ADD COLUMN lost_known INTEGER NOT NULL DEFAULT 1;  -- 0: lost_frames unknown
    ALTER TABLE sessions ADD COLUMN lost_frames INTEGER;  -- NULL: not counted (before version 2)
    ALTER TABLE sessions ADD COLUMN link_json TEXT NOT NULL DEFAULT '{}';
    CREATE TABLE session_events (
        id         INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        t_s        REAL NOT NULL,                -- session seconds
        source     TEXT NOT NULL,                -- 'dowel' (its TEXT) or 'host' (what it found)
        level      TEXT NOT NULL,                -- 'info', 'warning', 'error'
        kind       TEXT NOT NULL,                -- 'text', 'clock', 'refused', 'restart', ...
        message    TEXT NOT NULL
    );
    CREATE INDEX session_events_session ON session_events(session_id, t_s);
    """,
    # 2 -> 3: feedback schedules (issue 15): each set's schedule, and whether each rep got live
    # feedback (NULL: not known, a rep stored before version 3)
    """
    ALTER TABLE sets ADD COLUMN feedback_schedule TEXT;  -- every, faded, bandwidth, post-set
    ALTER TABLE reps ADD COLUMN feedback INTEGER;  -- 1 live feedback given, 0 none, NULL unknown
    """,
    # 3 -> 4: one store for a clinic's PCs (issue 16): a patient is one row by a unique key of
    # the normalised name (so PCs adding the same patient at once cannot make two); a session
    # has a UUID that stays the same in every store it is copied to (`dowel db copy`); and each
    # session counts the batches its writer committed, so a commit whose answer was lost (the
    # server went away during COMMIT) is known to be in, not written twice
    [
        """
        ALTER TABLE patients ADD COLUMN name_key TEXT;  -- schema.patient_key(name)
        ALTER TABLE sessions ADD COLUMN uuid TEXT;
        ALTER TABLE sessions ADD COLUMN committed_batches INTEGER NOT NULL DEFAULT 0;
        """,
        _fill_keys_and_uuids,
        """
        CREATE UNIQUE INDEX patients_unique_key ON patients(name_key);
        CREATE UNIQUE INDEX sessions_unique_uuid ON sessions(uuid);
        """,
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
