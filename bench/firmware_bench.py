"""Firmware bench: per-sample time and heap allocation of the sampling path, measured under the
real MicroPython interpreter on this machine (fake board, virtual clock), and the USB frame
budget at 100 and 500 Hz.

Run: .venv/bin/python bench/firmware_bench.py   (run() returns the figures as a dict)
"""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "protocol"))

from dowel_protocol.messages import (  # noqa: E402
    SAMPLE_FRAME_LEN,
    STATUS,
    MESSAGES,
    HEADER_LEN,
    CRC_LEN,
)
import struct  # noqa: E402

# USB full speed is 12 Mbit/s raw. A CDC bulk endpoint moves at most 19 packets of 64 bytes
# per 1 ms frame (1.216 MB/s); ~1 MB/s is what a full-speed CDC port carries in practice. The
# floor assumed for the RP2040's MicroPython stack is one 64-byte packet per 1 ms frame, since
# every write() is flushed as its own transfer: 64 kB/s.
USB_FS_RAW_BYTES_S = 12_000_000 // 8
USB_CDC_PRACTICAL_BYTES_S = 1_000_000
USB_CDC_FLOOR_BYTES_S = 64 * 1000
STATUS_FRAME_LEN = HEADER_LEN + struct.calcsize(MESSAGES[STATUS][1]) + CRC_LEN + 2


def _micropython():
    here = Path(sys.executable).parent / "micropython"
    return str(here) if here.exists() else "micropython"


def measure_micropython(samples=20000):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(
        [".frozen", str(REPO / "protocol"), str(REPO / "device"), str(REPO / "tests" / "mp")]
    )
    proc = subprocess.run(
        [_micropython(), str(REPO / "bench" / "mp_firmware_loop.py"), str(samples)],
        capture_output=True, text=True, env=env, cwd=str(REPO), timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError("MicroPython bench failed:\n" + proc.stdout + proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def frame_budget(rate_hz):
    bytes_s = SAMPLE_FRAME_LEN * rate_hz + STATUS_FRAME_LEN  # STATUS once a second
    return {
        "bytes_per_s": bytes_s,
        "share_of_practical_cdc": bytes_s / USB_CDC_PRACTICAL_BYTES_S,
        "share_of_cdc_floor": bytes_s / USB_CDC_FLOOR_BYTES_S,
        "packets_per_s": rate_hz + 1,  # one frame per write, each under 64 bytes
    }


def run(samples=20000):
    figures = measure_micropython(samples)
    for rate in (100, 500):
        b = frame_budget(rate)
        figures["frame_budget_%dhz_bytes_per_s" % rate] = b["bytes_per_s"]
        figures["frame_budget_%dhz_share_of_1MBps" % rate] = b["share_of_practical_cdc"]
        figures["frame_budget_%dhz_share_of_64kBps_floor" % rate] = b["share_of_cdc_floor"]
        figures["frame_budget_%dhz_packets_per_s" % rate] = b["packets_per_s"]
    figures["sample_frame_bytes"] = SAMPLE_FRAME_LEN
    figures["status_frame_bytes"] = STATUS_FRAME_LEN
    return figures


def main():
    f = run()
    print("firmware sampling path under %s (fake board, virtual clock, %d samples)"
          % (f["micropython"], f["samples_measured"]))
    print("  per sample at 100 Hz : %.1f us, %.2f bytes allocated"
          % (f["firmware_us_per_sample"], f["firmware_alloc_bytes_per_sample"]))
    print("  per sample at 500 Hz : %.1f us, %.2f bytes allocated"
          % (f["firmware_us_per_sample_500hz"], f["firmware_alloc_bytes_per_sample_500hz"]))
    print("  of which packing the SAMPLE frame (CRC + COBS): %.1f us"
          % f["firmware_pack_us_per_sample"])
    print("  loop errors: %d" % f["firmware_loop_errors"])
    print("frame budget (SAMPLE %d B per sample + STATUS %d B per second):"
          % (f["sample_frame_bytes"], f["status_frame_bytes"]))
    for rate in (100, 500):
        print("  %3d Hz: %6d B/s = %.2f%% of ~1 MB/s practical full-speed CDC, "
              "%.1f%% of a 64 kB/s floor (one 64-byte packet per 1 ms USB frame); %d writes/s"
              % (rate, f["frame_budget_%dhz_bytes_per_s" % rate],
                 100 * f["frame_budget_%dhz_share_of_1MBps" % rate],
                 100 * f["frame_budget_%dhz_share_of_64kBps_floor" % rate],
                 f["frame_budget_%dhz_packets_per_s" % rate]))
    print("  (USB full speed: 12 Mbit/s raw = %d B/s)" % USB_FS_RAW_BYTES_S)


if __name__ == "__main__":
    main()
