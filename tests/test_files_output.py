"""Files the user names and the data directory (issue 13, items 1-3): --out never replaces
what exists without --force and never anything but a regular file, never writes through a
symbolic link; temporary files are created securely; nothing we did not create is chmodded
and a symlinked database is refused."""

import hashlib
import os
import socket
import stat

import pytest
from store_helpers import data_dir, dowel, dowel_as_user, mode, open_tmp  # noqa: F401

from smart_dowel import private
from smart_dowel.private import OutputFileError, atomic_output, create_private
from smart_dowel.recording import RecordingWriter
from smart_dowel.store import Store
from smart_dowel.store import synthetic as syn


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def session(data_dir):
    with Store.open() as store:
        return syn.store_session(store, "Ann", 10.0)


def one_line(r):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    return r.stderr


def out_commands(sid, out):
    return [
        ("report", sid, "--out", out),
        ("sessions", "export", sid, "--format", "json", "--out", out),
        ("sessions", "export", sid, "--format", "csv", "--out", out),
    ]


# --- item 1: nothing existing is replaced without --force, nothing but a regular file ever -------


def test_an_existing_out_file_is_kept_unless_force_is_given(session, tmp_path):
    out = tmp_path / "keep.txt"
    for cmd in out_commands(session, out):
        out.write_text("the clinician's notes\n")
        err = one_line(dowel(*cmd))
        assert "%s already exists; it was left untouched (use --force" % out in err
        assert out.read_text() == "the clinician's notes\n"
        r = dowel(*cmd, "--force")
        assert r.returncode == 0, r.stderr
        assert out.read_text() != "the clinician's notes\n" and mode(out) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dowel-data", "keep.txt"]  # no temp


def test_record_out_onto_an_existing_file_is_refused_before_a_session_starts(data_dir, tmp_path):
    out = tmp_path / "old.rec"
    out.write_bytes(b"an older recording")
    err = one_line(dowel("record", "--port", "/dev/nonexistent-dowel", "--out", out))
    assert "already exists" in err and out.read_bytes() == b"an older recording"
    assert not data_dir.exists()  # no session was started, not even a database


def test_record_out_replaces_a_regular_file_only_with_force(tmp_path):
    out = tmp_path / "old.rec"
    out.write_bytes(b"an older recording")
    os.chmod(out, 0o644)
    with pytest.raises(OutputFileError, match="already exists"):
        RecordingWriter(out, {})
    assert out.read_bytes() == b"an older recording"
    with RecordingWriter(out, {}, force=True) as rec:
        rec.write(b"new")
    assert out.read_bytes().startswith(b"# smart-dowel recording v1\n") and mode(out) == 0o600


