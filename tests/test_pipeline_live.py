"""The pipeline on the live path, as the clinic screen runs it: the endless simulated dowel (the
real firmware on the simulated board, on a virtual clock) -> wire frames -> decoder -> the TUI's
Feed (store writer, calibration, pipeline) in link-sized batches of a few samples.

Checked against the body model's truth over a simulated minute or two: the exact rep count,
the faults, the hinge angle near 0 while the patient stands between reps, the fault banner
cleared once corrected, and the automatically captured upright pose saved with the session.
"""

import numpy as np
import pytest

import dowel_protocol as P
from dowel_device.firmware import Firmware
from smart_dowel.link.types import LinkBatch
from smart_dowel.pipeline import (
    CONTACT_FAULT,
    CONTACTS,
    Calibration,
    Pipeline,
    RepCompleted,
    RepStarted,
    Samples,
    UprightCaptured,
)
from smart_dowel.pipeline.scoring import fault_confusion, match_reps
from smart_dowel.sim.board import SimBoard, VirtualClock
from smart_dowel.sim.body import make_body
from smart_dowel.store import Store
from smart_dowel.tui.feed import Feed

import dowel_synth as ds

CONTACT_OF = {fid: point for point, fid in CONTACT_FAULT.items()}


class LiveRun:
    """One live-path run: what the pipeline said after every batch, and its events."""

    def __init__(self, body, feed, states, events):
        self.body = body
        self.feed = feed
        self.states = states  # (t_s, hinge_deg, contacts_on tuple, fault_id, cue, rep_count)
        self.events = events  # (t_s of the batch's last sample, event)


def run_live(scenario, seed, duration_s, actions=(), batch=(5, 10), store=None):
    """Run the endless scenario on a virtual clock for duration_s of device time.

    actions: (device time s, patient move) pairs, queued like the screen's keys.
    """
    body = make_body(scenario, seed=seed, endless=True)
    board = SimBoard(body, VirtualClock())
    firmware = Firmware(board, rate_hz=100, autostart=True)
    decoder = P.StreamDecoder()
    feed = Feed(lambda message: None, store=store, source="simulated")
    feed.begin_session()
    states, events = [], []
    push = feed.pipeline.push

    def recording_push(samples, record=None):
        evs = push(samples, record)
        st = feed.pipeline.state
        t = float(samples.t_s[-1])
        events.extend((t, e) for e in evs)
        states.append((st.t_s, st.hinge_deg, tuple(st.contacts[c].on for c in CONTACTS),
                       st.fault.id if st.fault is not None else None, st.cue, st.rep_count))
        return evs

    feed.pipeline.push = recording_push
    rng = np.random.default_rng(seed)
    todo = sorted(actions)
    pending = []
    index = 0
    end_us = int(duration_s * 1e6)
    while board.clock.us < end_us:
        while todo and board.clock.us >= todo[0][0] * 1e6:
            body.queue(todo.pop(0)[1])
        firmware.poll()
        if board.sent:
            data = b"".join(board.sent)
            board.sent.clear()
            pending += [m for m in decoder.feed(data) if m.type == P.SAMPLE]
            size = int(rng.integers(batch[0], batch[1] + 1))
            while len(pending) >= size:
                msgs, pending = pending[:size], pending[size:]
                feed.on_batch(LinkBatch(index, msgs, [0.0] * len(msgs), b"", 0.0, 0.0))
                index += 1
    assert decoder.rejected() == 0 and decoder.lost_frames == 0
    return LiveRun(body, feed, states, events)


def truth_within(run, until_s):
    return [r for r in run.body.truth["reps"] if r["bottom_s"] < until_s]


def reps_within(run, until_s):
    return [r for r in run.feed.pipeline.reps if r.bottom_s < until_s]


def check_against_truth(run, duration_s):
    until = duration_s - 3.0  # a rep still under way at the end is not judged
    truth = truth_within(run, until)
    reps = reps_within(run, until)
    assert len(truth) >= 5
    assert len(reps) == len(truth), ([r.to_dict()["bottom_s"] for r in reps],
                                     [r["bottom_s"] for r in truth])
    assert len(match_reps(reps, truth)) == len(truth)
    tp, fp, fn = fault_confusion(reps, truth)
    assert fp == 0 and fn == 0, ([r.fault_ids for r in reps], [r["faults"] for r in truth])
    for rep, tr in zip(reps, truth):
        assert rep.depth_deg == pytest.approx(tr["depth_deg"], abs=6.0)


