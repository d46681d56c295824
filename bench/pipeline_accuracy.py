"""Accuracy of the signal pipeline on every simulated scenario over several seeds: exact rep
count, hinge-angle RMS error against the body model's truth, fault precision and recall.

    .venv/bin/python bench/pipeline_accuracy.py [--seeds N] [--rate HZ] [--variant NAME]

Variants: plain (the body model's arrays), rotated (IMU remounted by a random rotation),
accel-only (gyro dropped), low-rate (10 Hz, sample-and-hold), all.
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
for sub in ("host", "protocol"):
    p = os.path.join(HERE, "..", sub)
    if p not in sys.path:
        sys.path.insert(0, p)

from smart_dowel.pipeline import Samples, analyze  # noqa: E402
from smart_dowel.pipeline.scoring import angle_rms_deg, fault_confusion  # noqa: E402
from smart_dowel.sim.body import SCENARIOS, make_body  # noqa: E402

VARIANTS = ("plain", "rotated", "accel-only", "low-rate")


def random_rotation(rng):
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def variant_samples(data, variant, seed):
    """Samples for one variant of a rendered body (dict of arrays)."""
    d = dict(data)
    if variant == "rotated":
        R = random_rotation(np.random.default_rng([seed, 99]))
        a = np.stack([d["ax_g"], d["ay_g"], d["az_g"]], axis=1) @ R.T
        g = np.stack([d["gx_dps"], d["gy_dps"], d["gz_dps"]], axis=1) @ R.T
        d["ax_g"], d["ay_g"], d["az_g"] = a.T
        d["gx_dps"], d["gy_dps"], d["gz_dps"] = g.T
    if variant == "accel-only":
        for k in ("gx_dps", "gy_dps", "gz_dps"):
            d.pop(k)
    if variant == "low-rate":
        # every 10th sample, and the IMU holding each reading for two samples
        d = {k: v[::10] for k, v in d.items()}
        for k in ("ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps"):
            v = d[k].copy()
            v[1::2] = v[0::2][: len(v[1::2])]
            d[k] = v
    return Samples.from_arrays(d), d


def evaluate(scenario, seed, rate_hz=100, variant="plain"):
    """One run: dict of truth/detected counts, angle RMS, fault confusion."""
    body = make_body(scenario, seed=seed)
    data = body.render(rate_hz if variant != "low-rate" else 100)
    samples, d = variant_samples(data, variant, seed)
    result = analyze(samples)
    truth = body.truth["reps"]
    tp, fp, fn = fault_confusion(result.reps, truth)
    return {
        "scenario": scenario,
        "seed": seed,
        "variant": variant,
        "truth_reps": len(truth),
        "reps": result.rep_count,
        "angle_rms_deg": angle_rms_deg(result.hinge_deg, d["hinge_deg"], d["on_back"]),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "result": result,
        "truth": truth,
    }


def run(seeds=5, rate_hz=100, variants=("plain",), scenarios=SCENARIOS):
    rows = []
    for variant in variants:
        for sc in scenarios:
            for seed in range(1, seeds + 1):
                rows.append(evaluate(sc, seed, rate_hz, variant))
    return rows


def summarize(rows):
    lines = ["%-10s %-18s %9s %10s %10s %6s %6s" % (
        "variant", "scenario", "count ok", "angle rms", "worst rms", "P", "R")]
    keys = []
    for r in rows:
        k = (r["variant"], r["scenario"])
        if k not in keys:
            keys.append(k)
    tot = {}
    for k in keys:
        rs = [r for r in rows if (r["variant"], r["scenario"]) == k]
        ok = sum(r["reps"] == r["truth_reps"] for r in rs)
        rms = [r["angle_rms_deg"] for r in rs]
        tp, fp, fn = (sum(r[x] for r in rs) for x in ("tp", "fp", "fn"))
        t = tot.setdefault(k[0], [0, 0, 0, 0, 0])
        t[0] += ok
        t[1] += len(rs)
        t[2] += tp
        t[3] += fp
        t[4] += fn
        p = tp / (tp + fp) if tp + fp else 1.0
        rc = tp / (tp + fn) if tp + fn else 1.0
        lines.append("%-10s %-18s %5d/%-3d %10.2f %10.2f %6.3f %6.3f" % (
            k[0], k[1], ok, len(rs), float(np.sqrt(np.mean(np.square(rms)))), max(rms), p, rc))
    for v, (ok, n, tp, fp, fn) in tot.items():
        p = tp / (tp + fp) if tp + fp else 1.0
        rc = tp / (tp + fn) if tp + fn else 1.0
        lines.append("%-10s %-18s %5d/%-3d %21s %6.3f %6.3f" % (v, "ALL", ok, n, "", p, rc))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--variant", choices=VARIANTS + ("all",), default="plain")
    ap.add_argument("--scenario", choices=SCENARIOS, default=None)
    ap.add_argument("-v", "--verbose", action="store_true", help="list mismatched reps")
    args = ap.parse_args(argv)
    variants = VARIANTS if args.variant == "all" else (args.variant,)
    scen = (args.scenario,) if args.scenario else SCENARIOS
    rows = run(args.seeds, args.rate, variants, scen)
    print(summarize(rows))
    if args.verbose:
        for r in rows:
            det = [(round(x.bottom_s, 1), round(x.depth_deg), x.fault_ids) for x in r["result"].reps]
            tru = [(round(x["bottom_s"], 1), round(x["depth_deg"]), x["faults"]) for x in r["truth"]]
            bad = r["fp"] or r["fn"] or r["reps"] != r["truth_reps"]
            if bad:
                print("\n%s %s seed %d" % (r["variant"], r["scenario"], r["seed"]))
                print("  detected", det)
                print("  truth   ", tru)
    return 0


if __name__ == "__main__":
    sys.exit(main())
