"""Accuracy of the signal pipeline: exact rep counts per variant of every simulated scenario,
on the real recordings of people in ../shared/data/trunk-bends/, hinge-angle RMS against the
body model's truth, contact-fault precision and recall, and live-equals-batch.

    .venv/bin/python bench/pipeline_accuracy.py [--seeds N] [--variant NAME] [--scenario NAME]

Variants (each a way real data differs from the body model's clean arrays):
plain; rotated (the IMU remounted by a random rotation); gyro-reversed (the gyro's sign
against the accelerometer's frame); accel-only; 25hz; 10hz-hold (every 10th sample, each
reading repeated by a sample-and-hold sender, random stalls of 0.2-1.5 s); impacts (a jolt of
1-3 g for 30-60 ms at the bottom of every rep); mid-set (data that joins a set under way: the
reps begun before the join do not count, except one joined less than SEEN_DEG into its turn,
which the data may have seen whole and is right counted or not);
on-table (the dowel lies on the table for a while first, then is picked up, no forces).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
for sub in ("host", "protocol"):
    p = os.path.join(HERE, "..", sub)
    if p not in sys.path:
        sys.path.insert(0, p)

from smart_dowel.pipeline import Pipeline, Samples, analyze  # noqa: E402
from smart_dowel.pipeline.scoring import angle_rms_deg, fault_confusion  # noqa: E402
from smart_dowel.sim.body import SCENARIOS, make_body  # noqa: E402

REAL_DIR = os.environ.get("DOWEL_REAL_DATA", os.path.join(HERE, "..", "..", "shared", "data", "trunk-bends"))
VARIANTS = ("plain", "rotated", "gyro-reversed", "accel-only", "25hz", "10hz-hold", "impacts",
            "mid-set", "on-table")
CONTACT_FAULTS = {"head_contact_lost", "midback_contact_lost", "tailbone_contact_lost"}
IMU = ("ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps")


def random_rotation(rng):
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _remount(d, variant, rng):
    """In place: the IMU remounted by a random rotation, its gyro's sign reversed, or no gyro."""
    gyro = ("gx_dps", "gy_dps", "gz_dps")
    if variant == "rotated":
        R = random_rotation(rng)
        for axes in (("ax_g", "ay_g", "az_g"), gyro):
            m = np.stack([d[k] for k in axes], axis=1) @ R.T
            for k, col in zip(axes, m.T):
                d[k] = col
    elif variant == "gyro-reversed":
        for k in gyro:
            d[k] = -d[k]
    else:
        for k in gyro:
            d.pop(k)


def _resample(d, every):
    return {k: v[::every] for k, v in d.items()}


