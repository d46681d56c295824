"""`dowel ui` in a real terminal (tmux) against a fake dowel on a pty, ended by SIGTERM or by
closing its terminal (SIGHUP): the session is closed, the dowel told STOP, the terminal
restored (issue 17, case 8)."""

import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from link_fake_device import FakeDowel

import dowel_protocol as P
from smart_dowel.store import Store

REPO = Path(__file__).resolve().parents[1]
DOWEL = REPO / ".venv" / "bin" / "dowel"


def tmux(*args, check=True):
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=check).stdout


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return [int(x) for x in out.split()]


def wait(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.2)


@pytest.fixture
def dev():
    d = FakeDowel(rate_hz=100)
    yield d
    d.unplug()


def start_ui(tmp_path, dev, name):
    exit_file = tmp_path / "exit"
    data = tmp_path / "data"
    cmd = ("env -u COLUMNS -u LINES DOWEL_DATA_DIR=%s %s ui --port %s --patient Signal; "
           "echo EXIT=$? > %s; sleep 30" % (
               shlex.quote(str(data)), shlex.quote(str(DOWEL)), shlex.quote(dev.path),
               shlex.quote(str(exit_file))))
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "36", cmd)
    shell = int(tmux("display", "-p", "-t", name, "#{pane_pid}").strip())
    wait(lambda: children(shell), 10, "the dowel process")
    (pid,) = children(shell)
    wait(lambda: "session 1" in tmux("capture-pane", "-p", "-t", name) and dev.k > 100, 30,
         "the screen streaming into session 1")
    return pid, exit_file, data


def session_of(data):
    os.environ["DOWEL_DATA_DIR"] = str(data)
    try:
        with Store.open() as store:
            return store.session(1)
    finally:
        del os.environ["DOWEL_DATA_DIR"]


def test_sigterm_closes_the_session_sends_stop_and_restores_the_terminal(tmp_path, dev):
    assert shutil.which("tmux"), "tmux is needed for this test"
    name = "dowel-term-%d" % os.getpid()
    try:
        pid, exit_file, data = start_ui(tmp_path, dev, name)
        assert tmux("display", "-p", "-t", name, "#{alternate_on}").strip() == "1"
        os.kill(pid, 15)
        wait(exit_file.exists, 20, "dowel ui to exit after SIGTERM")
        assert re.search(r"EXIT=(\d+)", exit_file.read_text()).group(1) == "0"
        # the terminal is back: no alternate screen, no mouse reporting
        flags = tmux("display", "-p", "-t", name,
                     "#{alternate_on} #{mouse_any_flag} #{mouse_button_flag} "
                     "#{mouse_sgr_flag}").split()
        assert flags == ["0", "0", "0", "0"], flags
    finally:
        tmux("kill-session", "-t", name, check=False)
    assert dev.commands_of(P.CMD_STOP), "no STOP reached the dowel"
    session = session_of(data)
    assert session["ended"] is not None and session["sample_count"] > 100


def test_closing_the_terminal_window_closes_the_session_and_sends_stop(tmp_path, dev):
    assert shutil.which("tmux"), "tmux is needed for this test"
    name = "dowel-hup-%d" % os.getpid()
    try:
        pid, _exit_file, data = start_ui(tmp_path, dev, name)
        tmux("kill-session", "-t", name)  # the window is closed: SIGHUP, the tty is gone
        wait(lambda: not os.path.exists("/proc/%d" % pid) or
             open("/proc/%d/stat" % pid).read().split()[2] == "Z", 20,
             "dowel ui to exit after SIGHUP")
    finally:
        tmux("kill-session", "-t", name, check=False)
    wait(lambda: dev.commands_of(P.CMD_STOP), 5, "STOP at the dowel")
    session = session_of(data)
    assert session["ended"] is not None and session["sample_count"] > 100


def test_a_terminal_that_hangs_up_without_a_sighup_ends_the_app_like_one(tmp_path, dev):
    """Started in a pty that is not its controlling terminal (a supervisor, setsid), the app
    gets no SIGHUP when the terminal goes: it used to stay, a core at 100% (Textual's input
    thread selecting on the dead terminal). Now it closes the session, sends STOP and exits."""
    import fcntl
    import struct
    import termios

    data = tmp_path / "data"
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    env = dict(os.environ, DOWEL_DATA_DIR=str(data), TERM="xterm-256color")
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    proc = subprocess.Popen([str(DOWEL), "ui", "--port", dev.path, "--patient", "Hangup",
                             "--sound", "off"], stdin=slave, stdout=slave, stderr=slave,
                            env=env, start_new_session=True)
    os.close(slave)
    shown = bytearray()
    try:
        deadline = time.monotonic() + 30
        while b"session" not in shown or dev.k < 100:
            assert time.monotonic() < deadline, "the screen never streamed"
            try:
                shown += os.read(master, 1 << 16)
            except OSError:
                break
        os.close(master)  # the terminal is gone; no SIGHUP reaches the app
        master = None
        assert proc.wait(timeout=20) == 0
    finally:
        if master is not None:
            os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait(lambda: dev.commands_of(P.CMD_STOP), 5, "STOP at the dowel")
    session = session_of(data)
    assert session["ended"] is not None and session["sample_count"] > 100
