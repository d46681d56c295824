"""The clinic's PostgreSQL server as the session store: its schema only by `upgrade`, newer
schemas refused, a patient one row however many PCs add them at once, the program's role
without DDL rights, no password in any message, and version 3 SQLite files moved to 4."""

import os
import sqlite3
import threading
import uuid
from pathlib import Path

import pytest
from store_helpers import data_dir  # noqa: F401

from smart_dowel.errors import StoreError
from smart_dowel.store import Store, schema
from smart_dowel.store import synthetic as syn


def test_a_server_without_the_schema_is_refused_until_db_upgrade(pg_server):
    name = pg_server.new_database(schema=False)
    app = pg_server.url(database=name)
    with pytest.raises(StoreError, match=r"no smart-dowel tables yet.*dowel db upgrade"):
        Store.open(url=app)
    # the program's role may not create tables: upgrading is the owner's job, said clearly
    with pytest.raises(StoreError, match="lacks a privilege.*clinic section"):
        Store.open(url=app, upgrade=True)
    Store.open(url=pg_server.url(pg_server.OWNER, name), upgrade=True).close()
    with Store.open(url=app) as store:  # now the recorders can use it, through the grants
        sid = syn.store_session(store, "Ann", 5.0)
        assert store.session(sid)["sample_count"] == 500
        assert store.integrity_check() == "ok"


def test_a_newer_or_older_server_schema_is_refused_untouched(pg_server):
    name = pg_server.new_database()
    with pg_server.admin(name) as c:
        c.execute("UPDATE dowel_schema SET version = 99")
    with pytest.raises(StoreError, match="newer smart-dowel schema .version 99"):
        Store.open(url=pg_server.url(database=name))
    with pytest.raises(StoreError, match="newer"):
        Store.open(url=pg_server.url(pg_server.OWNER, name), upgrade=True)
    with pg_server.admin(name) as c:
        assert c.execute("SELECT version FROM dowel_schema").fetchone()[0] == 99
        c.execute("UPDATE dowel_schema SET version = 3")
    with pytest.raises(StoreError, match=r"older smart-dowel schema \(version 3.*dowel db upgrade"):
        Store.open(url=pg_server.url(database=name))


def test_a_patient_added_by_many_pcs_at_once_is_one_row(pg_url):
    spellings = ["Zoë Hart", "ZOË HART", "zoë  hart", "Zoe\u0308 Hart"]  # the last one NFD
    stores = [Store.open() for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    ids, errors = [], []

    def add(store, name):
        try:
            barrier.wait()
            w = store.start_session(name, None, flush_interval_s=0)
            w.close()
            ids.append(store.session(w.id)["patient_id"])
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=add, args=(st, spellings[i % 4]))
               for i, st in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for st in stores:
        st.close()
    assert errors == []
    assert len(set(ids)) == 1
    with Store.open() as store:
        (patient,) = store.patients()  # spelt as the first PC to commit spelt it
    assert patient["session_count"] == 8 and schema.patient_key(patient["name"]) == "zoë hart"


