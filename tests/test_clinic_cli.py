"""The clinic's server from the command line: `--database URL` on the commands that touch
sessions, `dowel db upgrade`, and `dowel db copy` between a PC's SQLite file and the server
(and back), idempotent; passwords refused on the command line."""

import json
import os

import pytest
from store_helpers import data_dir, dowel  # noqa: F401

from smart_dowel.store import Store
from smart_dowel.store import synthetic as syn


def env_without_url(**extra):
    env = dict(os.environ)
    env.pop("DOWEL_DATABASE_URL", None)
    env.update(extra)
    return env


def test_db_upgrade_creates_the_server_schema_once(pg_server, data_dir):
    name = pg_server.new_database(schema=False)
    owner = pg_server.url(pg_server.OWNER, name)
    app = pg_server.url(database=name)
    r = dowel("sessions", "list", "--database", app, env=env_without_url())
    assert r.returncode == 2 and "dowel db upgrade" in r.stderr and len(r.stderr.splitlines()) == 1
    r = dowel("db", "upgrade", "--database", owner, env=env_without_url())
    assert r.returncode == 0, r.stderr
    assert "created at version" in r.stdout and name in r.stdout
    r = dowel("db", "upgrade", env=env_without_url(DOWEL_DATABASE_URL=owner))
    assert r.returncode == 0 and "up to date" in r.stdout
    r = dowel("sessions", "list", "--database", app, env=env_without_url())
    assert r.returncode == 0 and "no sessions stored yet in %s" % app in r.stdout