def make_variant(data, truth_reps, variant, seed):
    """(columns dict, truth reps) of one variant of rendered data (100 Hz dict of arrays)."""
    rng = np.random.default_rng([seed, 99])
    d = {k: np.array(v) for k, v in data.items()}
    reps = list(truth_reps)
    if variant in ("rotated", "gyro-reversed", "accel-only"):
        _remount(d, variant, rng)
    elif variant == "25hz":
        d = _resample(d, 4)
    elif variant == "10hz-hold":
        d = _resample(d, 10)
        n = len(d["t"])
        src = np.arange(n)
        src[1::2] = src[0::2][: len(src[1::2])]  # each reading sent twice
        k = 0
        while k < n:  # stalls: the last reading repeated for 0.2-1.5 s
            k += int(rng.integers(30, 120))
            if k >= n:
                break
            m = int(rng.integers(2, 15))
            src[k:k + m] = src[k - 1]
            k += m
        for key in IMU:
            if key in d:
                d[key] = d[key][src]
    elif variant == "impacts":
        t = d["t"]
        for r in reps:
            k = int(np.searchsorted(t, r["bottom_s"]))
            m = max(3, int(rng.uniform(0.03, 0.06) * 100))
            jolt = rng.normal(size=3)
            jolt *= rng.uniform(1.0, 3.0) / np.linalg.norm(jolt)
            for j, key in enumerate(("ax_g", "ay_g", "az_g")):
                d[key][k:k + m] += jolt[j]
    elif variant == "mid-set":
        # join during the second rep, anywhere in it; reps begun before the join do not count
        r2 = reps[1] if len(reps) > 1 else reps[0]
        cut = rng.uniform(r2["start_s"], r2["end_s"])
        keep = d["t"] >= cut
        d = {k: v[keep] for k, v in d.items()}
        d["t"] = d["t"] - cut
        # a rep begun before the join whose start the data could not tell from still: the
        # trunk had turned less than postural sway (SEEN_DEG) from where it began; counting it
        # and not counting it are both right
        h_join = float(d["hinge_deg"][0]) if len(d["t"]) else 0.0  # the first reading kept
        reps = [dict(r, start_s=r["start_s"] - cut, bottom_s=r["bottom_s"] - cut,
                     end_s=r["end_s"] - cut, optional=r["start_s"] < cut)
                for r in reps if r["start_s"] >= cut
                or (r["end_s"] > cut and abs(h_join - float(
                    np.interp(r["start_s"], data["t"], data["hinge_deg"]))) < SEEN_DEG)]
    elif variant == "on-table":
        # a still pose for 4-8 s, then 1.5 s of handling towards the first reading; no pads
        lead = rng.uniform(4.0, 8.0)
        t_pick = 1.5
        n_lead = int((lead + t_pick) * 100)
        g0 = rng.normal(size=3)
        g0 /= np.linalg.norm(g0)
        a_first = np.array([d["ax_g"][0], d["ay_g"][0], d["az_g"][0]])
        g1 = a_first / np.linalg.norm(a_first)
        # the pick-up: gravity turns from g0 to g1 about their common normal (minimum jerk),
        # and the gyro says so (sensor rate -phi' k, the body model's bias and noise added)
        axis = np.cross(g0, g1)
        axis /= np.linalg.norm(axis)
        total = float(np.arccos(np.clip(g0 @ g1, -1.0, 1.0)))
        tt = np.arange(n_lead) / 100.0
        u = np.clip((tt - lead) / t_pick, 0.0, 1.0)
        phi = total * u ** 3 * (10 - 15 * u + 6 * u ** 2)
        dphi = np.gradient(phi, tt)
        c, sn = np.cos(phi)[:, None], np.sin(phi)[:, None]
        kxg = np.cross(axis, g0)
        g = g0 * c + kxg * sn + axis * (axis @ g0) * (1 - c)
        g = g + rng.normal(0, 0.004, (n_lead, 3))
        lead_cols = {"t": tt}
        for j, key in enumerate(("ax_g", "ay_g", "az_g")):
            lead_cols[key] = g[:, j]
        gyro = -np.degrees(dphi)[:, None] * axis + rng.normal(0, 0.08, (n_lead, 3))
        for j, key in enumerate(("gx_dps", "gy_dps", "gz_dps")):
            lead_cols[key] = gyro[:, j] + (d[key][0] if key in d else 0.0)
        shift = n_lead / 100.0
        new = {}
        for k, v in d.items():
            if k == "t":
                new[k] = np.concatenate((lead_cols["t"], v + shift))
            elif k in lead_cols:
                new[k] = np.concatenate((lead_cols[k], v))
            elif k in ("hinge_deg", "on_back"):
                new[k] = np.concatenate((np.full(n_lead, np.nan if k == "hinge_deg" else 0.0), v))
        new["on_back"] = new["on_back"] > 0.5
        d = new  # no force columns: nothing says where the dowel is
        reps = [dict(r, start_s=r["start_s"] + shift, bottom_s=r["bottom_s"] + shift,
                     end_s=r["end_s"] + shift) for r in reps]
    return d, reps


SEEN_DEG = 2.0  # (mid-set) less than this of the rep's turn before the join: maybe seen whole


def samples_of(d):
    cols = {k: v for k, v in d.items() if k in ("t",) + IMU + ("head_n", "midback_n", "tailbone_n")}
    return Samples.from_arrays(cols)


def stream(samples, batch):
    """Reps of a live pipeline fed in batches of `batch` samples."""
    pipe = Pipeline()
    for off in range(0, len(samples), batch):
        pipe.push(samples[off:off + batch])
    pipe.finish()
    return pipe.reps


def same_reps(a, b):
    return [r.to_dict() for r in a] == [r.to_dict() for r in b]


