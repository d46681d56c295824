"""Throughput of the signal pipeline: samples/s streaming (batches of 10, as the UI pushes
them) and in batch (`analyze`), and the time to re-analyse a one-hour recording at 100 Hz
(read the file, decode every frame, run the pipeline).

The stages' kernels are compiled by numba (pipeline/jit.py) and cached on disk, so three
figures say what a user meets: the one-hour analysis in a process whose kernels are already
loaded (warm), in a fresh process loading them from the cache (the first `dowel analyze`
after install), and the compilation itself in a fresh process with an empty cache (what
`make .venv/.installed` pays once). Plus the cost of one push at batch size 1 (live, 100 Hz).

    .venv/bin/python bench/pipeline_bench.py
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
for sub in ("host", "protocol"):
    p = os.path.join(HERE, "..", sub)
    if p not in sys.path:
        sys.path.insert(0, p)

from dowel_protocol import T_US_MODULUS, SampleWriter  # noqa: E402
from smart_dowel import fsr  # noqa: E402
from smart_dowel.pipeline import Pipeline, Samples, analyze  # noqa: E402
from smart_dowel.recording import RecordingWriter, read_recording  # noqa: E402
from smart_dowel.sim.body import make_body  # noqa: E402

RATE_HZ = 100


def body_hour(rate_hz=RATE_HZ, seconds=3600.0, seed=1):
    """About an hour of the mixed scenario (10-minute renderings laid end to end)."""
    body = make_body("mixed", reps=60, seed=seed)
    piece = body.render(rate_hz)
    n_piece = len(piece["t"])
    reps = int(np.ceil(seconds * rate_hz / n_piece))
    out = {}
    for k, v in piece.items():
        if k == "t":
            out[k] = np.arange(n_piece * reps) / float(rate_hz)
        else:
            out[k] = np.tile(v, reps)
    n = int(seconds * rate_hz)
    return {k: v[:n] for k, v in out.items()}


def write_wire_recording(path, data):
    counts = [fsr.newtons_to_counts(data[k]) for k in ("head_n", "midback_n", "tailbone_n")]
    acc = [np.round(data[k] * 1000).astype(int) for k in ("ax_g", "ay_g", "az_g")]
    gyr = [np.round(data[k] * 10).astype(int) for k in ("gx_dps", "gy_dps", "gz_dps")]
    t_us = (np.round(data["t"] * 1e6).astype(np.int64)) % T_US_MODULUS
    w = SampleWriter()
    imu = [0] * 6
    with RecordingWriter(path, {"bench": True, "rate_hz": RATE_HZ}) as rec:
        buf = bytearray()
        for i in range(len(t_us)):
            imu[0], imu[1], imu[2] = int(acc[0][i]), int(acc[1][i]), int(acc[2][i])
            imu[3], imu[4], imu[5] = int(gyr[0][i]), int(gyr[1][i]), int(gyr[2][i])
            buf += w.pack(i & 0xFFFF, int(t_us[i]), int(counts[0][i]), int(counts[1][i]),
                          int(counts[2][i]), imu, 0)
            if len(buf) > 1 << 16:
                rec.write(bytes(buf))
                buf = bytearray()
        rec.write(bytes(buf))


# a fresh interpreter: import the pipeline, then analyse the hour of bench/pipeline_accuracy.py
# twice; wall and CPU seconds of each (on a shared machine the CPU figure is the steadier)
FRESH = r"""
import sys, time
sys.path[:0] = %r
t0 = time.perf_counter()
import smart_dowel.pipeline
t_import = time.perf_counter() - t0
import pipeline_accuracy as pa
cpu = []
analyze = pa.analyze
def timed(*a, **k):
    c0 = time.process_time()
    r = analyze(*a, **k)
    cpu.append(time.process_time() - c0)
    return r
pa.analyze = timed
first = pa.one_hour_s()
second = pa.one_hour_s()
print(t_import, first, cpu[0], second, cpu[1])
"""


def fresh_process(cache_dir=None):
    """(import s, first one-hour analysis s, its CPU s, second s, its CPU s) in a new
    interpreter; with cache_dir, numba's cache goes there (empty: everything is compiled on
    first use)."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    path = [os.path.join(HERE, "..", "host"), os.path.join(HERE, "..", "protocol"), HERE]
    out = subprocess.run([sys.executable, "-c", FRESH % (path,)], capture_output=True, text=True,
                         env=env, check=True).stdout
    return [float(x) for x in out.split()]


def push_one_us(n=3000):
    """Mean cost (us, CPU) of Pipeline.push with one sample, as live data at its slowest."""
    s = Samples.from_arrays(body_hour(seconds=n / RATE_HZ + 5.0))
    pipe = Pipeline()
    pipe.push(s[:100])
    t0 = time.process_time()
    for i in range(100, 100 + n):
        pipe.push(s[i:i + 1])
    return (time.process_time() - t0) / n * 1e6


def run(stream_samples=120_000):
    from smart_dowel.pipeline import jit

    figures = {"kernels_compiled": jit.ENABLED, "load_average_1min": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as cache:
        _, cold, cold_cpu, _, _ = fresh_process(cache)  # compiles into the empty cache
        imp, first, first_cpu, warm, warm_cpu = fresh_process(cache)  # loads from it
    figures.update({
        "analyze_1h_compiling_s": round(cold, 2), "analyze_1h_compiling_cpu_s": round(cold_cpu, 2),
        "analyze_1h_fresh_process_s": round(first, 2),
        "analyze_1h_fresh_process_cpu_s": round(first_cpu, 2),
        "analyze_1h_warm_s": round(warm, 2), "analyze_1h_warm_cpu_s": round(warm_cpu, 2),
        "pipeline_import_s": round(imp, 2),
        "push_1_sample_cpu_us": round(push_one_us(), 1),
    })
    data = body_hour()
    samples = Samples.from_arrays(data)

    part = samples[:stream_samples]
    pipe = Pipeline()
    t0 = time.perf_counter()
    for k in range(0, len(part), 10):
        pipe.push(part[k:k + 10])
    stream_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    result = analyze(samples)
    batch_s = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "hour.dowelrec")
        write_wire_recording(path, data)
        size = os.path.getsize(path)
        t0 = time.perf_counter()
        meta, rec_samples, counters = read_recording(path)
        read_s = time.perf_counter() - t0
        rec_result = analyze(rec_samples)
        reanalysis_s = time.perf_counter() - t0
    return dict(figures, **{
        "pipeline_stream_samples_per_s": round(len(part) / stream_s),
        "pipeline_batch_samples_per_s": round(len(samples) / batch_s),
        "reanalysis_1h_s": round(reanalysis_s, 2),
        "reanalysis_1h_read_decode_s": round(read_s, 2),
        "recording_1h_bytes": size,
        "reps_1h": rec_result.rep_count,
        "reps_1h_batch": result.rep_count,
    })


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
