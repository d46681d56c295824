"""CPU cost of the simulated dowel at 100 Hz: CPU seconds per simulated second.

Real-time runs of `dowel simulate --autostart` (both runtimes) with a client reading the port,
measured from /proc over the simulator's process tree once streaming has begun (start-up and
imports excluded); plus the firmware + board + body on the virtual clock in this process.

    .venv/bin/python bench/sim_bench.py [--seconds 10]
"""

import argparse
import os
import subprocess
import sys
import time

import serial

import dowel_protocol as P

RATE_HZ = 100
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _tree_cpu_s(pid):
    """User + system CPU seconds of a process and all its descendants (Linux /proc)."""
    total = 0.0
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / _CLK_TCK
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                for child in f.read().split():
                    total += _tree_cpu_s(int(child))
    except FileNotFoundError:
        pass  # the process ended between listing and reading
    return total


def measure_pty(runtime, seconds):
    """Real-time run: CPU of the simulator per simulated second, and the frames received."""
    cmd = [sys.executable, "-m", "smart_dowel", "simulate", "--scenario", "mixed", "--seed", "1",
           "--reps", "40", "--rate", str(RATE_HZ), "--runtime", runtime, "--autostart"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = p.stdout.readline().split(" ", 1)[1].strip()
        ser = serial.Serial(port, timeout=0.05)
        dec = P.StreamDecoder()
        while dec.frames < 50:  # streaming has begun; start-up is behind us
            dec.feed(ser.read(4096))
        cpu0, wall0, frames0 = _tree_cpu_s(p.pid), time.monotonic(), dec.frames
        while time.monotonic() - wall0 < seconds:
            dec.feed(ser.read(4096))
        cpu1, wall1 = _tree_cpu_s(p.pid), time.monotonic()
        ser.close()
    finally:
        p.terminate()
        p.wait(20)
    sim_s = wall1 - wall0
    return {
        "runtime": runtime,
        "simulated_s": round(sim_s, 2),
        "cpu_s": round(cpu1 - cpu0, 3),
        "cpu_per_sim_s": round((cpu1 - cpu0) / sim_s, 4),
        "frames_per_s": round((dec.frames - frames0) / sim_s, 1),
        "lost_frames": dec.lost_frames,
    }


def measure_virtual(sim_seconds):
    """Firmware + SimBoard + body on the virtual clock in this process: CPU per simulated s."""
    from dowel_device.firmware import Firmware
    from smart_dowel.sim.body import make_body
    from smart_dowel.sim.board import SimBoard, VirtualClock

    board = SimBoard(make_body("mixed", reps=40, seed=1), VirtualClock(), out=lambda b: True)
    fw = Firmware(board, rate_hz=RATE_HZ, autostart=True)
    end_us = int(sim_seconds * 1e6)
    c0 = time.process_time()
    while board.clock.us < end_us:
        fw.poll()
    cpu = time.process_time() - c0
    return {"runtime": "cpython-virtual-clock", "simulated_s": sim_seconds,
            "cpu_s": round(cpu, 3), "cpu_per_sim_s": round(cpu / sim_seconds, 4),
            "samples": fw.samples}


def run(seconds=10.0):
    """All three measurements; returns {"rate_hz", "cpython", "micropython", "virtual"}."""
    return {
        "rate_hz": RATE_HZ,
        "cpython": measure_pty("cpython", seconds),
        "micropython": measure_pty("micropython", seconds),
        "virtual": measure_virtual(60.0),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="real-time run per runtime")
    args = ap.parse_args(argv)
    res = run(args.seconds)
    print("simulated dowel at %d Hz: CPU seconds per simulated second" % res["rate_hz"])
    for key in ("cpython", "micropython"):
        r = res[key]
        print("  %-12s real time over a pty: %.3f (%.1f%% of one core), %.1f frames/s, %d lost"
              % (key, r["cpu_per_sim_s"], 100 * r["cpu_per_sim_s"], r["frames_per_s"],
                 r["lost_frames"]))
    v = res["virtual"]
    print("  virtual clock (firmware+board+body, no pty): %.3f, i.e. %.0fx faster than real time"
          % (v["cpu_per_sim_s"], 1.0 / max(v["cpu_per_sim_s"], 1e-9)))
    return res


if __name__ == "__main__":
    main()
