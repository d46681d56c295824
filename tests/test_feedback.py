"""Feedback schedules (issue 15): which reps of a scripted set get live feedback under each
schedule, what the screen shows of it, and what the store keeps (each rep: feedback given?)."""

import os
import re
import subprocess
import sys

import pytest

from smart_dowel.feedback import (
    BANDWIDTH,
    DESCRIPTIONS,
    EVERY,
    FADED,
    POST_SET,
    SCHEDULES,
    FeedbackSchedule,
    faded_live,
)
from smart_dowel.live import LiveSession
from smart_dowel.live import events as E
from smart_dowel.store import Store
from smart_dowel.tui import examples as X
from smart_dowel.tui.widgets import banner_content
from test_tui_app import SIZE, idle_app, screen_text, show, sync

# the scripted set: 9 reps, rep 3 and 7 too deep (90°, band 45-65°), the tailbone lost in rep 5
REPS = 9
DEPTHS = [60.0, 60.0, 90.0, 60.0, 60.0, 60.0, 90.0, 60.0, 60.0]
TAILBONE_LOST = (4,)  # 0-based: rep 5


def test_faded_gives_all_of_the_first_third_half_of_the_second_a_fifth_of_the_last():
    def live(n):
        return [k for k in range(1, n + 1) if faded_live(k, n)]

    assert live(9) == [1, 2, 3, 4, 6, 7]
    assert live(15) == [1, 2, 3, 4, 5, 6, 8, 10, 11]
    assert live(30) == list(range(1, 11)) + [11, 13, 15, 17, 19] + [21, 26]
    assert live(1) == [1]
    with pytest.raises(ValueError):
        FeedbackSchedule("sometimes")


def run_set(tmp_path, schedule):
    """The scripted set through a LiveSession (real pipeline, real store); returns (events,
    {rep number in progress: set of feedback_live seen while it ran}, stored session)."""
    store = Store.open(tmp_path / "data")
    events = []
    during = {}
    live = LiveSession(events.append, store=store, patient="Pat", feedback=schedule,
                       target_reps=REPS)
    try:
        live.begin_session()
        live.start_set()
        for b in X.synthetic_batches(duration_s=2.0 + REPS * 5.0 + 2.0, reps=REPS, batch=10,
                                     depth_deg=DEPTHS, tailbone_lost_reps=TAILBONE_LOST):
            live.on_batch(b)
            snap = live.snapshot()
            if snap.set_running and snap.phase in ("descent", "bottom", "ascent"):
                during.setdefault(snap.rep_count + 1, set()).add(snap.feedback_live)
        sid = live.writer.id
        last = live.snapshot()
    finally:
        live.close()
    stored = store.session(sid)
    store.close()
    return events, during, stored, last


EXPECTED = {
    EVERY: [True] * 9,
    FADED: [True, True, True, True, False, True, True, False, False],
    BANDWIDTH: [False, False, True, False, True, False, True, False, False],
    POST_SET: [False] * 9,
}


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_scripted_set_gets_feedback_on_the_reps_its_schedule_says(tmp_path, schedule):
    events, during, stored, last = run_set(tmp_path, schedule)
    counted = [e for e in events if isinstance(e, E.RepCounted)]
    assert len(counted) == REPS
    faults = [tuple(e.rep.fault_ids) for e in counted]
    assert "tailbone_contact_lost" in faults[4] and not any(faults[k] for k in (0, 1, 3))
    expected = EXPECTED[schedule]
    # each stored rep says whether it got feedback; the set keeps its schedule
    assert [r["feedback"] for r in stored["reps"]] == expected
    assert stored["sets"][0]["feedback_schedule"] == schedule
    # what the screen was told while each rep ran
    for number in range(1, REPS + 1):
        seen = during[number]
        if schedule == BANDWIDTH and number in (3, 5, 7):
            # silent until the tailbone fault (5) or the hinge passes the band (3, 7)
            assert seen == {False, True}, (number, seen)
        else:
            assert seen == {expected[number - 1]}, (number, seen)
    # the set ends at its target with its rows (the summary) and schedule
    done = [e for e in events if isinstance(e, E.SetFinished)]
    assert len(done) == 1 and done[0].reason == "target" and len(done[0].rows) == REPS
    assert done[0].feedback_schedule == schedule
    kind, text = banner_content(last, None)
    if schedule == POST_SET:
        assert kind == "good" and text.plain.startswith("Set 1: 9 reps, 8 good; Tailbone lost ×1")
        assert "2 of 9 in the 45-65° band" not in text.plain and "7 of 9" in text.plain


def test_practice_reps_outside_a_set_always_get_feedback():
    fs = FeedbackSchedule(POST_SET)
    assert fs.live
    assert fs.rep_done(1, (), 60.0, 45.0) is True
    fs.start_set(10)
    assert not fs.live
    fs.end_set()
    assert fs.live


@sync
async def test_screen_names_the_schedule_and_f_cycles_it_for_the_next_set():
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        await show(app, pilot, X.connected_snapshot(set_running=False, group="practice"),
                   X.connected_status())
        assert "Feedback: every" in screen_text(app)
        for name in (FADED, BANDWIDTH, POST_SET, EVERY):
            await pilot.press("f")
            await pilot.pause(0.1)
            assert app.feed.feedback.next_schedule == name
        await pilot.press("f")
        await pilot.pause(0.1)
        app.feed.start_set()
        await pilot.pause(0.2)
        assert "Feedback: faded" in screen_text(app)
        await pilot.press("f")  # a set runs: it waits for the next set
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "Feedback: faded" in text and "next set: bandwidth" in text


