"""Patient data is private and survives bad conditions: file modes, sanitised file names, a
damaged database, one from a newer version, a full disk, a read-only directory."""

import contextlib
import hashlib
import os
import sqlite3
import subprocess
import sys

import pytest
from store_helpers import data_dir, dowel, mode  # noqa: F401

from smart_dowel.errors import StoreError
from smart_dowel.store import Store, default_export_name, safe_name
from smart_dowel.store import synthetic as syn
from smart_dowel.store.export import export_session

from test_store_db import sample_msgs


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


# --- privacy -------------------------------------------------------------------------------------


def test_database_wal_and_shm_are_readable_by_the_user_only(data_dir, loose_umask):
    with Store.open() as store:
        s = store.start_session("Ann", None, flush_interval_s=0)
        s.add_samples(sample_msgs(20))
        s.flush()
        db = data_dir / "sessions.sqlite3"
        for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            assert f.exists() and mode(f) == 0o600, f
        assert mode(data_dir) == 0o700
        s.close()


def test_loose_permissions_of_an_existing_store_are_reported_never_changed(data_dir, loose_umask):
    with Store.open():
        pass
    db = data_dir / "sessions.sqlite3"
    os.chmod(db, 0o644)
    os.chmod(data_dir, 0o775)
    r = dowel("sessions", "list")
    assert r.returncode == 0, r.stderr
    assert mode(db) == 0o644 and mode(data_dir) == 0o775  # not ours to chmod: warned
    assert "%s can be written by other users (mode 775" % data_dir in r.stderr
    assert "%s can be read by other users (mode 644)" % db in r.stderr


def test_exports_are_private_even_over_an_existing_readable_file(data_dir, tmp_path, loose_umask):
    out = tmp_path / "out.json"
    out.write_text("old")
    os.chmod(out, 0o644)
    with Store.open() as store:
        sid = syn.store_session(store, "Ann", 10.0)
        export_session(store, sid, "json", out, force=True)
        export_session(store, sid, "csv", tmp_path / "new.csv")
    assert mode(out) == 0o600 and mode(tmp_path / "new.csv") == 0o600
    assert '"patient": "Ann"' in out.read_text()


@pytest.mark.parametrize("name", ["../../etc/passwd", "/abs/path", "..", "a\\b:c*d?.txt",
                                  "Zoë Ñúñez", "", "  ", "\x00\x1b[31m", "CON", "x" * 300])
def test_patient_names_never_reach_file_names_unsanitised(name):
    slug = safe_name(name)
    assert slug and len(slug) <= 40
    assert set(slug) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    fn = default_export_name(7, name, "csv")
    assert "/" not in fn and "\\" not in fn and ".." not in fn and fn.endswith(".csv")


def test_export_into_a_directory_uses_a_sanitised_name(data_dir, tmp_path):
    with Store.open() as store:
        sid = syn.store_session(store, "../../Evil <Name>", 10.0)
    outdir = tmp_path / "exports"
    outdir.mkdir()
    r = dowel("sessions", "export", sid, "--format", "json", "--out", outdir)
    assert r.returncode == 0, r.stderr
    assert [p.name for p in outdir.iterdir()] == ["session-%d-evil-name.json" % sid]


