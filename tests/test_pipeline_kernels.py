"""The pipeline's compiled kernels (numba) and the same code as plain Python (what runs where
numba has no wheels, or with DOWEL_NO_JIT=1) give the same reps, hinge angle and contact
states, bit for bit, on data that takes every branch: a reversed gyro (the sign is learnt and
switched), gaps, repeated samples, impacts, the dowel off the back and on a table."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from smart_dowel.pipeline import Pipeline, Samples, analyze
from smart_dowel.pipeline import jit
from smart_dowel.sim.body import make_body

# run in a child interpreter with or without the compiled kernels: prints the results
CHILD = r"""
import hashlib, json, sys
import numpy as np
sys.path[:0] = %(path)r
from smart_dowel.pipeline import Pipeline, Samples, analyze
from smart_dowel.pipeline import jit
from smart_dowel.sim.body import make_body

def variants():
    body = make_body("mixed", reps=6, seed=5)
    d = body.render(100)
    d = {k: np.asarray(v, dtype=float) for k, v in d.items() if k in (
        "t", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps", "head_n", "midback_n", "tailbone_n")}
    yield "plain", d
    rev = dict(d, gx_dps=-d["gx_dps"], gy_dps=-d["gy_dps"], gz_dps=-d["gz_dps"])
    yield "gyro-reversed", rev
    rough = {k: v.copy() for k, v in d.items()}
    n = len(rough["t"])
    for k in ("ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps"):
        rough[k][1::3] = rough[k][0::3][: len(rough[k][1::3])]  # sample-and-hold
    rough["az_g"][n // 3: n // 3 + 4] += 2.5  # an impact
    keep = np.ones(n, dtype=bool)
    keep[n // 2: n // 2 + 150] = False  # a 1.5 s hole
    rough = {k: v[keep] for k, v in rough.items()}
    yield "rough", rough
    table = {k: v for k, v in d.items() if not k.endswith("_n")}
    yield "no-forces", table

out = {"enabled": jit.ENABLED}
for name, d in variants():
    s = Samples.from_arrays(d)
    r = analyze(s)
    p = Pipeline()
    for off in range(0, len(s), 7):
        p.push(s[off:off + 7])
    out[name] = {
        "reps": [x.to_dict() for x in r.reps],
        "stream": [x.to_dict() for x in p.reps] == [x.to_dict() for x in r.reps],
        "hinge": hashlib.sha1(np.ascontiguousarray(r.hinge_deg).tobytes()).hexdigest(),
        "on": {c: hashlib.sha1(v.tobytes()).hexdigest() for c, v in r.contacts_on.items()},
    }
print(json.dumps(out))
"""


def _child(no_jit):
    env = dict(os.environ)
    env.pop("DOWEL_NO_JIT", None)
    if no_jit:
        env["DOWEL_NO_JIT"] = "1"
    path = [str(REPO / "protocol"), str(REPO / "host")]
    proc = subprocess.run([sys.executable, "-c", CHILD % {"path": path}], capture_output=True,
                          text=True, cwd=str(REPO), env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.mark.skipif(not jit.ENABLED, reason="numba is not installed here: nothing to compare")
def test_compiled_and_plain_python_kernels_agree():
    compiled, plain = _child(False), _child(True)
    assert compiled.pop("enabled") and not plain.pop("enabled")
    for name, res in compiled.items():
        assert res["reps"], name  # every variant has reps to compare
        assert res["stream"] and plain[name]["stream"], name
        assert res == plain[name], name


def test_single_sample_pushes_equal_batch_analysis():
    """Live use pushes one sample at a time at worst: the kernels' state carried between calls
    gives the batch result (and the live picture follows)."""
    body = make_body("good", reps=3, seed=2)
    s = Samples.from_arrays(body.render(100))
    result = analyze(s)
    p = Pipeline()
    for i in range(len(s)):
        p.push(s[i:i + 1])
    assert [r.to_dict() for r in p.reps] == [r.to_dict() for r in result.reps]
    assert len(result.reps) == 3
    assert p.state.rep_count == 3
    assert np.isfinite(p.state.hinge_deg)


def test_the_short_batch_unwrap_gives_numpys_angles_bit_for_bit():
    # a live batch of a few samples takes a loop instead of np.unwrap; an angle carried
    # through +-180 degrees (a dowel upside down) must read the same either way
    import numpy as np

    from smart_dowel.pipeline.inclination import _unwrap_deg_short

    rng = np.random.default_rng(4)
    for _ in range(300):
        n = int(rng.integers(1, 32))
        vals = ((np.cumsum(rng.normal(0, 90, n)) + 180.0) % 360.0 - 180.0).tolist()
        if rng.random() < 0.2:
            vals[int(rng.integers(0, n))] = 180.0
        last = None if rng.random() < 0.3 else float(rng.uniform(-400, 400))
        seq = vals if last is None else [last] + vals
        want = np.degrees(np.unwrap(np.radians(seq)))
        want = want if last is None else want[1:]
        assert _unwrap_deg_short(vals, last) == want.tolist()


def test_the_inclination_of_a_sample_has_the_same_bits_in_any_batching():
    """Streaming and batch analysis must give the same reps: a held-still gravity (an impact
    blanked, a frozen sender) reads exactly equal angles, and a rep's end is where a new low
    stops coming. A matrix product rounded differently for a batch of 7 than for a whole
    recording, and a fast gyro-less rep ended 0.16 s later live than in re-analysis."""
    from smart_dowel.pipeline.inclination import Inclination

    rng = np.random.default_rng(3)
    n = 3000
    t = np.arange(n) / 25.0
    pitch = np.radians(np.cumsum(rng.normal(0, 1.5, n)) % 120.0)
    roll = np.radians(np.cumsum(rng.normal(0, 0.4, n)))
    g = np.stack([np.sin(pitch), np.cos(pitch) * np.sin(roll), np.cos(pitch) * np.cos(roll)], 1)
    for k in rng.integers(0, n - 10, 40):
        g[k:k + int(rng.integers(2, 10))] = g[k]  # held: exactly equal readings
    whole = Inclination().update(t, g)[0]
    inc = Inclination()
    parts = np.concatenate([inc.update(t[i:i + 7], g[i:i + 7])[0] for i in range(0, n, 7)])
    assert np.isfinite(whole[1:]).all()
    assert np.array_equal(whole, parts, equal_nan=True)
