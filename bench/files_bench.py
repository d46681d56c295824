"""Peak memory and time of `dowel analyze` on large files (issue 13, item 15): a file is read
and analysed in one streaming pass, so memory must stay under 300 MB whatever its size.

A 12-rep set at 100 Hz (the body model, with gyro and forces) is repeated end to end, times
shifted, into CSVs of 20 MB and 200 MB (or the sizes in MB given as arguments) and into a
100 MB recording (the wire frames a dowel sends); each is analysed by `dowel analyze FILE
--json` in its own process, whose peak resident set (ru_maxrss from wait4) and wall time are
printed with the rep count found (it must be 12 per copy of the set).

    .venv/bin/python bench/files_bench.py [MB ...]
"""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

SIZES_MB = (20, 200)
RECORDING_MB = 100
LIMIT_MB = 300
REPS_PER_SET = 12


def _set_rows():
    from smart_dowel.pipeline import Samples
    from smart_dowel.sim.body import make_body

    body = make_body("good", reps=REPS_PER_SET, seed=5)
    s = Samples.from_arrays(body.render(100))
    cols = np.column_stack([s.t_s, s.ax_g, s.ay_g, s.az_g, s.gx_dps, s.gy_dps, s.gz_dps,
                            s.head_n, s.midback_n, s.tailbone_n])
    return cols, float(s.t_s[-1] - s.t_s[0]) + 0.01


def write_csv(path, size_mb):
    """A CSV of about size_mb MB: the set repeated; returns how many copies were written."""
    cols, period_s = _set_rows()
    fmt = ["%.4f"] + ["%.4f"] * 3 + ["%.2f"] * 3 + ["%.3f"] * 3
    copies = 0
    with open(path, "w") as f:
        f.write("t,ax,ay,az,gx,gy,gz,head,midback,tailbone\n")
        while f.tell() < size_mb * 1e6:
            block = cols.copy()
            block[:, 0] += copies * period_s
            np.savetxt(f, block, delimiter=",", fmt=fmt)
            copies += 1
    return copies


def write_recording(path, size_mb):
    """A recording of about size_mb MB: the set's SAMPLE frames repeated; returns the copies."""
    from dowel_protocol import SAMPLE, T_US_MODULUS, pack
    from smart_dowel import fsr
    from smart_dowel.recording import RecordingWriter

    cols, period_s = _set_rows()
    counts = [fsr.newtons_to_counts(cols[:, k]).astype(int) for k in (7, 8, 9)]
    accel = np.round(cols[:, 1:4] * 1000).astype(int)
    gyro = np.round(cols[:, 4:7] * 10).astype(int)
    n = len(cols)
    copies = 0
    with RecordingWriter(path, {"port": "bench"}) as rec:
        while rec.bytes_written < size_mb * 1e6:
            t_us = (np.round((cols[:, 0] + copies * period_s) * 1e6).astype(np.int64)) % T_US_MODULUS
            rec.write(b"".join(
                pack(SAMPLE, (copies * n + i) & 0xFFFF,
                     (int(t_us[i]), int(counts[0][i]), int(counts[1][i]), int(counts[2][i]),
                      *accel[i].tolist(), *gyro[i].tolist(), 0))
                for i in range(n)))
            copies += 1
    return copies


def measure(path):
    """(peak RSS MB, wall s, analyze JSON) of `dowel analyze path --json` in a fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "smart_dowel", "analyze", str(path), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError("dowel analyze failed: %s" % err.decode(errors="replace"))
    return usage.ru_maxrss / 1024.0, wall, json.loads(out)


def run(sizes=SIZES_MB, recording_mb=RECORDING_MB):
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [("csv", mb) for mb in sizes] + ([("rec", recording_mb)] if recording_mb else [])
        for kind, mb in jobs:
            path = os.path.join(tmp, "big-%d.%s" % (mb, kind))
            copies = (write_csv if kind == "csv" else write_recording)(path, mb)
            real_mb = os.path.getsize(path) / 1e6
            rss, wall, result = measure(path)
            os.unlink(path)
            key = "%s_%dmb" % (kind, mb)
            figures[key + "_file_mb"] = round(real_mb, 1)
            figures[key + "_samples"] = result["samples"]
            figures[key + "_peak_rss_mb"] = round(rss, 1)
            figures[key + "_seconds"] = round(wall, 1)
            figures[key + "_reps"] = "%d of %d" % (result["rep_count"], copies * REPS_PER_SET)
            figures[key + "_under_%dmb" % LIMIT_MB] = rss < LIMIT_MB
    return figures


if __name__ == "__main__":
    sizes = tuple(int(a) for a in sys.argv[1:]) or SIZES_MB
    for k, v in run(sizes, RECORDING_MB if not sys.argv[1:] else 0).items():
        print("%-36s %s" % (k, v))
