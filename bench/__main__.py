"""Run every benchmark, print one table, write bench/results.json.

    python -m bench            # all
    python -m bench protocol   # only the named ones
"""

import importlib
import json
import os
import platform
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

ORDER = ["protocol", "firmware", "pipeline", "sim", "store", "latency", "memory", "faults"]


def available():
    names = [f[: -len("_bench.py")] for f in os.listdir(HERE) if f.endswith("_bench.py")]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def main(argv):
    names = argv or available()
    results = {"machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                           "cpus": os.cpu_count()},
               "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    failed = []
    for name in names:
        t0 = time.perf_counter()
        print("== %s" % name, flush=True)
        try:
            figures = importlib.import_module("bench.%s_bench" % name).run()
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        figures["bench_seconds"] = round(time.perf_counter() - t0, 1)
        results[name] = figures
        for k, v in figures.items():
            print("  %-34s %s" % (k, v), flush=True)
    path = os.path.join(HERE, "results.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    print("wrote", path)
    if failed:
        print("FAILED:", ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