def standing_times(run, duration_s):
    """Times (s) the patient stands with the dowel on the back, clear of any rep or handling."""
    truth = run.body.truth
    busy = [(r["start_s"] - 0.3, r["end_s"] + 1.0) for r in truth["reps"]]
    busy += [(h["start_s"], (h["end_s"] if h["end_s"] is not None else duration_s) + 1.5)
             for h in truth["handling"]]
    out = []
    for t, hinge, on, *_ in run.states:
        if hinge is not None and all(on) and not any(a <= t <= b for a, b in busy):
            out.append((t, hinge))
    return out


def check_standing_hinge(run, duration_s):
    first = next(t for t, e in run.events if isinstance(e, UprightCaptured))
    standing = [(t, h) for t, h in standing_times(run, duration_s) if t > first + 1.0]
    assert len(standing) > 40
    hinge = np.array([h for _, h in standing])
    assert np.median(hinge) < 2.5, np.median(hinge)
    assert hinge.max() < 6.0, [(round(t, 2), round(h, 1)) for t, h in standing if h >= 6.0][:5]


def check_banner(run):
    """A contact fault shows only while that contact is off; after a rep ends with its
    contacts back on, only its depth, speed or squat faults remain, until the next rep."""
    for t, hinge, on, fault_id, cue, count in run.states:
        if fault_id in CONTACT_OF:
            assert not on[CONTACTS.index(CONTACT_OF[fault_id])], (t, fault_id)
        assert (fault_id is None) == (cue == "")
    # the state right after each completed rep
    after = {}
    for t, e in run.events:
        if isinstance(e, RepCompleted):
            after[e.rep.index] = e.rep
    for t, hinge, on, fault_id, cue, count in run.states:
        rep = after.pop(count, None)
        if rep is None:
            continue
        others = [f for f in rep.fault_ids if f not in CONTACT_OF]
        if all(on):
            assert (fault_id in others) if others else fault_id is None, (rep.to_dict(), fault_id)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mixed_demo_live(seed, tmp_path):
    store = Store.open(tmp_path)
    try:
        run = run_live("mixed", seed, 95.0, store=store)
        check_against_truth(run, 95.0)
        check_standing_hinge(run, 95.0)
        check_banner(run)
        # the automatically captured upright pose is saved with the session
        captured = [e for _, e in run.events if isinstance(e, UprightCaptured)]
        assert captured and all(e.automatic for e in captured)
        sid = run.feed.writer.id
        run.feed.close()
        saved = store.session(sid)["calibration"]["upright"]
        assert saved == pytest.approx(list(run.feed.calibration.upright), abs=1e-6)
    finally:
        store.close()


@pytest.mark.parametrize("seed", [1, 3, 5])
def test_good_demo_live_with_patient_moves(seed):
    # the scripted set, then the clinician's keys: each move once, then a good rep
    moves = ["lumbar-flexion", "squat", "shallow", "thoracic-rounding", "rushed",
             "head-forward", "good"]
    actions = [(34.0 + 7.0 * i, m) for i, m in enumerate(moves)]
    run = run_live("good", seed, 90.0, actions)
    check_against_truth(run, 90.0)
    check_standing_hinge(run, 90.0)
    check_banner(run)


@pytest.mark.parametrize("seed", [4, 8])
def test_moves_queued_while_the_dowel_is_picked_up(seed):
    # keys pressed while the virtual patient picks the dowel up from the table: the reps
    # follow straight on, without a still moment standing in between. The upright pose must
    # not be taken at the still bottom of one of them (Hinge then read ~80 deg standing).
    rng = np.random.default_rng(seed)
    pick_up = next(h for h in make_body("mixed", seed=seed, endless=True).truth["handling"]
                   if h["kind"] == "pick_up")
    moves = ["good", "lumbar-flexion", "thoracic-rounding", "squat", "rushed", "good",
             "head-forward", "shallow", "good"]
    t = 0.5 * (pick_up["start_s"] + pick_up["end_s"])
    actions = []
    for m in moves:
        actions.append((t, m))
        t += float(rng.uniform(1.0, 4.0))
    run = run_live("mixed", seed, 70.0, actions)
    check_against_truth(run, 70.0)
    check_standing_hinge(run, 70.0)
    check_banner(run)