def special_files(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    return {"a device": "/dev/null", "a named pipe (FIFO)": str(fifo),
            "a socket": str(sock_path)}, sock


def test_devices_fifos_and_sockets_are_never_replaced_even_with_force(session, tmp_path):
    specials, sock = special_files(tmp_path)
    try:
        for kind, path in specials.items():
            before = os.lstat(path)
            for cmd in out_commands(session, path):
                for force in ((), ("--force",)):
                    err = one_line(dowel(*cmd, *force))
                    assert "%s is %s; smart-dowel only ever writes regular files" % (path, kind) in err
            err = one_line(dowel("record", "--port", "/dev/nonexistent", "--out", path, "--force"))
            assert "is %s" % kind in err
            after = os.lstat(path)
            assert (after.st_ino, after.st_mode, after.st_rdev) == (
                before.st_ino, before.st_mode, before.st_rdev), path
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    finally:
        sock.close()


def test_never_writes_through_a_symbolic_link(session, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("not yours\n")
    link = tmp_path / "link.html"
    link.symlink_to(victim)
    for cmd in out_commands(session, link) + [("record", "--port", "/dev/x", "--out", link)]:
        for force in ((), ("--force",)):
            err = one_line(dowel(*cmd, *force))
            assert "%s is a symbolic link" % link in err
    with pytest.raises(OutputFileError, match="symbolic link"):
        RecordingWriter(link, {}, force=True)
    assert victim.read_text() == "not yours\n" and os.path.islink(link)
    # a dangling link is no different: nothing is created where it points
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "created-by-us")
    one_line(dowel("report", session, "--out", dangling))
    assert not (tmp_path / "created-by-us").exists()


def test_a_missing_directory_is_one_line(session, tmp_path):
    err = one_line(dowel("report", session, "--out", tmp_path / "no" / "r.html"))
    assert "the directory %s does not exist" % (tmp_path / "no") in err


# --- item 2: temporary files cannot be predicted, planted or followed ----------------------------


def test_temporary_file_is_random_private_and_beside_the_target(tmp_path):
    out = tmp_path / "export.json"
    # the old scheme's names, planted by someone who can write the directory
    victim = tmp_path / "victim"
    victim.write_text("secret\n")
    planted = tmp_path / (".export.json.%d.tmp" % os.getpid())
    planted.symlink_to(victim)
    with atomic_output(out) as f:
        f.write("patient data")
        temps = [p for p in tmp_path.iterdir() if p.name.startswith(".export.json.")
                 and p != planted]
        assert len(temps) == 1 and not temps[0].is_symlink()
        assert mode(temps[0]) == 0o600 and not out.exists()
    assert out.read_text() == "patient data" and mode(out) == 0o600
    assert victim.read_text() == "secret\n" and not temps[0].exists()


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    out = tmp_path / "r.html"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(out, force=True) as f:
            f.write("half")
            raise RuntimeError("disk trouble")
    assert out.read_text() == "old" and os.listdir(tmp_path) == ["r.html"]


def test_a_file_appearing_during_the_write_is_not_replaced(tmp_path):
    out = tmp_path / "r.html"
    with pytest.raises(OutputFileError, match="appeared while it was being written"):
        with atomic_output(out) as f:
            f.write("ours")
            out.write_text("someone else's")
    assert out.read_text() == "someone else's" and os.listdir(tmp_path) == ["r.html"]


def test_record_out_is_opened_exclusively_without_following_links(tmp_path, monkeypatch):
    """Even if a link is planted between the check and the open, O_EXCL|O_NOFOLLOW refuses it."""
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    link = tmp_path / "out.rec"
    link.symlink_to(victim)
    monkeypatch.setattr(private, "check_target", lambda path, force=False: None)
    with pytest.raises(OutputFileError):
        create_private(link, force=False)
    assert victim.read_text() == "root's file\n"


def test_a_hostile_user_in_a_shared_directory_gets_nothing(session, tmp_path):
    """A world-writable sticky directory: another user plants links at every name we might
    use; root's export neither follows them nor leaves anything readable."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    target = shared / "export.json"
    victim = tmp_path / "etc-shadow"
    victim.write_text("root only\n")
    os.chmod(victim, 0o600)
    for pid in range(os.getpid(), os.getpid() + 50):
        (shared / (".export.json.%d.tmp" % pid)).symlink_to(victim)
    r = dowel("sessions", "export", session, "--format", "json", "--out", target)
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "root only\n"
    assert mode(target) == 0o600 and not target.is_symlink()


# --- item 3: no chmod of what we did not create; a symlinked database refused --------------------


def test_an_existing_shared_data_directory_keeps_its_mode(tmp_path, monkeypatch):
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    monkeypatch.setenv("DOWEL_DATA_DIR", str(shared))
    r = dowel("sessions", "list")
    assert r.returncode == 0, r.stderr
    assert "can be written by other users (mode 1777" in r.stderr
    with Store.open() as store:
        syn.store_session(store, "Ann", 5.0)
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o1777
    assert mode(shared / "sessions.sqlite3") == 0o600  # the file we created is private


def test_a_new_data_directory_is_created_private(tmp_path, monkeypatch):
    d = tmp_path / "new" / "data"
    monkeypatch.setenv("DOWEL_DATA_DIR", str(d))
    old = os.umask(0o022)
    try:
        with Store.open():
            pass
    finally:
        os.umask(old)
    assert mode(d) == 0o700 and mode(d / "sessions.sqlite3") == 0o600


def test_a_symlinked_database_is_refused_and_its_target_untouched(data_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere.sqlite3"
    with Store.open(path=elsewhere):
        pass
    os.chmod(elsewhere, 0o644)
    data_dir.mkdir(mode=0o700)
    (data_dir / "sessions.sqlite3").symlink_to(elsewhere)
    before = digest(elsewhere)
    for cmd in (("sessions", "list"), ("report", "1", "--out", tmp_path / "r.html")):
        err = one_line(dowel(*cmd))
        assert "sessions.sqlite3 is a symbolic link; smart-dowel does not follow links" in err
    with pytest.raises(Exception, match="symbolic link"):
        Store.open()
    assert mode(elsewhere) == 0o644 and digest(elsewhere) == before


def test_another_users_private_data_directory_is_one_clear_line(open_tmp):
    """Run as a real unprivileged user (root would read it anyway)."""
    theirs = open_tmp / "theirs"
    theirs.mkdir()
    os.chmod(theirs, 0o700 if os.geteuid() == 0 else 0o000)  # root's own; or unreadable to us
    env = dict(os.environ, DOWEL_DATA_DIR=str(theirs))
    try:
        for cmd in (("sessions", "list"), ("sessions", "show", "1"),
                    ("report", "1", "--out", "/tmp/never-%d.html" % os.getpid())):
            r = dowel_as_user(*cmd, env=env)
            err = one_line(r)
            assert "the data directory %s cannot be read by you (Permission denied: owner uid" \
                % theirs in err, err
            assert "DOWEL_DATA_DIR" in err
    finally:
        os.chmod(theirs, 0o700)
    assert os.listdir(theirs) == []
