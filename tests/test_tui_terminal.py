"""`dowel demo` in a real terminal (tmux): the screen comes up, the Reps count rises as the
simulated patient works, and `q` quits with exit status 0."""

import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOWEL = REPO / ".venv" / "bin" / "dowel"


def tmux(*args):
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def reps_shown(screen):
    """The number under `Reps`, read from the big digits' three rows (None if not found)."""
    lines = screen.splitlines()
    for i, line in enumerate(lines):
        m = re.search(r"│ ?Reps", line)
        if m is None:
            continue
        col = m.start() + len(m.group()) - 4
        rows = [lines[i + k][col:col + 18] for k in (1, 2, 3)]
        return decode_digits(rows)
    return None


# textual's 3x3 digit font, rows joined, for the digits 0-9
FONT = {
    "┏━┓┃ ┃┗━┛": "0", "╺┓  ┃ ╺┻╸": "1", "╺━┓┏━┛┗━╸": "2", "╺━┓ ━┫╺━┛": "3",
    "╻ ╻┗━┫  ╹": "4", "┏━╸┗━┓╺━┛": "5", "┏━╸┣━┓┗━┛": "6", "╺━┓  ┃  ╹": "7",
    "┏━┓┣━┫┗━┛": "8", "┏━┓┗━┫╺━┛": "9",
}


def decode_digits(rows):
    out = ""
    for x in range(0, 18, 3):
        cell = "".join(r[x:x + 3].ljust(3) for r in rows)
        if not cell.strip():
            break
        if cell not in FONT:
            return None
        out += FONT[cell]
    return int(out) if out else None


def test_dowel_demo_in_tmux_counts_reps_and_quits_cleanly(tmp_path):
    assert shutil.which("tmux"), "tmux is needed for this test"
    name = "dowel-test-%d" % os.getpid()
    exit_file = tmp_path / "exit"
    data = tmp_path / "data"
    # COLUMNS/LINES (pytest may export them) would override the terminal's real size
    cmd = "env -u COLUMNS -u LINES DOWEL_DATA_DIR=%s %s demo --scenario good --seed 7; echo EXIT=$? > %s; sleep 5" % (
        shlex.quote(str(data)), shlex.quote(str(DOWEL)), shlex.quote(str(exit_file)))
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "36", cmd)
    try:
        seen = []
        screen = ""
        deadline = time.monotonic() + 60.0  # generous: the patient hinges in real time
        while time.monotonic() < deadline:
            screen = tmux("capture-pane", "-p", "-t", name)
            n = reps_shown(screen)
            if n is not None and (not seen or seen[-1] != n):
                seen.append(n)
            if seen and seen[-1] >= 1 and seen[0] == 0:
                break
            time.sleep(0.3)
        assert seen and seen[0] == 0 and seen[-1] >= 1, "Reps never rose:\n" + screen
        for word in ("Head", "Mid-back", "Tailbone", "Hinge", "Reps", "simulated /dev/pts/"):
            assert word in screen, word
        tmux("send-keys", "-t", name, "q")
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and not exit_file.exists():
            time.sleep(0.2)
        assert exit_file.exists(), "dowel demo did not exit after q:\n" + tmux(
            "capture-pane", "-p", "-t", name)
        assert re.search(r"EXIT=(\d+)", exit_file.read_text()).group(1) == "0"
        assert (data / "sessions.sqlite3").exists()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