def test_a_wrong_upright_pose_recovers():
    # the upright pose taken at the bottom of a rep (a stale calibration, or `c` pressed
    # mid-rep): standing reads ~60 deg. The first rise is recognised and the pose retaken.
    body = make_body("good", seed=3, endless=True)
    d = body.render(100, duration_s=75.0)
    first = body.truth["reps"][0]
    k = int(round(first["bottom_s"] * 100))
    cal = Calibration()
    cal.set_upright([d["ax_g"][k], d["ay_g"][k], d["az_g"][k]])
    samples = Samples.from_arrays(d)
    pipe = Pipeline(calibration=cal)
    events = []
    for i in range(0, len(samples), 7):
        events += pipe.push(samples[i:i + 7])
    truth = body.truth["reps"]
    # at most the first rep is lost while the pose is wrong; the rest count, with their depth
    assert len(pipe.reps) >= len(truth) - 1
    assert len(match_reps(pipe.reps, truth)) == len(pipe.reps)
    for rep in pipe.reps:
        assert 45.0 < rep.depth_deg < 75.0
    assert any(isinstance(e, UprightCaptured) for e in events)
    assert pipe.state.hinge_deg < 4.0  # standing at the end
    assert pipe.state.rep_count == len(pipe.reps)


def test_a_sideways_upright_recovers_while_standing():
    # an upright pose 30 deg off to the side: standing reads ~30 deg, no rep can count.
    # Standing still with all pads on, far from it, the pose is taken again.
    body = make_body("good", seed=2, endless=True)
    d = body.render(100, duration_s=80.0)
    g = np.array([d["ax_g"][50], d["ay_g"][50], d["az_g"][50]])
    axis = np.cross(g, [1.0, 0.0, 0.0])
    axis /= np.linalg.norm(axis)
    a = np.radians(30.0)
    tilted = g * np.cos(a) + np.cross(axis, g) * np.sin(a)  # g rotated 30 deg about axis
    cal = Calibration()
    cal.set_upright(tilted)
    pipe = Pipeline(calibration=cal)
    samples = Samples.from_arrays(d)
    for i in range(0, len(samples), 9):
        pipe.push(samples[i:i + 9])
    assert pipe.state.hinge_deg < 4.0
    assert pipe.calibration.upright == pytest.approx(tuple(g / np.linalg.norm(g)), abs=0.05)


def test_banner_rule_contact_fault_clears_when_the_contact_is_back():
    s = ds.Script(rate_hz=100).rep(60, lose="tailbone").stand(2.0).rep(30).stand(2.0).rep(60)
    s.stand(2.0)
    samples = Samples.from_arrays(s.render())
    pipe = Pipeline()
    seen = []
    for k in range(0, len(samples), 5):
        evs = pipe.push(samples[k:k + 5])
        st = pipe.state
        seen.append((st.t_s, st.fault.id if st.fault else None, st.contacts["tailbone"].on,
                     st.rep_count, any(isinstance(e, RepStarted) for e in evs)))
    # while the tailbone is off in rep 1 the banner says so; once it is back, it is clear
    lost = [x for x in seen if x[3] == 0 and not x[2]]
    assert lost and all(x[1] == "tailbone_contact_lost" for x in lost[3:])
    back = [x for x in seen if x[3] == 0 and x[2] and x[0] > lost[-1][0]]
    assert back and all(x[1] is None for x in back)
    # rep 2 is shallow: the cue stays while standing after it, until rep 3 starts
    after2 = [x for x in seen if x[3] == 2]
    started3 = next(i for i, x in enumerate(after2) if x[4])
    assert all(x[1] == "shallow" for x in after2[:started3])
    assert all(x[1] is None for x in after2[started3:])
    # rep 3 is good: nothing to correct at the end
    assert seen[-1][3] == 3 and seen[-1][1] is None
    assert [r.fault_ids for r in pipe.reps] == [["tailbone_contact_lost"], ["shallow"], []]


def test_calibration_is_queued_on_the_session_writer(tmp_path):
    # Store.set_calibration writes at once and raises on a full disk; the Feed queues it on
    # the session writer instead, which retries
    store = Store.open(tmp_path)
    try:
        feed = Feed(lambda message: None, store=store)
        feed.begin_session()

        def refuse(*args, **kw):
            raise AssertionError("the calibration must go through the session writer")

        store.set_calibration = refuse
        d = make_body("good", seed=1).render(100, duration_s=2.0)
        feed.on_samples(Samples.from_arrays(d))  # the upright pose is captured: saved
        feed.calibrate_upright()
        sid = feed.writer.id
        feed.close()
        saved = store.session(sid)["calibration"]["upright"]
        assert saved == pytest.approx(list(feed.calibration.upright), abs=1e-9)
    finally:
        store.close()
