"""Peak memory and time of `dowel analyze` on large CSV files (issue 13, item 15): the file is
read and analysed in one streaming pass, so memory must stay under 300 MB whatever its size.

A 12-rep set at 100 Hz (the body model, with gyro and forces) is repeated end to end, times
shifted, into CSVs of 20 MB and 200 MB (and, with an argument, any other sizes in MB); each
is analysed by `dowel analyze FILE --json` in its own process, whose peak resident set
(ru_maxrss from wait4) and wall time are printed with the rep count found (it must be 12 per
copy of the set).

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


def run(sizes=SIZES_MB):
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mb in sizes:
            path = os.path.join(tmp, "big-%d.csv" % mb)
            copies = write_csv(path, mb)
            real_mb = os.path.getsize(path) / 1e6
            rss, wall, result = measure(path)
            os.unlink(path)
            key = "csv_%dmb" % mb
            figures[key + "_file_mb"] = round(real_mb, 1)
            figures[key + "_samples"] = result["samples"]
            figures[key + "_peak_rss_mb"] = round(rss, 1)
            figures[key + "_seconds"] = round(wall, 1)
            figures[key + "_reps"] = "%d of %d" % (result["rep_count"], copies * REPS_PER_SET)
            figures[key + "_under_%dmb" % LIMIT_MB] = rss < LIMIT_MB
    return figures


if __name__ == "__main__":
    sizes = tuple(int(a) for a in sys.argv[1:]) or SIZES_MB
    for k, v in run(sizes).items():
        print("%-36s %s" % (k, v))
