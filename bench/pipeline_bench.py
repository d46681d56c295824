"""Throughput of the signal pipeline: samples/s streaming (batches of 10, as the UI pushes
them) and in batch (`analyze`), and the time to re-analyse a one-hour recording at 100 Hz
(read the file, decode every frame, run the pipeline).

    .venv/bin/python bench/pipeline_bench.py
"""

import json
import os
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


def run(stream_samples=120_000):
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
    return {
        "pipeline_stream_samples_per_s": round(len(part) / stream_s),
        "pipeline_batch_samples_per_s": round(len(samples) / batch_s),
        "reanalysis_1h_s": round(reanalysis_s, 2),
        "reanalysis_1h_read_decode_s": round(read_s, 2),
        "recording_1h_bytes": size,
        "reps_1h": rec_result.rep_count,
        "reps_1h_batch": result.rep_count,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
