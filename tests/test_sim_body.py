"""The simulated patient: every scenario looks like what it is named after, and the ground
truth agrees with the sensor signals."""

import json

import numpy as np
import pytest

from smart_dowel.sim.body import FAULT_IDS, SCENARIOS, make_body
from sim_support import inclination_deg

RATE = 100
CONTACT = {"head_contact_lost": "head_n", "midback_contact_lost": "midback_n",
           "tailbone_contact_lost": "tailbone_n"}


def _at(d, t_s):
    return int(round(t_s * RATE))


def _rendered(scenario, seed=11, reps=None):
    body = make_body(scenario, reps=reps, seed=seed)
    return body, body.truth, body.render(RATE)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_truth_is_consistent_with_the_signals(scenario):
    body, truth, d = _rendered(scenario)
    n = len(d["t"])
    for k in ("t", "head_n", "midback_n", "tailbone_n", "ax_g", "ay_g", "az_g", "gx_dps",
              "gy_dps", "gz_dps", "hinge_deg"):
        assert len(d[k]) == n and np.all(np.isfinite(d[k])), k
    assert d["t"][-1] == pytest.approx(truth["duration_s"], abs=1.0 / RATE)
    json.dumps(truth)  # the truth file is JSON
    assert truth["reps"], scenario
    prev_end = 0.0
    for rep in truth["reps"]:
        assert prev_end < rep["start_s"] < rep["bottom_s"] < rep["end_s"] <= truth["duration_s"]
        prev_end = rep["end_s"]
        assert set(rep["faults"]) <= set(FAULT_IDS)
        h = d["hinge_deg"]
        # the inclination leaves ~0 at start_s, peaks at depth_deg at bottom_s, is back at end_s
        assert h[_at(d, rep["start_s"])] < 3.0
        assert h[_at(d, rep["end_s"])] < 3.0
        rep_span = h[_at(d, rep["start_s"]):_at(d, rep["end_s"])]
        assert h[_at(d, rep["bottom_s"])] == pytest.approx(rep["depth_deg"], abs=2.0)
        assert rep_span.max() == pytest.approx(rep["depth_deg"], abs=2.0)
        # the accelerometer, in its arbitrary mounting, sees the same inclination
        ref_i = slice(_at(d, rep["start_s"] - 0.8), _at(d, rep["start_s"] - 0.1))
        acc = np.stack([d["ax_g"], d["ay_g"], d["az_g"]], axis=1)
        inc = inclination_deg(acc, acc[ref_i].mean(axis=0))
        assert inc[_at(d, rep["bottom_s"])] == pytest.approx(rep["depth_deg"], abs=4.0)


@pytest.mark.parametrize("scenario", ["lumbar-flexion", "thoracic-rounding", "head-forward"])
def test_a_faulted_contact_drops_out_during_the_rep_and_the_others_stay(scenario):
    body, truth, d = _rendered(scenario)
    fault = {"lumbar-flexion": "tailbone_contact_lost", "thoracic-rounding": "midback_contact_lost",
             "head-forward": "head_contact_lost"}[scenario]
    for rep in truth["reps"]:
        assert rep["faults"] == [fault]
        standing = slice(_at(d, rep["start_s"] - 0.8), _at(d, rep["start_s"]))
        bottom = _at(d, rep["bottom_s"])
        for f, key in CONTACT.items():
            before = np.median(d[key][standing])
            assert before > 1.0, key  # all three pads touch while standing
            if f == fault:
                assert d[key][bottom] < 0.1 * before, (key, d[key][bottom], before)
            else:
                assert d[key][bottom] > 0.5 * before, (key, d[key][bottom], before)


def test_good_reps_keep_every_contact_with_light_head_firm_midback():
    body, truth, d = _rendered("good", seed=5)
    for rep in truth["reps"]:
        assert rep["faults"] == []
        assert 45.0 <= rep["depth_deg"] <= 90.0
        assert rep["descent_s"] >= 1.3
        span = slice(_at(d, rep["start_s"]), _at(d, rep["end_s"]))
        assert d["head_n"][span].min() > 0.5
        assert d["midback_n"][span].min() > 3.0
        assert d["tailbone_n"][span].min() > 2.0
        assert np.median(d["head_n"][span]) < np.median(d["midback_n"][span])


def test_reps_vary_in_depth_and_tempo_and_people_differ():
    a = make_body("good", reps=6, seed=1).truth["reps"]
    b = make_body("good", reps=6, seed=2).truth["reps"]
    assert np.std([r["depth_deg"] for r in a]) > 1.0
    assert np.std([r["end_s"] - r["start_s"] for r in a]) > 0.05
    assert [r["depth_deg"] for r in a] != [r["depth_deg"] for r in b]


