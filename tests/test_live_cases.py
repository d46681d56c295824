"""Issue 17's cases, each through a real pty with a misbehaving fake dowel on the other end and
the host's real front ends on this one: `dowel record` in a subprocess, and the clinic screen's
data path (LinkSource + Feed) where the case is about what the screen shows. Both are front ends
of one LiveSession, so the same bytes give the same stored session.
"""

import re
import time

import numpy as np
import pytest
from link_fake_device import FakeDowel
from live_helpers import Record, Screen, kill_leftovers, stored, wait_until
from store_helpers import data_dir, dowel  # noqa: F401

import dowel_protocol as P
from smart_dowel.store import Store


@pytest.fixture(autouse=True)
def no_leftovers():
    yield
    kill_leftovers()


@pytest.fixture
def dev():
    d = FakeDowel(rate_hz=100)
    yield d
    kill_leftovers()  # before the pty goes: its number may be reused by the next test
    d.unplug()


def run_front_end(kind, port, script, data_dir):
    """Run `script()` (which drives the fake dowel) while a front end records from `port`;
    returns (session dict, sample times in s, the front end)."""
    if kind == "record":
        fe = Record(port)
        sid = fe.session_id
        script()
        assert fe.stop() == 0, fe.text()
    else:
        store = Store.open()
        try:
            fe = Screen(port, store)
            sid = fe.wait_session()
            script()
            fe.stop()
        finally:
            store.close()
    session, samples = stored(sid)
    return session, samples["t_us"] / 1e6, fe


def streamed(dev, n):
    k = dev.k
    wait_until(lambda: dev.k >= k + n, 20.0, "%d more samples" % n)


# 1 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("front_end", ["record", "ui"])
def test_1_a_restart_while_streaming_keeps_session_time_continuous_with_a_gap(
        front_end, dev, data_dir):
    marks = {}

    def script():
        streamed(dev, 200)  # 2 s
        marks["restart"] = time.monotonic()
        dev.restart(streaming=True)  # t_us starts again, the first sample has RESYNC
        streamed(dev, 250)
        marks["end"] = time.monotonic()

    session, t, fe = run_front_end(front_end, dev.path, script, data_dir)
    assert np.all(np.diff(t) > 0), "session time went backwards"
    # the session is as long as it was on the wall clock (the issue: 40 s stored as 7:28)
    assert t[-1] - t[0] == pytest.approx(4.5, abs=0.6)
    (gap,) = session["gaps"]
    assert gap["cause"] == "restarted" and gap["lost_frames"] is None
    assert "boot id" in gap["reason"]  # known for certain, from the STATUS / INFO
    assert gap["end_s"] - gap["start_s"] < 0.5
    before, after = t[t <= gap["start_s"]], t[t >= gap["end_s"]]
    assert len(before) + len(after) == len(t) and len(before) >= 190 and len(after) >= 240
    assert session["lost_frames"] == 0  # nothing lost was counted that was not lost
    assert any(e["kind"] == "restart" for e in session["events"])


def test_1_a_clock_stepped_back_is_placed_on_the_host_clock(dev, data_dir):
    def script():
        streamed(dev, 150)
        with dev._lock:
            dev.t_us -= 20_000_000  # stepped back 20 s, no RESYNC, no restart
        streamed(dev, 150)

    session, t, fe = run_front_end("record", dev.path, script, data_dir)
    assert np.all(np.diff(t) > 0)
    assert t[-1] - t[0] == pytest.approx(3.0, abs=0.6)  # not a 1,055 s jump
    (gap,) = session["gaps"]
    assert gap["cause"] == "clock" and "backwards" in gap["reason"]
    assert gap["lost_frames"] == 0  # its sequence numbers went on: nothing was lost


# 2 ------------------------------------------------------------------------------------------


