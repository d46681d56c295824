"""`dowel record` against the simulated dowel on a real pty: a headless session stored like
one from the TUI, the recording file, and a kill -9 of the recording process mid-set."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading

import numpy as np
from store_helpers import data_dir, dowel, mode  # noqa: F401

from smart_dowel.store import Store


def start_sim(tmp_path, scenario, reps, speed, seed=3):
    truth = tmp_path / "truth.json"
    sim = subprocess.Popen(
        [sys.executable, "-m", "smart_dowel", "simulate", "--scenario", scenario, "--reps",
         str(reps), "--seed", str(seed), "--speed", str(speed), "--truth", str(truth)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = sim.stdout.readline()
    assert line.startswith("PORT "), line + sim.stderr.read()
    return sim, line.split()[1], json.loads(truth.read_text())


def watchdog(proc, seconds=90):
    """Kill proc if the test has not finished with it by then, so a hang fails, not stalls."""
    t = threading.Timer(seconds, proc.kill)
    t.daemon = True
    t.start()
    return t


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=10)


def test_record_stores_a_session_like_the_tui_and_writes_the_recording(data_dir, tmp_path):
    sim, port, truth = start_sim(tmp_path, "lumbar-flexion", 3, speed=4)
    try:
        out = tmp_path / "session.rec"
        duration = truth["duration_s"] / 4 + 1.0
        r = dowel("record", "--port", port, "--patient", "Rec Patient", "--duration", duration,
                  "--out", out, timeout=120)
    finally:
        stop(sim)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("SESSION ")
    sid = int(r.stdout.splitlines()[0].split()[1])
    printed = [ln for ln in r.stdout.splitlines() if ln.startswith("rep ")]
    assert len(printed) == 3 and all("tailbone_contact_lost" in ln for ln in printed)
    with Store.open() as store:
        s = store.session(sid)
        samples = store.load_samples(sid)
    assert s["patient"] == "Rec Patient" and s["ended"] and s["port"] == port
    assert s["device"]["imu_name"] == "simulated" and s["device"]["rate_hz"] == 100
    assert s["rep_count"] == 3 and len(s["sets"]) == 1 and s["sets"][0]["end_s"] is not None
    assert all(r["set"] == 1 for r in s["reps"])
    assert all([f["id"] for f in r["faults"]] == ["tailbone_contact_lost"] for r in s["reps"])
    assert json.loads(json.dumps(s["calibration"]))["upright"] is not None  # captured live
    assert np.all(np.diff(samples["t_us"]) > 0)
    # the recording file holds the same stream, privately
    assert mode(out) == 0o600
    a = dowel("analyze", out, "--json")
    assert a.returncode == 0, a.stderr
    assert json.loads(a.stdout)["rep_count"] == 3
    # and the stored session re-analyses to the same reps
    b = json.loads(dowel("analyze", "session:%d" % sid, "--json").stdout)
    assert b["rep_count"] == 3


def test_kill_9_of_dowel_record_mid_set_keeps_every_committed_rep(data_dir, tmp_path):
    sim, port, truth = start_sim(tmp_path, "good", 8, speed=2)
    rec = subprocess.Popen(
        [sys.executable, "-m", "smart_dowel", "record", "--port", port, "--patient", "Kill",
         "--duration", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    reps_printed = 0
    dog = watchdog(rec)
    try:
        sid = None
        for line in rec.stdout:
            if line.startswith("SESSION "):
                sid = int(line.split()[1])
            if line.startswith("rep "):
                reps_printed += 1
                if reps_printed == 3:  # mid-set: kill the moment the third rep is reported
                    os.kill(rec.pid, signal.SIGKILL)
                    break
        else:
            raise AssertionError("dowel record ended early: %s" % rec.stderr.read())
        rec.wait(timeout=10)
    finally:
        dog.cancel()
        if rec.poll() is None:
            rec.kill()
            rec.wait()
        stop(sim)
    assert rec.returncode == -signal.SIGKILL

    conn = sqlite3.connect(data_dir / "sessions.sqlite3")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with Store.open() as store:
        s = store.session(sid)
        samples = store.load_samples(sid)
    assert s["ended"] is None and s["sets"][0]["end_s"] is None  # it was killed mid-set
    # reps reported more than a commit interval before the kill are all there
    assert s["rep_count"] >= 2
    # the samples kept run without a hole from the start of streaming to near the kill
    # (sequence numbers also count the dowel's STATUS frames, so look at the sample clock)
    # a lost commit would be a 0.5 s hole (a simulated dowel starved by a loaded machine may
    # skip a few slots of its own clock, never half a second of them)
    assert np.diff(samples["t_us"]).max() < 450_000
    assert samples["t_us"][-1] / 1e6 >= s["reps"][-1]["end_s"]
    listing = dowel("sessions", "show", sid)
    assert listing.returncode == 0 and "not closed" in listing.stdout


def test_an_unplugged_dowel_ends_nothing_the_session_goes_on_with_the_gap(data_dir, tmp_path):
    from smart_dowel.sim.server import SimulatedDowel

    port = tmp_path / "ttyDOWEL"
    sim = SimulatedDowel(scenario="good", reps=6, seed=4, speed=2)
    sim.start()
    os.symlink(sim.port, port)
    rec = subprocess.Popen(
        [sys.executable, "-m", "smart_dowel", "record", "--port", str(port), "--patient", "Unplug"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    sim2 = None
    lines = []
    dog = watchdog(rec)
    try:
        reps_before = reps_after = 0
        for line in rec.stdout:
            lines.append(line)
            if line.startswith("rep "):
                if sim2 is None:
                    reps_before += 1
                else:
                    reps_after += 1
            if reps_before == 1 and sim2 is None and line.startswith("rep "):
                sim.stop()  # the cable is pulled mid-set
                # the same dowel (same seed: the IMU mounted the same way) comes back
                sim2 = SimulatedDowel(scenario="good", reps=6, seed=4, speed=2)
                sim2.start()
                os.unlink(port)
                os.symlink(sim2.port, port)  # and plugged back in
            if reps_after == 1:
                rec.send_signal(signal.SIGTERM)  # the clinician ends the session
                break
        lines += rec.stdout.readlines()
        rec.wait(timeout=30)
    finally:
        dog.cancel()
        if rec.poll() is None:
            rec.kill()
            rec.wait()
        sim.stop()
        if sim2 is not None:
            sim2.stop()
    out = "".join(lines)
    assert rec.returncode == 0, out
    assert "The dowel is back on" in out and "1 gap(s)" in out
    sid = int([ln for ln in lines if ln.startswith("SESSION ")][0].split()[1])
    with Store.open() as store:
        s = store.session(sid)
        t = store.load_samples(sid)["t_us"] / 1e6
    assert s["ended"] and len(s["sets"]) == 1 and s["rep_count"] == 2
    assert [r["set"] for r in s["reps"]] == [1, 1]  # one set, through the unplug
    (gap,) = s["gaps"]
    assert "restarted" in out or gap["lost_frames"] == 0
    assert np.all(np.diff(t) > 0)
    before, after = t[t <= gap["start_s"]], t[t >= gap["end_s"]]
    assert len(before) and len(after) and len(before) + len(after) == len(t)
    assert s["reps"][1]["start_s"] > gap["end_s"]
