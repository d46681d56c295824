"""Sensor-to-screen latency, end to end through the pty.

The simulated dowel runs its firmware on a pty; the clinic app runs headless (App.run_test)
with the real link, pipeline and store. For every sample we take the moment the firmware
sampled it (its t_us stamp, on the simulated board's clock, which is the host's monotonic
clock plus a known offset) and the moment the first screen refresh showing it was composed
(the app's compositor handing a frame to the display). Prints p50/p95/p99 in ms.

    .venv/bin/python bench/latency_bench.py [seconds]
"""

import asyncio
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

WARMUP_S = 3.0
DURATION_S = 15.0


def _percentiles(values_ms):
    a = np.asarray(values_ms, dtype=float)
    return {
        "latency_ms_p50": round(float(np.percentile(a, 50)), 1),
        "latency_ms_p95": round(float(np.percentile(a, 95)), 1),
        "latency_ms_p99": round(float(np.percentile(a, 99)), 1),
        "latency_ms_max": round(float(a.max()), 1),
    }


def _sim_process(conn):
    """The simulated dowel in its own process (like hardware: its CPU use is not the host's);
    sends back its port and clock origin, runs until told to stop."""
    from smart_dowel.sim.server import SimulatedDowel

    sim = SimulatedDowel(scenario="good", seed=5, endless=True).start()
    conn.send((sim.port, sim.board.clock._t0, sim.board._ticks_offset))
    conn.recv()
    sim.stop()


class _Clock:
    """The simulated board's clock: t_us = (monotonic_ns - t0_ns) / 1000 + offset (mod 2**30);
    CLOCK_MONOTONIC is the same in every process of the machine."""

    def __init__(self, t0_ns, offset_us):
        self.t0_ns, self.offset_us = t0_ns, offset_us


async def _measure(duration_s, data_dir, separate_process):
    import multiprocessing

    from smart_dowel.store import Store
    from smart_dowel.tui.app import make_app
    from smart_dowel.tui.sources import LinkSource, SimSource

    store = Store.open(data_dir)
    child = None
    if separate_process:
        ctx = multiprocessing.get_context("spawn")
        parent_conn, child_conn = ctx.Pipe()
        child = ctx.Process(target=_sim_process, args=(child_conn,), daemon=True)
        child.start()
        port, t0_ns, offset_us = parent_conn.recv()
        clock = _Clock(t0_ns, offset_us)
        source = LinkSource(port)
    else:
        source = SimSource("good", seed=5)
        clock = None
    app = make_app(None, source=source, store=store, open_store=False)

    samples = []  # raw t_us of every sample handed to the feed
    received = []  # (t_us raw, monotonic time its last byte was read) of the same
    displays = []  # (mono, newest t_us on screen) of every composed frame
    redrawn = {"t_us": None}

    feed_on_batch = app.feed.on_batch

    def on_batch(batch):
        for m, rx in zip(batch.messages, batch.rx_mono):
            if m.type == 1:
                samples.append(m.values[0])
                received.append((m.values[0], rx))
        feed_on_batch(batch)

    app.feed.on_batch = on_batch  # the link looks the callback up when it is created

    redraw = app._redraw

    def traced_redraw():
        redraw()
        redrawn["t_us"] = app.snapshot.t_us

    app._redraw = traced_redraw
    display = app._display

    def traced_display(screen, renderable):
        display(screen, renderable)
        if renderable is not None and redrawn["t_us"] is not None:
            displays.append((time.monotonic(), redrawn["t_us"]))

    app._display = traced_display

    async with app.run_test(size=(120, 36)) as pilot:
        while app.snapshot.samples < 10:
            await pilot.pause(0.05)
        if clock is None:
            board = source.sim.board
            clock = _Clock(board.clock._t0, board._ticks_offset)
        t_end = time.monotonic() + WARMUP_S + duration_s
        while time.monotonic() < t_end:
            await pilot.pause(0.1)
        first_kept = len(samples)  # placeholder, refined below
        redraws = app.redraws
        await pilot.press("q")
    store.close()
    if child is not None:
        parent_conn.send("stop")
        child.join(10)

    t0_s = clock.t0_ns / 1e9
    offset_us = clock.offset_us
    from dowel_protocol import T_US_MODULUS

    def produced_mono(t_us):
        return t0_s + ((t_us - offset_us) % T_US_MODULUS) / 1e6

    disp_t = np.array([d[0] for d in displays])
    disp_us = np.array([d[1] for d in displays], dtype=np.int64)
    # the newest sample shown never goes back, so the first frame showing sample i is the
    # first frame whose newest t_us (unwrapped against its neighbour) is >= the sample's
    latencies = []
    start = produced_mono(samples[0]) + WARMUP_S
    j = 0
    for t_us in samples[:first_kept]:
        p = produced_mono(t_us)
        if p < start:
            continue
        while j < len(disp_us) and produced_mono(int(disp_us[j])) < p:
            j += 1
        if j == len(disp_us):
            break
        latencies.append((disp_t[j] - p) * 1000.0)
    out = _percentiles(latencies)
    wire = [(rx - produced_mono(t)) * 1000.0 for t, rx in received if produced_mono(t) >= start]
    out["to_host_ms_p50"] = round(float(np.percentile(wire, 50)), 1)
    out["to_host_ms_p95"] = round(float(np.percentile(wire, 95)), 1)
    out["samples_measured"] = len(latencies)
    out["frames"] = len(displays)
    out["redraws_per_s"] = round(redraws / (duration_s + WARMUP_S), 1)
    return out


def run(duration_s=DURATION_S):
    """Measure for duration_s seconds of streaming; returns the latency figures (ms).

    latency_ms_*: the simulated dowel in its own process, as hardware would be;
    demo_latency_ms_*: `dowel demo` as shipped, the simulator in the app's own process.
    """
    with tempfile.TemporaryDirectory(prefix="dowel-latency-") as d:
        out = asyncio.run(_measure(duration_s, d, separate_process=True))
    with tempfile.TemporaryDirectory(prefix="dowel-latency-") as d:
        demo = asyncio.run(_measure(duration_s, d, separate_process=False))
    for k, v in demo.items():
        out["demo_" + k] = v
    return out


if __name__ == "__main__":
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else DURATION_S
    for k, v in run(secs).items():
        print("%-22s %s" % (k, v))