def test_2_a_restart_into_idle_is_started_again_within_a_second(dev, data_dir):
    marks = {}

    def script():
        streamed(dev, 150)
        marks["restart"] = time.monotonic()
        dev.restart(streaming=False)  # a watchdog reset: back idle, nothing more is sent
        wait_until(lambda: dev.streaming, 5.0, "the dowel streaming again")
        streamed(dev, 150)

    session, t, fe = run_front_end("record", dev.path, script, data_dir)
    again = [x - marks["restart"] for x in dev.times_of(P.CMD_START) if x > marks["restart"]]
    assert again and again[0] < 1.0, "START came %.2f s after the restart" % again[0]
    (gap,) = session["gaps"]
    assert gap["cause"] == "restarted" and gap["lost_frames"] is None
    assert "boot id" in gap["reason"]
    # the silence is in the session's time line, as long as it was
    assert 0.4 < gap["end_s"] - gap["start_s"] < 1.5
    assert np.all(np.diff(t) > 0)
    assert fe.stderr_has("restarted")


# 3 ------------------------------------------------------------------------------------------


def test_3_a_refused_start_is_retried_with_back_off_and_the_reason_shown(dev, data_dir):
    dev.nack_start(4, P.ERR_NOT_ALLOWED, "battery low: charge the dowel")
    rec = Record(dev.path)
    sid = rec.session_id
    rec.wait_err('refused START (not_allowed: "battery low: charge the dowel")')
    wait_until(lambda: dev.streaming, 10.0, "START accepted after the refusals")
    streamed(dev, 100)
    assert rec.proc.poll() is None, "dowel record gave up: " + rec.text()
    assert rec.stop() == 0, rec.text()
    starts = dev.times_of(P.CMD_START)
    assert len(starts) >= 5
    waits = np.diff(starts[:5])
    assert np.all(np.diff(waits) > 0), "no back-off between the retries: %s" % waits
    session, samples = stored(sid)
    assert len(samples) >= 100
    refusals = [e for e in session["events"] if e["kind"] == "refused"]
    assert refusals and "battery low" in refusals[0]["message"]


def test_3_the_screen_shows_the_refusal_and_its_text(dev, data_dir):
    from smart_dowel.tui.widgets import banner_content, status_text

    dev.nack_start(1000, P.ERR_NOT_ALLOWED, "calibrating the IMU")
    store = Store.open()
    try:
        screen = Screen(dev.path, store)
        screen.wait_session()
        wait_until(lambda: any(s.refused for s in screen.statuses()), 10.0, "a refused status")
        status = [s for s in screen.statuses() if s.refused][-1]
        wait_until(lambda: any("calibrating the IMU" in n.text for n in screen.notices()), 5.0,
                   "the notification")
        screen.stop()
    finally:
        store.close()
    line = status_text(status, screen.feed.snapshot()).plain
    assert "START REFUSED" in line and "calibrating the IMU" in line
    kind, text = banner_content(screen.feed.snapshot(), status)
    assert kind == "link" and "not_allowed" in text.plain


# 4 ------------------------------------------------------------------------------------------


def test_4_text_is_shown_logged_stored_and_listed(dev, data_dir):
    def script():
        streamed(dev, 100)
        dev.text(P.LEVEL_WARNING, "IMU read failed (OSError: [Errno 5] EIO)")
        dev.text(P.LEVEL_INFO, "IMU MPU-6050 found")
        streamed(dev, 100)

    session, t, rec = run_front_end("record", dev.path, script, data_dir)
    assert rec.stderr_has("IMU read failed (OSError: [Errno 5] EIO)")  # logged
    texts = [(e["level"], e["message"]) for e in session["events"] if e["source"] == "dowel"]
    assert texts == [("warning", "IMU read failed (OSError: [Errno 5] EIO)"),
                     ("info", "IMU MPU-6050 found")]
    shown = dowel("sessions", "show", session["id"])
    assert shown.returncode == 0
    assert "warning: IMU read failed (OSError: [Errno 5] EIO)" in shown.stdout
    assert "info: IMU MPU-6050 found" in shown.stdout


def test_4_the_screen_notifies_the_dowels_text(dev, data_dir):
    store = Store.open()
    try:
        screen = Screen(dev.path, store)
        sid = screen.wait_session()
        streamed(dev, 50)
        dev.text(P.LEVEL_ERROR, "loop error: ZeroDivisionError")
        wait_until(lambda: any("ZeroDivisionError" in n.text for n in screen.notices()), 5.0,
                   "the notification")
        screen.stop()
        note = [n for n in screen.notices() if "ZeroDivisionError" in n.text][0]
        assert note.severity == "error" and "error" in note.title
        assert [e["message"] for e in store.session(sid)["events"]] == [
            "loop error: ZeroDivisionError"]
    finally:
        store.close()