def test_tls_is_used_when_the_url_asks_for_it(pg_server):
    if not pg_server.ssl:
        if os.environ.get("CI"):
            pytest.fail("openssl is not installed: .ci/system-deps must install it")
        pytest.skip("openssl is not installed: no certificate for the test server's TLS")
    name = pg_server.new_database()

    def tls_of(url):
        with Store.open(url=url) as store, store.lock:
            return store.connection.execute(
                "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()

    on, version = tls_of(pg_server.url(database=name) + "?sslmode=require")
    assert on is True and version.startswith("TLS")
    assert tls_of(pg_server.url(database=name) + "?sslmode=disable")[0] is False
    # verify-full: the server's certificate checked against the clinic's root certificate
    verified = "?sslmode=verify-full&sslrootcert=%s"
    assert tls_of(pg_server.url(database=name) + verified % (pg_server.data / "server.crt"))[0]
    with pytest.raises(StoreError, match="cannot reach the database server.*root certificate"):
        Store.open(url=pg_server.url(database=name) + verified % (pg_server.root / "none.crt"))


def test_no_message_shows_a_password(pg_server):
    url = "postgresql://dowel_app:s3cret-pw@127.0.0.1:%d/nosuchdb" % pg_server.port
    with pytest.raises(StoreError) as e:
        Store.open(url=url)
    assert "s3cret" not in str(e.value) and "nosuchdb" in str(e.value)
    with pytest.raises(StoreError) as e:
        Store.open(url="postgresql://127.0.0.1:1/x?password=s3cret-pw")
    assert "s3cret" not in str(e.value) and "cannot reach the database server" in str(e.value)


def test_an_unknown_url_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("DOWEL_DATABASE_URL", "mysql://u:pw@h/db")
    with pytest.raises(StoreError, match="not a database URL.*postgresql://.*sqlite:///") as e:
        Store.open()
    assert "pw" not in str(e.value)


def test_sqlite_url_names_a_file(tmp_path, monkeypatch):
    target = tmp_path / "backup.sqlite3"
    monkeypatch.setenv("DOWEL_DATABASE_URL", "sqlite:///" + str(target))
    with Store.open() as store:
        sid = syn.store_session(store, "Ann", 2.0)
    assert target.is_file() and (os.stat(target).st_mode & 0o777) == 0o600
    with Store.open(path=target, readonly=True) as store:
        assert store.session(sid)["sample_count"] == 200


def test_version_3_sqlite_files_get_name_keys_and_session_uuids(data_dir):
    data_dir.mkdir(mode=0o700)
    path = data_dir / "sessions.sqlite3"
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(str(path))
    for script in schema.MIGRATIONS[:3]:
        conn.executescript(script)
    conn.execute("INSERT INTO patients (name, created) VALUES ('Zoë', '2026-01-01')")
    conn.execute("INSERT INTO patients (name, created) VALUES ('ZOË', '2026-01-02')")  # NOCASE let it in
    for pid in (1, 1, 2):
        conn.execute("INSERT INTO sessions (patient_id, started, source) "
                     "VALUES (?, '2026-01-01', 'dowel')", (pid,))
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    with Store.open() as store:
        rows = store.connection.execute("SELECT uuid FROM sessions ORDER BY id").fetchall()
        assert len({r[0] for r in rows}) == 3 and all(uuid.UUID(r[0]) for r in rows)
        assert sorted(p["session_count"] for p in store.patients()) == [1, 2]  # neither one lost
        assert store.list_sessions(patient="zoë")[0]["patient"] == "Zoë"
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION


def test_the_readmes_grants_are_enough_for_the_program_and_no_more(pg_server):
    """The SQL of the README's clinic section, run as the server's administrator on a new
    database: the owner creates the schema, the program's role records and reads sessions,
    and may neither delete rows nor change the schema."""
    import psycopg

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    sql = readme.split("sudo -u postgres psql -d dowel <<'SQL'\n", 1)[1].split("\nSQL\n", 1)[0]
    name = "readme%d" % os.getpid()
    with pg_server.admin() as c:
        c.execute("CREATE DATABASE %s OWNER %s" % (name, pg_server.OWNER))
    with pg_server.admin(name) as c:
        c.execute(sql)
    Store.open(url=pg_server.url(pg_server.OWNER, name), upgrade=True).close()
    with Store.open(url=pg_server.url(database=name)) as store:
        sid = syn.store_session(store, "Ann", 3.0)
        assert store.session(sid)["sample_count"] == 300
    with psycopg.connect(pg_server.url(database=name), autocommit=True) as app:
        for stmt in ("DELETE FROM sample_blocks", "DROP TABLE gaps",
                     "CREATE TABLE mine (x INTEGER)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(stmt)
        assert app.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                           ).fetchone()[0] is False