def test_squat_has_little_inclination_and_a_vertical_drop():
    body, truth, d = _rendered("squat", seed=3)
    acc_norm = np.linalg.norm(np.stack([d["ax_g"], d["ay_g"], d["az_g"]], axis=1), axis=1)
    for rep in truth["reps"]:
        assert rep["faults"] == ["squat_pattern"]
        assert 12.0 <= rep["depth_deg"] <= 32.0
        descent = slice(_at(d, rep["start_s"]), _at(d, rep["bottom_s"]))
        # dropping the hips: the specific force dips below 1 g, then rises above it to brake
        assert acc_norm[descent].min() < 0.96
        assert acc_norm[descent].max() > 1.03


def test_shallow_and_rushed_reps():
    _, truth, _ = _rendered("shallow")
    for rep in truth["reps"]:
        assert rep["faults"] == ["shallow"] and 15.0 <= rep["depth_deg"] <= 35.0
    _, truth, d = _rendered("rushed")
    for rep in truth["reps"]:
        assert rep["faults"] == ["rushed"] and rep["descent_s"] < 1.0
        assert rep["depth_deg"] >= 45.0


def test_gyro_agrees_with_the_rate_of_inclination():
    body, truth, d = _rendered("good", seed=9)
    gyro = np.stack([d["gx_dps"], d["gy_dps"], d["gz_dps"]], axis=1)
    rate = np.gradient(d["hinge_deg"], 1.0 / RATE)
    rep = truth["reps"][1]
    span = slice(_at(d, rep["start_s"]), _at(d, rep["end_s"]))
    # the pitch rate is the largest part of the rotation during a rep
    assert np.corrcoef(np.linalg.norm(gyro[span], axis=1), np.abs(rate[span]))[0, 1] > 0.9
    peak = np.abs(rate[span]).max()
    assert np.linalg.norm(gyro[span], axis=1).max() == pytest.approx(peak, rel=0.2)


def test_the_same_seed_gives_the_same_patient():
    a, b = make_body("mixed", seed=42), make_body("mixed", seed=42)
    assert a.truth == b.truth
    ra, rb = a.render(50), b.render(50)
    for k in ra:
        assert np.array_equal(ra[k], rb[k]), k
    assert make_body("mixed", seed=43).truth != a.truth
    for t in (1.0, 20.0, 33.3):
        assert a.sensors_at(t) == b.sensors_at(t)


def test_mixed_handles_the_dowel_and_mixes_every_fault():
    body, truth, d = _rendered("mixed", seed=4)
    kinds = [h["kind"] for h in truth["handling"]]
    assert kinds[0] == "on_table" and "pick_up" in kinds and kinds[-1] == "on_table"
    faults = {f for r in truth["reps"] for f in r["faults"]}
    assert faults == set(FAULT_IDS)
    assert sum(1 for r in truth["reps"] if not r["faults"]) >= 3
    table = [h for h in truth["handling"] if h["kind"] == "on_table"][0]
    lying = slice(_at(d, table["start_s"]), _at(d, table["end_s"]) - 1)
    # on the table: lying flat, nothing pressing the pads
    assert np.all(d["hinge_deg"][lying] > 80.0)
    for key in CONTACT.values():
        assert d[key][lying].max() == 0.0


def test_live_control_does_the_queued_rep_next():
    body = make_body("good", reps=0, seed=8, endless=True)
    assert body.duration_s is None
    for i in range(50):
        body.sensors_at(i * 0.1)  # the patient stands there for 5 s
    now = body.now_s
    body.queue("squat")
    body.queue("lumbar-flexion")
    reps = body.truth["reps"]
    assert [r["faults"] for r in reps] == [["squat_pattern"], ["tailbone_contact_lost"]]
    assert now < reps[0]["start_s"] < now + 1.0
    assert reps[1]["start_s"] > reps[0]["end_s"]
    at_bottom = body.sensors_at(reps[0]["bottom_s"])
    assert 12.0 < at_bottom["hinge_deg"] < 32.0
    at_bottom = body.sensors_at(reps[1]["bottom_s"])
    assert at_bottom["tailbone_n"] < 0.5 and at_bottom["midback_n"] > 3.0
    body.queue("rest")
    assert len(body.truth["reps"]) == 2  # both had started; rest cancels only what has not


def test_live_control_picks_the_dowel_up_first_when_it_lies_on_the_table():
    body = make_body("mixed", reps=2, seed=8, endless=True)
    end_of_set = body.truth["handling"][-1]["start_s"]  # put down for good
    t = 0.0
    while t < end_of_set + 5.0:
        body.sensors_at(t)
        t += 0.1
    assert body.sensors_at(t)["hinge_deg"] > 80.0  # lying there
    body.queue("good")
    truth = body.truth
    rep = truth["reps"][-1]
    assert rep["start_s"] > t and rep["faults"] == []
    pick = [h for h in truth["handling"] if h["kind"] == "pick_up"][-1]
    assert t < pick["start_s"] and pick["end_s"] < rep["start_s"]
    assert body.sensors_at(rep["bottom_s"])["hinge_deg"] == pytest.approx(rep["depth_deg"], abs=3)