# 5, 6 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["malformed", "garbage"])
def test_5_6_a_line_with_nothing_valid_is_a_gap_shown_as_no_valid_data(fault, dev, data_dir):
    from smart_dowel.tui.widgets import status_text

    store = Store.open()
    try:
        screen = Screen(dev.path, store)
        sid = screen.wait_session()
        streamed(dev, 150)
        t_bad = time.monotonic()
        (dev.malform_frames if fault == "malformed" else dev.garbage)(True)
        wait_until(lambda: any(s.no_valid_data for s in screen.statuses()), 5.0,
                   "NO VALID DATA")
        shown_after = time.monotonic() - t_bad
        time.sleep(1.0)
        (dev.malform_frames if fault == "malformed" else dev.garbage)(False)
        streamed(dev, 150)
        bad = [s for s in screen.statuses() if s.no_valid_data][-1]
        screen.stop()
        session = store.session(sid)
        t = store.load_samples(sid)["t_us"] / 1e6
    finally:
        store.close()
    assert shown_after < 2.0
    line = status_text(bad, screen.feed.snapshot()).plain
    assert "NO VALID DATA" in line and "connected" not in line
    if fault == "malformed":
        assert "malformed frames" in bad.rejected
    else:
        assert "bad CRC" in bad.rejected or "malformed" in bad.rejected or "junk" in bad.rejected
    (gap,) = session["gaps"]
    assert gap["cause"] == "no_valid_data" and "no valid data" in gap["reason"]
    assert any(ch.isdigit() for ch in gap["reason"])  # with the counts
    assert 1.5 < gap["end_s"] - gap["start_s"] < 4.0
    # the session is as long as it was: samples before and after, the gap between them
    assert np.all(np.diff(t) > 0)
    assert t[-1] == pytest.approx(1.5 + (gap["end_s"] - gap["start_s"]) + 1.5, abs=0.6)


def test_5_a_dowel_whose_every_sample_is_malformed_records_no_valid_data(dev, data_dir):
    dev.malform_frames("samples")  # its INFO and ACKs are fine, every SAMPLE has bytes added
    rec = Record(dev.path)
    sid = rec.session_id
    rec.wait_err("No valid data from the dowel")
    time.sleep(1.0)
    code = rec.stop()
    assert code == 2, rec.text()  # not "0 samples, exit 0"
    assert rec.stderr_has("malformed frames")
    session, samples = stored(sid)
    assert len(samples) == 0
    (gap,) = session["gaps"]
    assert gap["cause"] == "no_valid_data" and gap["start_s"] == 0.0


def test_5_a_dowel_whose_every_frame_is_malformed_is_one_line_and_exit_2(dev, data_dir):
    dev.malform_frames(True)  # its INFO too: nothing it says can be read
    rec = Record(dev.path)
    rec.proc.wait(timeout=30)  # it ends by itself
    code = rec.stop()
    assert code == 2, rec.text()
    assert len(rec.err) == 1 and "not one valid frame" in rec.err[0], rec.err
    assert "malformed" in rec.err[0] and "Traceback" not in rec.text()


# 7 ------------------------------------------------------------------------------------------


def test_7_a_clock_and_rate_that_disagree_are_a_warning_shown_and_stored(dev, data_dir):
    def script():
        dev.lie_about_rate(150, 10_000)  # says 100 Hz; 150 samples a second, 10 ms apart
        wait_until(lambda: any(s.startswith("link: The dowel's timing") for s in rec_err()),
                   12.0, "the clock warning")

    holder = {}

    def rec_err():
        return holder["rec"].err if "rec" in holder else []

    rec = Record(dev.path)
    holder["rec"] = rec
    sid = rec.session_id
    script()
    assert rec.stop() == 0
    session, _ = stored(sid)
    (warning,) = [e for e in session["events"] if e["kind"] == "clock"]
    # 150 samples a second, 10 ms apart: the device clock runs about 50% fast
    assert re.search(r"clock ran [3-6]\d% fast", warning["message"]), warning["message"]
    assert re.search(r"sent 1[3-6]\d samples a second but states 100 Hz", warning["message"])
    assert rec.stderr_has("The dowel's timing does not add up")