def test_every_session_command_reads_the_server_named_by_database(pg_server, data_dir, tmp_path):
    name = pg_server.new_database()
    app = pg_server.url(database=name)
    with Store.open(url=app) as store:
        sid = syn.store_session(store, "Ann Example", 20.0, tailbone_lost_reps=(1,))
    env = env_without_url()
    r = dowel("sessions", "list", "--json", "--database", app, env=env)
    assert r.returncode == 0, r.stderr
    assert [(s["id"], s["patient"], s["rep_count"]) for s in json.loads(r.stdout)] == [
        (sid, "Ann Example", 3)]
    r = dowel("sessions", "show", str(sid), "--database", app, env=env)
    assert r.returncode == 0 and "tailbone_contact_lost" in r.stdout
    out = tmp_path / "s.json"
    r = dowel("sessions", "export", str(sid), "--format", "json", "--out", out, "--database", app,
              env=env)
    assert r.returncode == 0 and json.loads(out.read_text())["rep_count"] == 3
    r = dowel("analyze", "session:%d" % sid, "--json", "--database", app, env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["rep_count"] == 3
    r = dowel("report", str(sid), "--out", tmp_path / "r.html", "--database", app, env=env)
    assert r.returncode == 0 and "Ann Example" in (tmp_path / "r.html").read_text()
    # and the PC's own SQLite file knows nothing of it
    r = dowel("sessions", "list", "--json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout) == []


def test_a_password_on_the_command_line_is_refused(pg_server):
    r = dowel("sessions", "list", "--database",
              "postgresql://dowel_app:hunter2@127.0.0.1:%d/x" % pg_server.port)
    assert r.returncode == 2 and "~/.pgpass" in r.stderr and "hunter2" not in r.stderr
    assert len(r.stderr.splitlines()) == 1


def test_db_copy_moves_a_pc_history_to_the_server_and_back_idempotently(pg_server, data_dir,
                                                                        tmp_path):
    store = Store.open()  # the PC's SQLite history, one session still recording
    a = syn.store_session(store, "Ann Example", 20.0, tailbone_lost_reps=(1,))
    syn.store_session(store, "Bob Example", 10.0, depth_deg=40.0, seed=3)
    open_one = store.start_session("ann example", None, flush_interval_s=0)
    open_one.add_samples(syn.synthetic_records(3.0)[0])
    open_one.flush()
    local = {s["id"]: s for s in store.list_sessions()}
    local_a = store.session(a)
    local_samples = store.load_samples(a)
    name = pg_server.new_database()
    owner = pg_server.url(pg_server.OWNER, name)
    sqlite_url = "sqlite:///%s" % (data_dir / "sessions.sqlite3")
    env = env_without_url()
    r = dowel("db", "copy", "--from", sqlite_url, "--to", owner, env=env)
    assert r.returncode == 0, r.stderr
    assert "3 sessions copied" in r.stdout and "0 already there" in r.stdout
    assert "1 not closed" in r.stdout
    r = dowel("db", "copy", "--from", sqlite_url, "--to", owner, env=env)
    assert r.returncode == 0 and "0 sessions copied" in r.stdout and "3 already there" in r.stdout
    with Store.open(url=owner) as server:
        rows = server.list_sessions()
        assert len(rows) == 3
        assert sorted(p["name"] for p in server.patients()) == ["Ann Example", "Bob Example"]
        (sa,) = [s for s in rows if s["started"] == local[a]["started"] and s["rep_count"] == 3]
        got = server.session(sa["id"])
        for key in ("reps", "sets", "gaps", "events", "device", "calibration", "sample_count"):
            assert got[key] == local_a[key], key
        assert (server.load_samples(sa["id"]) == local_samples).all()
    # the unfinished one goes on and ends on the PC: the next copy brings the server's up to date
    open_one.add_samples(syn.synthetic_records(6.0)[0][300:])
    open_one.close()
    store.close()
    r = dowel("db", "copy", "--from", sqlite_url, "--to", owner, env=env)
    assert r.returncode == 0 and "1 unfinished copies brought up to date" in r.stdout, r.stdout
    with Store.open(url=owner) as server:
        assert sorted(s["sample_count"] for s in server.list_sessions()) == [600, 1000, 2000]
        assert all(s["ended"] for s in server.list_sessions())
    # and back, as a backup file that did not exist: created 0600, the same three sessions
    backup = tmp_path / "backup.sqlite3"
    r = dowel("db", "copy", "--from", owner, "--to", "sqlite:///%s" % backup, env=env)
    assert r.returncode == 0 and "3 sessions copied" in r.stdout, r.stderr
    assert (os.stat(backup).st_mode & 0o777) == 0o600
    with Store.open(path=backup, readonly=True) as b:
        assert sorted(s["sample_count"] for s in b.list_sessions()) == [600, 1000, 2000]


def test_db_copy_needs_both_stores_and_refuses_one_into_itself(data_dir):
    r = dowel("db", "copy", "--from", "sqlite:///x.db")
    assert r.returncode == 2 and "--from URL and --to URL" in r.stderr
    url = "sqlite:///%s" % (data_dir / "sessions.sqlite3")
    with Store.open():
        pass
    r = dowel("db", "copy", "--from", url, "--to", url)
    assert r.returncode == 2 and "the same store" in r.stderr
    r = dowel("db", "copy", "--from", "sqlite:///%s" % (data_dir / "none.db"), "--to", url)
    assert r.returncode == 2 and "does not exist" in r.stderr


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite:///"])
def test_an_unknown_database_url_is_one_line(url):
    r = dowel("sessions", "list", "--database", url)
    assert r.returncode == 2 and "not a database URL" in r.stderr
    assert len(r.stderr.splitlines()) == 1


def test_db_copy_shows_a_progress_bar_on_a_terminal_and_nothing_else_elsewhere(data_dir, tmp_path):
    import io

    from smart_dowel.store import admin

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    with Store.open() as store:
        for k in range(3):
            syn.store_session(store, "P%d" % k, 2.0)
    src = "sqlite:///%s" % (data_dir / "sessions.sqlite3")
    out, tty, pipe = io.StringIO(), Terminal(), io.StringIO()
    assert admin.copy(src, "sqlite:///%s" % (tmp_path / "a.db"), out, tty) == 0
    frames = tty.getvalue().split("\r")[1:]
    assert [f.split("]")[1].split()[0] for f in frames] == ["0/3", "1/3", "2/3", "3/3"]
    assert frames[-1].startswith("[" + "#" * admin.Progress.WIDTH + "]")
    assert admin.copy(src, "sqlite:///%s" % (tmp_path / "b.db"), out, pipe) == 0
    assert pipe.getvalue() == ""
    assert out.getvalue().count("3 sessions copied") == 2


def test_dowel_record_with_database_stores_the_session_on_the_server(pg_server, data_dir,
                                                                     tmp_path):
    from test_store_record import start_sim, stop

    name = pg_server.new_database()
    app = pg_server.url(database=name)
    sim, port, truth = start_sim(tmp_path, "good", 2, speed=4)
    try:
        r = dowel("record", "--port", port, "--patient", "Rec Patient", "--duration",
                  truth["duration_s"] / 4 + 1.0, "--database", app, env=env_without_url(),
                  timeout=120)
    finally:
        stop(sim)
    assert r.returncode == 0, r.stderr
    sid = int(r.stdout.splitlines()[0].split()[1])
    with Store.open(url=app) as server:
        s = server.session(sid)
        assert s["patient"] == "Rec Patient" and s["ended"] and s["sample_count"] > 0
        assert len(server.load_samples(sid)) == s["sample_count"]
    assert not (data_dir / "sessions.sqlite3").exists()  # nothing went to the PC's file
