"""Host memory over a 10-minute simulated session: does the clinic app grow?

The real app (DowelApp from make_app) runs headless against the simulated dowel on its pty,
with the store on (a temporary DOWEL_DATA_DIR, so the session is recorded to SQLite like a
clinic's), and the virtual patient doing reps without a break: good reps and each fault in
turn, queued on the simulator's body as the reps are counted. The simulated dowel runs
SPEED times faster than real time (its clock, hence its 100 Hz sampling, its reps and the
host's whole pipeline, sped up), so 10 simulated minutes take 10 / SPEED minutes of wall
time; everything the host keeps per sample or per rep accumulates as in a real session.

Every ~10 s of wall time: the process's resident set (VmRSS from /proc/self/status, the
simulator's thread included: it runs in the app's process as in `dowel demo`) and Python's
count of gc-tracked objects. Growth is measured after a warm-up of one simulated minute:
the least-squares slope in MB per simulated minute, and the RSS at the end minus the RSS at
the end of the first simulated minute; and the slope over the last 3 simulated minutes, once
the bounded buffers have filled (the pipeline keeps its last 32768 samples: 5.5 minutes at
100 Hz). At SPEED 4 a loaded machine may not keep the simulator at 100 Hz (it then skips
late sample slots, as the firmware does): `sample_rate_hz` says what it reached.

    .venv/bin/python bench/memory_bench.py [simulated_minutes]
"""

import asyncio
import gc
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

SIM_MINUTES = 10.0
SPEED = 4.0  # simulated seconds per wall second
SAMPLE_EVERY_S = 10.0  # wall seconds between memory samples
WARMUP_MIN = 1.0  # simulated minutes before growth is measured
# what the patient does, in turn: good reps between each fault
MOVES = ("good", "lumbar-flexion", "good", "thoracic-rounding", "good", "head-forward",
         "good", "squat", "good", "shallow", "good", "rushed")
AHEAD = 2  # reps queued beyond the ones counted
STALL_S = 20.0  # simulated seconds without a counted rep before another is queued


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def _fast_source(speed):
    from smart_dowel.sim.server import SimulatedDowel
    from smart_dowel.tui.sources import LinkSource, SimSource

    class FastSimSource(SimSource):
        """SimSource with the simulated dowel sped up `speed` times."""

        def run(self, feed, stop):
            sim = SimulatedDowel(scenario="good", reps=0, seed=self.seed, endless=True,
                                 speed=speed)
            sim.start()
            self.sim = sim
            self.port = sim.port
            self._ready.set()
            try:
                LinkSource.run(self, feed, stop)
            finally:
                sim.stop()

    return FastSimSource("good", seed=11)


async def _session(sim_minutes, speed, log):
    from smart_dowel.tui.app import make_app

    source = _fast_source(speed)
    app = make_app(None, source=source)  # opens the store in DOWEL_DATA_DIR itself
    app.feed.patient = "Memory Bench"
    series = []  # (simulated minutes, wall s, rss MB, gc objects, reps, samples)
    queued = moves = 0
    last_reps, last_rep_t = -1, time.monotonic()
    async with app.run_test(size=(120, 36)) as pilot:
        t0 = time.monotonic()
        while source.sim is None or app.snapshot.samples < 10:
            await pilot.pause(0.1)
            if time.monotonic() - t0 > 30:
                raise RuntimeError("the simulated dowel did not stream")
        await pilot.press("c")  # calibrate upright while standing
        t_start = time.monotonic()
        next_sample = t_start
        wall_total = sim_minutes * 60.0 / speed
        while True:
            now = time.monotonic()
            snap = app.snapshot
            # keep the patient busy: AHEAD reps queued beyond those the host counted (and
            # one more whenever none was counted for a while: a rep the host missed)
            if snap.total_reps != last_reps:
                last_reps, last_rep_t = snap.total_reps, now
            if now - last_rep_t > STALL_S / speed:
                queued = min(queued, snap.total_reps + AHEAD - 1)
                last_rep_t = now
            while queued < snap.total_reps + AHEAD:
                source.sim_action(MOVES[moves % len(MOVES)])
                queued += 1
                moves += 1
            if now >= next_sample:
                gc.collect()
                point = ((now - t_start) * speed / 60.0, now - t_start, rss_mb(),
                         len(gc.get_objects()), snap.total_reps, snap.samples)
                series.append(point)
                log("  %5.2f sim min  %6.1f s  RSS %7.1f MB  gc objects %8d  reps %4d  "
                    "samples %7d" % point)
                if now - t_start >= wall_total:
                    break
                next_sample = min(next_sample + SAMPLE_EVERY_S, t_start + wall_total)
            await pilot.pause(0.2)
        status = app.status
        await pilot.press("q")
    return series, status


def run(sim_minutes=SIM_MINUTES, speed=SPEED, log=print):
    """Run the session; returns the memory figures (MB, MB per simulated minute)."""
    old = os.environ.get("DOWEL_DATA_DIR")
    with tempfile.TemporaryDirectory(prefix="dowel-memory-") as d:
        os.environ["DOWEL_DATA_DIR"] = d
        try:
            series, status = asyncio.run(_session(sim_minutes, speed, log))
        finally:
            if old is None:
                os.environ.pop("DOWEL_DATA_DIR", None)
            else:
                os.environ["DOWEL_DATA_DIR"] = old
    m = np.array([p[0] for p in series])
    rss = np.array([p[2] for p in series])
    objs = np.array([p[3] for p in series], dtype=float)
    warm = m >= WARMUP_MIN
    if warm.sum() < 3:
        raise RuntimeError("too short a session to measure growth")
    slope = float(np.polyfit(m[warm], rss[warm], 1)[0])
    obj_slope = float(np.polyfit(m[warm], objs[warm], 1)[0])
    first = int(np.argmax(warm))
    # the last 3 simulated minutes: after the bounded buffers (the pipeline's sample history,
    # 32768 samples, and the rep table's last 50 rows) have filled
    late = m >= m[-1] - 3.0
    late_slope = float(np.polyfit(m[late], rss[late], 1)[0]) if late.sum() >= 3 else None
    return {
        "sim_minutes": round(float(m[-1]), 2),
        "sim_speed": speed,
        "reps": series[-1][4],
        "samples": series[-1][5],
        "sample_rate_hz": round(series[-1][5] / (m[-1] * 60.0), 1),
        "lost_frames": status.lost_frames,
        "host_rss_mb_start": round(float(rss[0]), 1),
        "host_rss_mb_after_warmup": round(float(rss[first]), 1),
        "host_rss_mb_end": round(float(rss[-1]), 1),
        "host_rss_growth_mb": round(float(rss[-1] - rss[first]), 2),
        "host_rss_growth_mb_per_min": round(slope, 3),
        "host_rss_growth_mb_per_min_last_3_min": None if late_slope is None else round(late_slope, 3),
        "gc_objects_after_warmup": int(objs[first]),
        "gc_objects_end": int(objs[-1]),
        "gc_objects_growth_per_min": round(obj_slope, 1),
    }


if __name__ == "__main__":
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else SIM_MINUTES
    for k, v in run(minutes).items():
        print("%-28s %s" % (k, v))