def test_7_lost_frames_are_stored_and_shown_by_sessions_show_and_the_report(dev, data_dir,
                                                                           tmp_path):
    def script():
        streamed(dev, 100)
        dev.skip(7)
        streamed(dev, 100)
        dev.skip(30)
        streamed(dev, 100)

    session, t, rec = run_front_end("record", dev.path, script, data_dir)
    assert session["lost_frames"] == 37
    shown = dowel("sessions", "show", session["id"])
    assert "lost      37 frames" in shown.stdout, shown.stdout
    listed = dowel("sessions", "list", "--json")
    assert '"lost_frames": 37' in listed.stdout
    out = tmp_path / "r.html"
    r = dowel("report", session["id"], "--out", out)
    assert r.returncode == 0, r.stderr
    html = out.read_text()
    assert "Frames lost" in html and ">37<" in html


# 8 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_8_a_signal_ends_dowel_record_with_stop_sent_and_the_session_closed(sig, dev, data_dir):
    import signal

    rec = Record(dev.path)
    sid = rec.session_id
    streamed(dev, 100)
    assert rec.stop(getattr(signal, sig)) == 0, rec.text()
    assert dev.commands_of(P.CMD_STOP), "no STOP sent"
    session, _ = stored(sid)
    assert session["ended"] is not None


# 9 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [0x12, 0x11, 0x10])
def test_9_a_restart_after_the_seq_passed_32768_is_a_restart_not_lost_frames(protocol, data_dir):
    dev = FakeDowel(rate_hz=100, seq=40000, protocol=protocol)
    try:
        def script():
            streamed(dev, 150)
            dev.restart(streaming=True)  # seq from 0: "forward" by 25,000 from 40,150
            streamed(dev, 150)

        session, t, rec = run_front_end("record", dev.path, script, data_dir)
    finally:
        dev.unplug()
    assert session["lost_frames"] == 0  # not 25,386
    (gap,) = session["gaps"]
    assert gap["cause"] == "restarted" and gap["lost_frames"] is None
    if protocol >= 0x11:
        assert "boot id" in gap["reason"]
    assert np.all(np.diff(t) > 0)


# the firmware's busy time (issue 14) ---------------------------------------------------------


def test_the_boards_busy_time_is_shown_and_a_slot_over_80_percent_is_a_warning(dev, data_dir):
    # 100 Hz: a 10 ms slot. 9 ms at most is 90% busy: `dowel record` says so once, and its
    # progress and summary carry the figure
    def script():
        streamed(dev, 150)
        dev.busy(4000, 9000)
        streamed(dev, 250)

    session, t, rec = run_front_end("record", dev.path, script, data_dir)
    text = rec.text()
    assert text.count("busy 90% of a sample slot (over 80%)") == 1, text
    assert "board busy 40% of a slot (90% at most)" in text, text


def test_the_status_line_shows_the_busy_time_and_warns_over_80_percent():
    from smart_dowel.link.types import DeviceInfo, DeviceStatus, LinkStats
    from smart_dowel.live.state import LinkStatus, Snapshot
    from smart_dowel.tui.widgets import status_text

    def line(mean_us, max_us, board_id="e6614104032f4a2b"):
        st = DeviceStatus(12345, 100, 0, 0, 0, 0, 100, True, True, False, 0, 7, mean_us, max_us)
        info = DeviceInfo("1.1.0", "1.1", board_id, 0x0F, 2, "LSM6DSOX", 100, 4, True, 7)
        stats = LinkStats("connected", "/dev/ttyACM0", 100.0, 3100.0, 100, 100, 0, 0, 0, 0,
                          0, 0, 0, 0.01, info=info, status=st)
        return status_text(LinkStatus.from_stats(stats), Snapshot()).plain

    assert "busy 35%" in line(2000, 3500) and "BUSY" not in line(2000, 3500)
    assert "BOARD 92% BUSY" in line(5000, 9200)
    # the simulated dowel's busy time measures the PC running it: shown, never a warning
    assert "BUSY" not in line(5000, 9200, board_id=b"SIMD".hex() + "00000001")
