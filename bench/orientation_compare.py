"""Our orientation stage against well-kept AHRS libraries, measured where it matters: the hinge
angle RMS of the whole pipeline against the body model's truth, with only the orientation stage
swapped. Libraries: imufusion (x-io's Fusion, C) and ahrs (Mahony, pure Python), when installed.

    .venv/bin/python bench/orientation_compare.py [--seeds N]

Variants: plain, rotated mounting, reversed gyro sign, +2 deg/s gyro bias, impacts at the
bottom of reps. Prints the RMS (deg) per filter and variant, and the time per sample.
"""

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
for sub in ("host", "protocol", "bench"):
    p = os.path.join(HERE, "..", sub) if sub != "bench" else HERE
    if p not in sys.path:
        sys.path.insert(0, p)

import pipeline_accuracy as pa  # noqa: E402
from smart_dowel.pipeline import Pipeline  # noqa: E402
from smart_dowel.pipeline.batch import Analysis  # noqa: E402
from smart_dowel.pipeline.orientation import Orientation  # noqa: E402
from smart_dowel.pipeline.scoring import angle_rms_deg  # noqa: E402

SCENARIOS = ("good", "rushed", "squat", "mixed")
VARIANTS = ("plain", "rotated", "gyro-reversed", "gyro-bias", "impacts")


class _Library(Orientation):
    """Our stage for everything but the gravity estimate, which a library gives."""

    def __init__(self, config, make):
        super().__init__(config)
        self.make = make
        self.lib = None
        self.last = None

    def update(self, t, ax, ay, az, gx, gy, gz, ok, has_gyro):
        out, adev, acc = super().update(t, ax, ay, az, gx, gy, gz, ok, has_gyro)
        a = np.stack([ax, ay, az], 1)
        g = np.stack([gx, gy, gz], 1)
        lib = np.full_like(out, np.nan)
        for i in range(len(t)):
            if not ok[i]:
                continue
            dt = 0.01 if self.last is None else max(1e-4, float(t[i] - self.last))
            self.last = float(t[i])
            if self.lib is None:
                self.lib = self.make(dt)
            lib[i] = self.lib.step(g[i], a[i], dt)
        lib[~np.isfinite(out[:, 0])] = np.nan
        return lib, adev, acc


class _Fusion:
    def __init__(self, dt):
        import imufusion

        self.ahrs = imufusion.Ahrs()
        self.ahrs.set_sample_period(dt)

    def step(self, gyro, accel, dt):
        self.ahrs.update_no_magnetometer(np.ascontiguousarray(gyro), np.ascontiguousarray(accel))
        return self.ahrs.get_gravity()


class _Mahony:
    def __init__(self, dt):
        from ahrs.filters import Mahony

        self.f = Mahony(frequency=1.0 / dt)
        self.q = np.array([1.0, 0.0, 0.0, 0.0])

    def step(self, gyro, accel, dt):
        self.f.Dt = dt
        self.q = self.f.updateIMU(self.q, gyr=np.radians(gyro), acc=accel * 9.80665)
        w, x, y, z = self.q
        # the world's up axis seen in the sensor frame (what an accelerometer at rest reads)
        return np.array([2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z])


def _filters():
    out = {"ours": None}
    try:
        import imufusion  # noqa: F401

        out["imufusion"] = _Fusion
    except ImportError:
        pass
    try:
        import ahrs  # noqa: F401

        out["ahrs-mahony"] = _Mahony
    except ImportError:
        pass
    return out


def variant(data, truth, name, seed):
    if name == "gyro-bias":
        d = {k: np.array(v) for k, v in data.items()}
        d["gx_dps"] = d["gx_dps"] + 2.0
        d["gy_dps"] = d["gy_dps"] - 2.0
        return d, truth
    return pa.make_variant(data, truth, name, seed)


def rms_with(make, samples, d):
    pipe = Pipeline()
    if make is not None:
        pipe.orientation = _Library(pipe.config, make)
    n = len(samples)
    record = {"hinge_deg": np.full(n, np.nan), "head_on": np.zeros(n, bool),
              "midback_on": np.zeros(n, bool), "tailbone_on": np.zeros(n, bool), "offset": 0}
    t0 = time.perf_counter()
    pipe.push(samples, record=record)
    dt = time.perf_counter() - t0
    a = Analysis(samples, pipe.reps, record["hinge_deg"], {}, [], pipe.calibration, pipe.config)
    return angle_rms_deg(a.hinge_deg, d["hinge_deg"], d.get("on_back")), dt / n, len(pipe.reps)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args(argv)
    filters = _filters()
    rows = {}
    for v in VARIANTS:
        for sc in SCENARIOS:
            for seed in range(1, args.seeds + 1):
                body = pa.make_body(sc, seed=seed)
                d, truth = variant(body.render(100), body.truth["reps"], v, seed)
                s = pa.samples_of(d)
                for name, make in filters.items():
                    rms, per, nrep = rms_with(make, s, d)
                    r = rows.setdefault((name, v), [[], [], 0, 0])
                    r[0].append(rms)
                    r[1].append(per)
                    r[2] += nrep == len(truth)
                    r[3] += 1
    print("%-12s %-14s %10s %10s %10s %9s" % ("filter", "variant", "rms deg", "worst", "count ok", "us/sample"))
    for (name, v), (rms, per, ok, n) in rows.items():
        rms = np.array(rms)
        print("%-12s %-14s %10.2f %10.2f %6d/%-3d %9.1f" % (
            name, v, float(np.sqrt(np.nanmean(rms ** 2))), float(np.nanmax(rms)), ok, n,
            1e6 * float(np.mean(per))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