@sync
async def test_no_feedback_rep_hides_lost_and_faults_until_the_set_ends():
    app = idle_app()
    async with app.run_test(size=SIZE) as pilot:
        hidden = X.lost_snapshot()
        from dataclasses import replace

        hidden = replace(hidden, feedback_schedule=POST_SET, feedback_next=POST_SET,
                         feedback_live=False,
                         rows=tuple(replace(r, feedback=False) for r in hidden.rows))
        await show(app, pilot, hidden, X.connected_status())
        text = screen_text(app)
        assert "LOST" not in text and "TAILBONE" not in text
        assert "Feedback post-set · this rep on your own" in text
        assert "(after the set)" in text and "shallow, rushed" not in text
        # the set ends: the table shows every rep's faults, the banner the summary
        await show(app, pilot, replace(hidden, set_running=False, feedback_live=True))
        text = screen_text(app)
        assert "shallow, rushed" in text and "(after the set)" not in text
        assert "Set 2: 5 reps" in text


def test_help_names_every_schedule():
    for cmd in ("ui", "demo"):
        out = subprocess.run([sys.executable, "-m", "smart_dowel", cmd, "--help"],
                             capture_output=True, text=True, check=True).stdout
        flat = " ".join(out.split())
        assert "--feedback SCHEDULE" in flat
        for name in SCHEDULES:
            assert "%s: %s" % (name, " ".join(DESCRIPTIONS[name].split())) in flat


def test_a_version_2_database_upgrades_and_its_reps_say_feedback_unknown(tmp_path):
    import sqlite3

    from smart_dowel.store import schema

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    path = data / "sessions.sqlite3"
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(str(path))  # a database as version 2 of the program left it
    for script in schema.MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute("INSERT INTO patients (name, created) VALUES ('Old', '2026-01-01')")
    conn.execute("INSERT INTO sessions (patient_id, started, source) VALUES (1, '2026-01-01', 'dowel')")
    conn.execute("INSERT INTO reps (session_id, number, start_s, depth_deg) VALUES (1, 1, 2.0, 50)")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with Store.open(data) as store:
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert [r["feedback"] for r in store.session(1)["reps"]] == [None]


def test_history_and_report_compare_reps_with_and_without_feedback(tmp_path):
    from smart_dowel import report
    from smart_dowel.tui.screens import feedback_cell

    def rep(k, depth, faulty):
        return {"start_s": 2.0 + 5 * k, "bottom_s": 3.5 + 5 * k, "end_s": 5.5 + 5 * k,
                "depth_deg": depth, "descent_s": 1.5, "ascent_s": 2.0,
                "faults": ["tailbone_contact_lost"] if faulty else []}

    with Store.open(tmp_path / "data") as store:
        ids = []
        for given_faulty, withheld_faulty in (((1, 0, 0, 0), (1, 1)), ((0, 0, 0, 0), (0, 1))):
            w = store.start_session("Pat", {}, source="synthetic")
            w.start_set(45.0, 6, start_s=0.0, feedback_schedule=FADED)
            k = 0
            for f in given_faulty:
                w.add_rep(rep(k, 50.0, f), feedback=True)
                k += 1
            for f in withheld_faulty:
                w.add_rep(rep(k, 40.0, f), feedback=False)
                k += 1
            w.add_rep(rep(k, 55.0, 0))  # feedback not known: in neither group
            w.close()
            ids.append(w.id)
        progress = store.progress("Pat")
        html = report.build(store, ids[-1])
    first, second = progress
    assert first["with_feedback"] == {"rep_count": 4, "mean_depth_deg": 50.0, "fault_rate": 0.25}
    assert first["without_feedback"] == {"rep_count": 2, "mean_depth_deg": 40.0,
                                         "fault_rate": 1.0}
    assert second["with_feedback"]["fault_rate"] == 0.0
    assert second["without_feedback"]["fault_rate"] == 0.5
    assert feedback_cell(first["with_feedback"]) == "4 reps · 25% faulty · 50°"
    assert "With and without live feedback" in html
    row = re.search(r"<tr[^>]*><td>#%d</td>(.*?)</tr>" % ids[0],
                    html.split("With and without live feedback")[1]).group(1)
    assert re.findall(r'class="n">([^<]*)<', row) == ["4", "25%", "50°", "2", "100%", "40°"]


def test_a_session_closed_as_the_last_rep_returns_keeps_that_rep_like_its_reanalysis(tmp_path):
    # the clinician stops the moment the patient is back up: the live count (stored) counts
    # that rep, as `dowel analyze session:ID` of the stored samples does
    from smart_dowel.pipeline import analyze
    from smart_dowel.store.replay import load_session

    store = Store.open(tmp_path / "data")
    live = LiveSession(lambda e: None, store=store, patient="Pat")
    try:
        live.begin_session()
        for b in X.synthetic_batches(duration_s=2.0 + 2 * 5.0 + 3.2, reps=3, batch=10):
            live.on_batch(b)
        sid = live.writer.id
        assert live.snapshot().rep_count == 2  # the last one's end is not yet seen settling
    finally:
        live.close()
    stored = store.session(sid)
    samples, cal, _ = load_session(sid, store)
    assert len(stored["reps"]) == 3
    assert analyze(samples, calibration=cal).rep_count == 3
    store.close()