def reps_match(reps, truth, slack_s=0.5):
    """The count is right and so is every rep: the n-th found has its bottom within the n-th
    true rep (a count can come out right with a rep missed and a phantom counted, or with the
    pauses between reps taken for reps)."""
    return len(reps) == len(truth) and all(
        t["start_s"] - slack_s <= r.bottom_s <= t["end_s"] + slack_s for r, t in zip(reps, truth))


def evaluate(scenario, seed, variant="plain", check_stream=False):
    body = make_body(scenario, seed=seed)
    data = body.render(100)
    d, truth = make_variant(data, body.truth["reps"], variant, seed)
    samples = samples_of(d)
    result = analyze(samples)
    required = [r for r in truth if not r.get("optional")]
    if len(result.reps) != len(truth) or not reps_match(result.reps, truth):
        truth = required  # (a rep the data may have seen whole counts either way)
    on_truth = [r for r in truth]
    tp, fp, fn = fault_confusion(
        [{"bottom_s": r.bottom_s, "start_s": r.start_s, "end_s": r.end_s,
          "faults": [f for f in r.fault_ids if f in CONTACT_FAULTS]} for r in result.reps],
        [dict(r, faults=[f for f in r["faults"] if f in CONTACT_FAULTS]) for r in on_truth])
    row = {
        "scenario": scenario, "seed": seed, "variant": variant,
        "truth_reps": len(truth), "reps": result.rep_count,
        "matched": reps_match(result.reps, truth),
        "angle_rms_deg": angle_rms_deg(result.hinge_deg, d["hinge_deg"], d.get("on_back")),
        "tp": tp, "fp": fp, "fn": fn, "result": result, "truth": truth,
    }
    if check_stream:
        row["stream_ok"] = all(same_reps(stream(samples, b), result.reps) for b in (1, 7, 100))
    return row