def test_nothing_listens_on_the_network(data_dir, tmp_path):
    with Store.open() as store:
        sid = syn.store_session(store, "Ann", 10.0)
    code = (
        "import sys, smart_dowel.store.record, smart_dowel.store.cli, smart_dowel.report as r\n"
        "from smart_dowel.store import Store\n"
        "r.build(Store.open(), %d)\n"
        "bad = [m for m in ('socketserver', 'http.server', 'asyncio', 'xmlrpc.server') "
        "if m in sys.modules]\n"
        "print(bad)\n" % sid
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --- a damaged database, or one from a newer version ---------------------------------------------


def test_a_file_that_is_not_a_database_is_refused_untouched(data_dir):
    data_dir.mkdir()
    db = data_dir / "sessions.sqlite3"
    db.write_bytes(b"this is not sqlite, just some text someone saved here\n" * 200)
    db.chmod(0o600)
    before = digest(db)
    with pytest.raises(StoreError, match="damaged or is not a smart-dowel database"):
        Store.open()
    assert digest(db) == before
    r = dowel("sessions", "list")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Session store" in r.stderr and "left untouched" in r.stderr
    assert digest(db) == before


def test_damaged_pages_are_reported_and_the_file_left_as_it_was(data_dir):
    with Store.open() as store:
        for k in range(3):
            syn.store_session(store, "Ann", 30.0, seed=k)
        store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db = data_dir / "sessions.sqlite3"
    raw = bytearray(db.read_bytes())
    page = 4096
    for p in range(1, len(raw) // page):  # keep the header page, scribble over the rest
        raw[p * page : p * page + 64] = b"\xa5" * 64
    db.write_bytes(bytes(raw))
    before = digest(db)
    r = dowel("sessions", "list")
    assert r.returncode == 2 and "damaged" in r.stderr, r.stderr + r.stdout
    assert digest(db) == before


def test_a_database_from_a_newer_version_is_refused_untouched(data_dir):
    with Store.open() as store:
        syn.store_session(store, "Ann", 10.0)
        store.connection.execute("PRAGMA user_version = 99")
    db = data_dir / "sessions.sqlite3"
    before = digest(db)
    with pytest.raises(StoreError, match="newer version of smart-dowel .*version 99.*untouched"):
        Store.open()
    r = dowel("report", "1", "--out", data_dir / "r.html")
    assert r.returncode == 2 and "newer version" in r.stderr
    assert digest(db) == before
    assert not (data_dir / "r.html").exists()


# --- a full disk ---------------------------------------------------------------------------------


def _fill_up(store):
    """Limit the database to its current size plus a few pages: the next writes find it full."""
    conn = store.connection
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute("PRAGMA max_page_count = %d" % (pages + 2))


def _free_space(store):
    store.connection.execute("PRAGMA max_page_count = 1073741823")


def test_a_full_disk_keeps_the_samples_in_memory_and_saves_them_later(data_dir):
    with Store.open() as store:
        s = store.start_session("Ann", None, flush_interval_s=0)
        rec, raw, _ = syn.synthetic_records(30.0)
        msgs = syn.to_messages(rec, raw)
        s.add_samples(msgs[:500])
        s.flush()
        _fill_up(store)
        s.add_samples(msgs[500:])
        s.add_rep({"start_s": 6.0, "end_s": 9.0, "depth_deg": 50})
        with pytest.raises(StoreError, match="disk .* is full.*nothing already saved was lost"):
            s.flush()
        assert s.pending() == (2500, 1) and s.error is not None
        with pytest.raises(StoreError):
            s.close()  # still full: close says so and keeps everything queued
        assert store.load_samples(s.id)["seq"].tolist() == list(range(500))
        assert store.integrity_check() == "ok"
        _free_space(store)
        s.close()
        assert s.pending() == (0, 0) and s.error is None
        back = store.load_samples(s.id)
        assert (back["seq"] == rec["seq"]).all() and (back["tailbone"] == rec["tailbone"]).all()
        assert store.session(s.id)["rep_count"] == 1 and store.session(s.id)["ended"]


def test_the_writer_thread_reports_a_full_disk_and_retries(data_dir):
    import threading

    errors = []
    told = threading.Event()

    def on_error(e):
        errors.append(e)
        told.set()

    with Store.open() as store:
        s = store.start_session("Ann", None, flush_interval_s=0.05, on_error=on_error)
        _fill_up(store)
        rec, raw, _ = syn.synthetic_records(60.0)
        s.add_samples(syn.to_messages(rec, raw))
        assert told.wait(30), "the writer never reported the full disk"
        assert isinstance(errors[0], StoreError) and "full" in str(errors[0])
        assert s.pending()[0] == len(rec)
        _free_space(store)
        s.close()
        assert len(store.load_samples(s.id)) == len(rec)


def test_record_says_when_the_store_cannot_keep_up():
    from smart_dowel.store.record import Recorder

    class Out:
        def __init__(self):
            self.text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    err = Out()
    r = Recorder(session=None, pipe=None, out=Out(), err=err)
    e = StoreError("the disk holding x is full")
    r.on_store_error(e)
    r.on_store_error(e)
    r.drain(0.0)
    assert err.text.count("\n") == 1 and "kept in memory" in err.text


# --- a read-only directory -----------------------------------------------------------------------


@contextlib.contextmanager
def read_only(directory):
    """Make a directory read-only for this user. Root ignores file modes, so for root the
    directory is bind-mounted read-only onto itself (needs CAP_SYS_ADMIN, as root has outside
    unprivileged containers); anyone else gets chmod 0500."""
    directory = str(directory)
    if os.geteuid() != 0:
        os.chmod(directory, 0o500)
        try:
            yield
        finally:
            os.chmod(directory, 0o700)
        return
    for cmd in (["mount", "--bind", directory, directory],
                ["mount", "-o", "remount,bind,ro", directory]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, (
            "as root this test needs a read-only bind mount (%s): run the tests as a normal "
            "user, or give the container CAP_SYS_ADMIN" % r.stderr.strip())
    try:
        yield
    finally:
        subprocess.run(["umount", directory], check=True)


def test_a_read_only_data_directory_is_read_and_a_write_is_a_clear_error(data_dir, tmp_path):
    with Store.open() as store:
        sid = syn.store_session(store, "Ann", 10.0)
    db = data_dir / "sessions.sqlite3"
    before = digest(db)
    out = tmp_path / "out"
    out.mkdir()
    with read_only(data_dir):
        with pytest.raises(StoreError) as e:
            with Store.open() as store:
                store.start_session("Ann", None)
        assert "not writable" in str(e.value) and "DOWEL_DATA_DIR" in str(e.value)
        # every read works, and creates nothing (issue 13, item 11)
        r = dowel("sessions", "list")
        assert r.returncode == 0 and "Ann" in r.stdout, r.stdout + r.stderr
        r = dowel("sessions", "show", sid)
        assert r.returncode == 0 and "Session %d: Ann" % sid in r.stdout, r.stderr
        r = dowel("sessions", "export", sid, "--format", "csv", "--out", out / "s.csv")
        assert r.returncode == 0, r.stderr
        r = dowel("report", sid, "--out", out / "r.html")
        assert r.returncode == 0, r.stderr
        r = dowel("analyze", "session:%d" % sid)
        assert r.returncode == 0 and "1 rep" in r.stdout, r.stderr
        assert sorted(p.name for p in data_dir.iterdir()) == ["sessions.sqlite3"]
    assert digest(db) == before
    assert (out / "s.csv").read_text().startswith("t,ax")
    with Store.open() as store:
        assert store.session(sid)["rep_count"] == 1


def test_a_data_directory_that_cannot_be_created_is_a_clear_error(tmp_path, monkeypatch):
    parent = tmp_path / "locked"
    parent.mkdir()
    monkeypatch.setenv("DOWEL_DATA_DIR", str(parent / "data"))
    with read_only(parent):
        with pytest.raises(StoreError, match="cannot create the data directory .*DOWEL_DATA_DIR"):
            Store.open()
        r = dowel("sessions", "list")  # a read creates nothing, so it needs nothing created
        assert r.returncode == 0 and "no sessions stored yet" in r.stdout, r.stderr
    assert not (parent / "data").exists()


def test_a_directory_where_the_database_should_be_is_refused(data_dir):
    (data_dir / "sessions.sqlite3").mkdir(parents=True)
    with pytest.raises(StoreError, match="is a directory"):
        Store.open()


def test_sqlite_errors_are_never_shown_raw(data_dir):
    with Store.open() as store:
        store.close()
        with pytest.raises(StoreError, match="closed"):
            store.list_sessions()
    assert issubclass(StoreError, Exception) and not issubclass(StoreError, sqlite3.Error)
