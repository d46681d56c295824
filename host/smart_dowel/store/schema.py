"""The session database's schema, one migration per version (PRAGMA user_version).

Migrations only ever add: a database is moved forward one version at a time inside one
transaction each, and a database from a newer version of the program is refused untouched.
"""

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
]

SCHEMA_VERSION = len(MIGRATIONS)