def real_files():
    path = os.path.join(REAL_DIR, "truth.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return [(os.path.join(REAL_DIR, e["file"]), e) for e in json.load(f)]


def evaluate_real(variant="plain", seed=1):
    """Rows for the real recordings, under the variants that apply to real data."""
    from smart_dowel.csvfile import read_csv

    files = real_files()
    if files is None:
        return []
    rows = []
    for path, entry in files:
        s = read_csv(path)
        s = s[0] if isinstance(s, tuple) else s
        d = {"t": s.t_s, "ax_g": s.ax_g, "ay_g": s.ay_g, "az_g": s.az_g,
             "gx_dps": s.gx_dps, "gy_dps": s.gy_dps, "gz_dps": s.gz_dps}
        rng = np.random.default_rng([seed, 7])
        if variant in ("rotated", "gyro-reversed", "accel-only"):
            _remount(d, variant, rng)
        elif variant == "10hz-hold":
            # 25 Hz -> 12.5 Hz, each reading sent twice
            d = {k: v[::2] for k, v in d.items()}
            for k in IMU:
                if k in d:
                    v = d[k].copy()
                    v[1::2] = v[0::2][: len(v[1::2])]
                    d[k] = v
        cases = [(d, entry["reps"], "")]
        if variant in REAL_MORE:
            cases = [(REAL_MORE[variant](d, rng), entry["reps"], "")]
        if variant == "tempo":
            # the same person 1.6 x slower and 0.7 x the time (rates scale the other way)
            cases = []
            for k in (1.6, 0.7):
                dk = dict(d, t=d["t"] * k)
                for g in ("gx_dps", "gy_dps", "gz_dps"):
                    dk[g] = d[g] / k
                cases.append((dk, entry["reps"], "x%.1f" % k))
        elif variant == "mid-set":
            # joining during the second rep (its times from the plain analysis, which counts
            # every file exactly), at 5 points of it: the reps begun before do not count
            reps = analyze(samples_of(d)).reps
            cases = []
            for f in (0.05, 0.3, 0.5, 0.7, 0.95):
                cut = reps[1].start_s + f * (reps[1].end_s - reps[1].start_s)
                keep = d["t"] >= cut
                dk = {k: v[keep] for k, v in d.items()}
                dk["t"] = dk["t"] - cut
                cases.append((dk, entry["reps"] - 2, "@%.2f" % f))
        for dk, truth, tag in cases:
            result = analyze(samples_of(dk))
            rows.append({"file": os.path.basename(path) + tag, "variant": variant,
                         "truth_reps": truth, "reps": result.rep_count,
                         "stream_ok": same_reps(stream(samples_of(dk), 7), result.reps)})
    return rows


def _interp(d, rate_hz):
    t = np.arange(d["t"][0], d["t"][-1], 1.0 / rate_hz)
    return {k: (t if k == "t" else np.interp(t, d["t"], v)) for k, v in d.items()}


def _lead_stand(d, rng, seconds=30.0):
    """seconds of standing (the first reading, with sway-sized noise) before the recording."""
    dt = float(np.median(np.diff(d["t"])))
    n = int(seconds / dt)
    out = {"t": np.concatenate((np.arange(n) * dt, d["t"] - d["t"][0] + n * dt))}
    for k, v in d.items():
        if k != "t":
            noise = rng.normal(0, 0.01 if k.startswith("a") else 1.0, n)
            out[k] = np.concatenate((v[:1].repeat(n) + noise, v))
    return out


def _jitter(d, rng):
    dt = float(np.median(np.diff(d["t"])))
    return dict(d, t=np.sort(d["t"] + rng.uniform(-0.3, 0.3, len(d["t"])) * dt))


def _drop(d, rng, share=0.08):
    keep = rng.random(len(d["t"])) > share
    return {k: v[keep] for k, v in d.items()}


def _turned_over(d, rng):
    """The IMU upside down about its z axis: x and y (and their rates) change sign."""
    return {k: (-v if k[:2] in ("ax", "ay", "gx", "gy") else v) for k, v in d.items()}


def _gyro_offset(d, rng):
    """An uncalibrated gyro: a constant offset of 25-45 deg/s on each axis, either sign."""
    off = rng.uniform(25.0, 45.0, 3) * rng.choice((-1.0, 1.0), 3)
    return {k: (v + off["xyz".index(k[1])] if k in ("gx_dps", "gy_dps", "gz_dps") else v)
            for k, v in d.items()}


def _reversed_fast(d, rng, k=0.6):
    """0.6 x the time (a quicker person) with the gyro's sign reversed."""
    return {kk: (v * k if kk == "t" else (-v / k if kk.startswith("g") else v))
            for kk, v in d.items()}


# more ways other people's recordings differ from these two people's (never tuned on: these
# check that nothing depends on this sensor's rate, noise, bias, scale, timing or mounting)
REAL_MORE = {
    "50hz": lambda d, rng: _interp(d, 50.0),
    "10hz": lambda d, rng: _interp(d, 10.0),
    "accel-noise": lambda d, rng: {k: (v + rng.normal(0, 0.03, len(v)) if k.startswith("a") else v)
                                   for k, v in d.items()},
    "gyro-bias": lambda d, rng: {k: (v + {"gx_dps": 5.0, "gz_dps": -3.0}.get(k, 0.0)) for k, v in d.items()},
    "accel-scale": lambda d, rng: {k: (v * 0.93 if k.startswith("a") else v) for k, v in d.items()},
    "jitter": _jitter,
    "dropped": _drop,
    "standing-lead": _lead_stand,
    "upside-down": _turned_over,
    "fast-reversed": _reversed_fast,
    "gyro-offset": _gyro_offset,
}


def one_hour_s():
    """Seconds to re-analyse one hour of 100 Hz samples (the good scenario, repeated)."""
    body = make_body("good", reps=40, seed=3)
    d = body.render(100)
    n = len(d["t"])
    reps = int(np.ceil(360000 / n))
    cols = {}
    for k in ("t",) + IMU + ("head_n", "midback_n", "tailbone_n"):
        v = d[k]
        if k == "t":
            cols[k] = np.concatenate([v + i * (v[-1] + 0.01) for i in range(reps)])[:360000]
        else:
            cols[k] = np.tile(v, reps)[:360000]
    s = Samples.from_arrays(cols)
    t0 = time.perf_counter()
    analyze(s)
    return time.perf_counter() - t0


def run(seeds=10, variants=VARIANTS, scenarios=SCENARIOS, check_stream=True):
    rows = []
    for variant in variants:
        for sc in scenarios:
            for seed in range(1, seeds + 1):
                rows.append(evaluate(sc, seed, variant, check_stream))
    return rows


def summarize(rows, real_rows=()):
    lines = ["%-14s %10s %10s %10s %10s %7s %7s %8s" % (
        "variant", "count ok", "reps ok", "angle rms", "worst rms", "P", "R", "stream")]
    for v in [v for v in VARIANTS if any(r["variant"] == v for r in rows)]:
        rs = [r for r in rows if r["variant"] == v]
        ok = sum(r["reps"] == r["truth_reps"] for r in rs)
        matched = sum(r["matched"] for r in rs)
        rms = [r["angle_rms_deg"] for r in rs if np.isfinite(r["angle_rms_deg"])]
        tp, fp, fn = (sum(r[x] for r in rs) for x in ("tp", "fp", "fn"))
        p = tp / (tp + fp) if tp + fp else 1.0
        rc = tp / (tp + fn) if tp + fn else 1.0
        st = sum(r.get("stream_ok", True) for r in rs)
        lines.append("%-14s %6d/%-3d %6d/%-3d %10.2f %10.2f %7.3f %7.3f %4d/%-3d" % (
            v, ok, len(rs), matched, len(rs), float(np.sqrt(np.mean(np.square(rms)))) if rms else float("nan"),
            max(rms) if rms else float("nan"), p, rc, st, len(rs)))
    for v in dict.fromkeys(r["variant"] for r in real_rows):
        rs = [r for r in real_rows if r["variant"] == v]
        ok = sum(r["reps"] == r["truth_reps"] for r in rs)
        st = sum(r["stream_ok"] for r in rs)
        detail = " ".join("%d/%d" % (r["reps"], r["truth_reps"]) for r in rs if r["reps"] != r["truth_reps"]) \
            if len(rs) > 8 else " ".join("%d/%d" % (r["reps"], r["truth_reps"]) for r in rs)
        lines.append("%-19s %6d/%-3d %s  stream %d/%d" % ("real:" + v, ok, len(rs), detail, st, len(rs)))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--variant", choices=VARIANTS + ("all",), default="all")
    ap.add_argument("--scenario", choices=SCENARIOS, default=None)
    ap.add_argument("--no-stream", action="store_true", help="skip the batches-of-1/7/100 check")
    ap.add_argument("-v", "--verbose", action="store_true", help="list mismatched runs")
    ap.add_argument("--real-more", action="store_true",
                    help="also the real recordings resampled, noisier, biased, jittered, ...")
    args = ap.parse_args(argv)
    variants = VARIANTS if args.variant == "all" else (args.variant,)
    scen = (args.scenario,) if args.scenario else SCENARIOS
    rows = run(args.seeds, variants, scen, not args.no_stream)
    real_rows = []
    for v in ("plain", "rotated", "gyro-reversed", "accel-only", "10hz-hold", "mid-set", "tempo"):
        if v in variants or (v == "tempo" and args.variant == "all"):
            real_rows += evaluate_real(v)
    if args.variant == "all" or args.real_more:
        for v in REAL_MORE:
            real_rows += evaluate_real(v)
    print(summarize(rows, real_rows))
    if real_files() is None:
        print("real recordings: not found in %s (set DOWEL_REAL_DATA)" % REAL_DIR)
    if args.variant == "all":
        print("one hour at 100 Hz re-analysed in %.2f s" % one_hour_s())
    if args.verbose:
        for r in rows:
            if not r["matched"] or r["fp"] or r["fn"] or not r.get("stream_ok", True):
                det = [(round(x.bottom_s, 1), round(x.depth_deg)) for x in r["result"].reps]
                tru = [(round(x["bottom_s"], 1), round(x["depth_deg"])) for x in r["truth"]]
                print("\n%s %s seed %d: %d/%d%s fp %d fn %d stream %s" % (
                    r["variant"], r["scenario"], r["seed"], r["reps"], r["truth_reps"],
                    "" if r["matched"] or r["reps"] != r["truth_reps"] else " (reps wrong)",
                    r["fp"], r["fn"], r.get("stream_ok")))
                print("  detected", det)
                print("  truth   ", tru)
    return 0


if __name__ == "__main__":
    sys.exit(main())
