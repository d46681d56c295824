"""The rep counter against an outside tester's own data: its independent generator
(bench/outside_generator.py, a trunk rotating about the hips with a randomly mounted IMU) and
changed real recordings, through `dowel analyze --json` as a user runs it. Prints truth against
counted for each case, the ones that failed when they were found first.

    .venv/bin/python bench/outside_cases.py
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GEN = os.path.join(HERE, "outside_generator.py")

# (name, generator arguments, what was seen when found) -- most important first
CASES = [
    ("hold 10 s, stand 3 s", ["--seed", "65", "--hold", "10", "10", "--pause", "3", "3"], "9: reps inverted"),
    ("hold 8 s, stand 1 s", ["--seed", "66", "--hold", "8", "8", "--pause", "1", "1"], "9: reps inverted"),
    ("hold 5-8 s, no gyro", ["--seed", "61", "--hold", "5", "8", "--pause", "0.3", "1", "--nogyro"], "9"),
    ("gyro in rad/s, undeclared", ["--seed", "21", "--units", "g,s,rad/s"], "0"),
    ("tipped 90 deg between sets", ["--seed", "61", "--sets", "3", "--reps", "5", "--setrest", "30",
                                    "--handling", "90"], "13 of 15"),
    ("tipped 45 deg between sets", ["--seed", "64", "--sets", "3", "--reps", "5", "--setrest", "30",
                                    "--handling", "45"], "14 of 15"),
    ("0.2 s standing first", ["--seed", "31", "--stand0", "0.2"], "9"),
    ("stops as the last rep ends", ["--seed", "31", "--standend", "0"], "9"),
    ("10 Hz, no gyro, fast reps", ["--seed", "32", "--rate", "10", "--nogyro", "--descent", "0.5", "1",
                                   "--ascent", "0.5", "1", "--hold", "0", "0.2", "--pause", "0", "0.3"], "9"),
    ("default (passes)", ["--seed", "1"], "10"),
]


def run_case(args, d):
    path = os.path.join(d, "case.csv")
    truth = json.loads(subprocess.run([sys.executable, GEN, path, *args], check=True,
                                      capture_output=True, text=True).stdout)["reps"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(ROOT, "host"), os.path.join(ROOT, "protocol")]))
    r = subprocess.run([sys.executable, "-m", "smart_dowel", "analyze", path, "--json"],
                       capture_output=True, text=True, env=env)
    counted = json.loads(r.stdout)["rep_count"] if r.returncode == 0 else "exit %d" % r.returncode
    return truth, counted


def main():
    with tempfile.TemporaryDirectory() as d:
        print("%-30s %6s %8s  %s" % ("case", "truth", "counted", "when found"))
        for name, args, seen in CASES:
            truth, counted = run_case(args, d)
            print("%-30s %6d %8s  %s" % (name, truth, counted, seen))


if __name__ == "__main__":
    main()
