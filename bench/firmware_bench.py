"""Firmware bench: per-sample cost of the sampling path under the real MicroPython interpreter
on this machine (fake board, virtual clock), an RP2040 estimate per rate, and the USB frame
budget.

The measured figures are x86 figures (the unix port on this PC): far faster than a Pico. The
RP2040 estimate is made from them as follows (ESTIMATE_METHOD says it in one paragraph):
1. Calibrate: the plain CRC and COBS of one SAMPLE were counted at 29,000 and 34,000 Thumb
   instructions on an emulated Cortex-M0+ (issue 14); their unix-port times here give Thumb
   instructions per x86 microsecond of interpreted code.
2. The firmware's own interpreted work per sample: the loop's time here minus the fake board's
   calls (each method's calls per sample counted, each timed alone) and the viper CRC/COBS,
   times that factor; the USB writer's and reader's Python code (usbserial.py) likewise.
3. Plus the real board's calls as counted on the emulator: 2,333 instructions per ADC read,
   15,000 per IMU read; the viper CRC and COBS at 2,400 and 2,200 (for a 1.1 SAMPLE; protocol
   1.2's 4 more bytes and its CRC-32 check, 2,226, counted by bench/viper_thumb.py from the
   Thumb code mpy-cross emits, are added). Assumed, not measured: 150
   instructions per call of a C function of the time module or the watchdog (attribute load
   and call), 1,500 per stdout write (stream layer and TinyUSB's FIFO copy), 300 per ipoll.
4. Time = instructions x 1.5 to 2 cycles per instruction / 125 MHz, plus the I2C bus time of the
   IMU burst (bits / bus clock) and 2 us per ADC conversion.

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
    RATE_MAX_HZ,
)
from dowel_protocol.crc import CHECK_LEN  # noqa: E402
import struct  # noqa: E402

# USB full speed is 12 Mbit/s raw. A CDC bulk endpoint moves at most 19 packets of 64 bytes
# per 1 ms frame (1.216 MB/s); ~1 MB/s is what a full-speed CDC port carries in practice. The
# floor assumed for the RP2040's MicroPython stack is one 64-byte packet per 1 ms frame, since
# every write() is flushed as its own transfer: 64 kB/s.
USB_FS_RAW_BYTES_S = 12_000_000 // 8
USB_CDC_PRACTICAL_BYTES_S = 1_000_000
USB_CDC_FLOOR_BYTES_S = 64 * 1000
STATUS_FRAME_LEN = HEADER_LEN + struct.calcsize(MESSAGES[STATUS][1]) + CHECK_LEN + CRC_LEN + 2
WIRE_CHUNK = 64  # the firmware pads every frame to whole 64-byte chunks (usbserial.py)

# Thumb instruction counts from the emulated Cortex-M0+ run recorded in issue 14 (1.0 firmware)
THUMB_CRC_PLAIN = 29_000
THUMB_COBS_PLAIN = 34_000
# The viper CRC and COBS of a 1.1 SAMPLE (27 and 29 bytes) as counted there; protocol 1.2 runs
# them over 4 more bytes and adds the CRC-32 check, counted from the emitted Thumb code by
# bench/viper_thumb.py (CRC-32 of 27 bytes: 2,226; 50 instructions a byte of CRC-16; COBS scaled)
THUMB_CRC_VIPER = 2_400 + 4 * 50
THUMB_COBS_VIPER = 2_200 * 33 // 29
THUMB_CHECK_VIPER = 2_226
THUMB_PER_ADC_READ = 28_000 / 12
THUMB_IMU_READ = 15_000
CPU_HZ = 125_000_000
CPI = (1.5, 2.0)  # cycles per instruction, best and worst (flash cache hits vs misses)
ADC_CONVERSION_US = 2.0  # 500 kS/s
OVERSAMPLE = {100: 4, 200: 4, 500: 1, 1000: 1}
# IMU burst on the bus: address+register, address, data bytes; 9 clocks a byte, start/stops
IMU_BUS = {
    "LSM6DSOX at 1 MHz": (3 + 12) * 9 + 3,  # clocks, at 1 MHz
    "MPU-6050 at 400 kHz": ((3 + 14) * 9 + 3) * 2.5,  # at 400 kHz: 2.5 us a clock
}
BUSY_LIMIT = 0.8  # the host warns above this share of a slot; the board should stay under it
THUMB_C_CALL = 150  # assumed: a C function of time/WDT called through an attribute
THUMB_C_WRITE = 1_500  # assumed: one stdout write of up to 32 bytes
THUMB_C_IPOLL = 300  # assumed: one poll.ipoll(0)
_C_TIME_CALLS = ("ticks_us", "ticks_add", "ticks_diff", "sleep_us", "watchdog_feed")

# Method B, no timing at all: issue 14's count of the whole 1.0 path at 500 Hz (162,000, with
# the plain CRC/COBS and 12 ADC reads), minus what changed, plus what was added since
THUMB_V10_PER_SAMPLE = 162_000
THUMB_ADDED_SINCE_V10 = 3_500  # assumed: busy-time bookkeeping (3 clock reads, _close_slot)
#                                and the zero padding write of every frame

ESTIMATE_METHOD = (
    "x86 unix-port times of the firmware's interpreted work per sample, converted to Thumb "
    "instructions with the factor that maps this machine's time for the plain CRC and COBS to "
    "their 29,000 and 34,000 instructions counted on an emulated Cortex-M0+ (issue 14); plus "
    "the board's own calls as counted there (2,333 per ADC read, 15,000 per IMU read, viper "
    "CRC 2,400 and COBS 2,200, plus protocol 1.2's CRC-32 check, 2,226 counted from its "
    "emitted Thumb code, and its 4 more bytes) and assumed costs of the C calls the fake board "
    "stands in for "
    "(150 per time/watchdog call, 1,500 per USB write, 300 per poll); at 1.5-2 cycles per "
    "instruction on 125 MHz, plus the IMU's I2C burst and 2 us per ADC conversion."
)


def _micropython():
    here = Path(sys.executable).parent / "micropython"
    return str(here) if here.exists() else "micropython"


def measure_micropython(samples=3000):
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


def _padded(n):
    return (n + WIRE_CHUNK - 1) // WIRE_CHUNK * WIRE_CHUNK


def frame_budget(rate_hz):
    # what goes onto the USB: frames padded to whole chunks, STATUS once a second
    bytes_s = _padded(SAMPLE_FRAME_LEN) * rate_hz + _padded(STATUS_FRAME_LEN)
    return {
        "bytes_per_s": bytes_s,
        "share_of_practical_cdc": bytes_s / USB_CDC_PRACTICAL_BYTES_S,
        "share_of_cdc_floor": bytes_s / USB_CDC_FLOOR_BYTES_S,
        "packets_per_s": rate_hz + 1,  # one frame per write, each under 64 bytes
    }


def rp2040_estimate(m):
    """Thumb instructions and time per sample on the RP2040, per rate (see the module doc)."""
    per_x86_us = (THUMB_CRC_PLAIN / m["crc_plain_us"] + THUMB_COBS_PLAIN / m["cobs_plain_us"]) / 2
    out = {"thumb_per_x86_us": per_x86_us}
    for rate in (100, 200, 500, 1000):
        measured = 500 if rate > 500 else rate  # 1000 Hz: refused; the 500 Hz path, 1 ms slot
        calls = m["board_calls_%d" % measured]
        cost = m["board_cost_us"]
        reads = calls["read_fsr"]
        fake_us = sum(calls[k] * cost[k] for k in calls)
        interp_us = (m["loop_us_%d" % measured] - fake_us - m["crc_native_us"]
                     - m["cobs_native_us"] - m["check_native_us"])
        usb_write = ((m["usb_write_us"] - 2 * m["null_write_us"] - 2 * m["null_ipoll_us"])
                     * per_x86_us + 2 * THUMB_C_WRITE + 2 * THUMB_C_IPOLL)
        usb_read = (m["usb_read_into_us"] - m["null_ipoll_us"]) * per_x86_us + THUMB_C_IPOLL
        instr = (interp_us * per_x86_us + reads * THUMB_PER_ADC_READ
                 + calls["imu_read"] * THUMB_IMU_READ + THUMB_CRC_VIPER + THUMB_COBS_VIPER
                 + THUMB_CHECK_VIPER
                 + sum(calls[k] for k in _C_TIME_CALLS) * THUMB_C_CALL
                 + calls["write"] * usb_write + calls["read_into"] * usb_read)
        slot_us = 1e6 / rate
        row = {"instructions": instr, "x86_us": m["loop_us_%d" % measured], "imu": {}}
        for imu, bus_us in IMU_BUS.items():
            lo = instr * CPI[0] / CPU_HZ * 1e6 + bus_us + reads * ADC_CONVERSION_US
            hi = instr * CPI[1] / CPU_HZ * 1e6 + bus_us + reads * ADC_CONVERSION_US
            row["imu"][imu] = {"us": (lo, hi), "busy": (lo / slot_us, hi / slot_us)}
        out[rate] = row
    return out


def count_estimate():
    """Method B: instructions per sample from issue 14's counts alone, per rate."""
    out = {}
    for rate in (100, 200, 500, 1000):
        reads = 3 * OVERSAMPLE[rate]
        out[rate] = (THUMB_V10_PER_SAMPLE
                     - (THUMB_CRC_PLAIN - THUMB_CRC_VIPER) - (THUMB_COBS_PLAIN - THUMB_COBS_VIPER)
                     + THUMB_CHECK_VIPER
                     - (12 - reads) * THUMB_PER_ADC_READ + THUMB_ADDED_SINCE_V10)
    return out


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def run(samples=3000, rounds=5):
    # The estimate subtracts measured times from each other, so one round on a busy machine can
    # be far off: rounds are made, and the round with the median instruction count per rate used
    ms = [measure_micropython(samples) for _ in range(rounds)]
    ests = [rp2040_estimate(x) for x in ms]
    est = {"thumb_per_x86_us": _median([e["thumb_per_x86_us"] for e in ests])}
    spread = {}
    for rate in (100, 200, 500, 1000):
        rows = sorted((e[rate] for e in ests), key=lambda r: r["instructions"])
        est[rate] = rows[len(rows) // 2]
        spread[rate] = (rows[0]["instructions"], rows[-1]["instructions"])
    est["spread"] = spread
    est["counts"] = count_estimate()
    m = ms[len(ms) // 2]
    for key in ("loop_us_100", "loop_us_200", "loop_us_500"):
        m[key] = _median([x[key] for x in ms])
    figures = {
        "micropython": m["micropython"],
        "samples_measured": m["samples_measured"],
        "native_crc_cobs": m["native"],
        "firmware_loop_errors": m["loop_errors"],
        "firmware_pack_us_per_sample_x86": m["pack_us"],
        "thumb_instructions_per_x86_us": est["thumb_per_x86_us"],
        "rate_max_hz": RATE_MAX_HZ,
        "estimate_method": ESTIMATE_METHOD,
        "estimate_rounds": rounds,
    }
    for rate in (100, 200, 500):
        figures["firmware_us_per_sample_x86_%dhz" % rate] = m["loop_us_%d" % rate]
        figures["firmware_alloc_bytes_per_sample_%dhz" % rate] = m["alloc_bytes_%d" % rate]
    for rate in (100, 200, 500, 1000):
        row = est[rate]
        figures["rp2040_thumb_instructions_per_sample_%dhz" % rate] = round(row["instructions"])
        figures["rp2040_thumb_instructions_spread_%dhz" % rate] = [
            round(x) for x in est["spread"][rate]]
        figures["rp2040_thumb_instructions_from_counts_%dhz" % rate] = round(est["counts"][rate])
        for imu, e in row["imu"].items():
            key = "lsm6dsox" if imu.startswith("LSM") else "mpu6050"
            figures["rp2040_us_per_sample_%dhz_%s" % (rate, key)] = [round(x) for x in e["us"]]
            figures["rp2040_busy_share_%dhz_%s" % (rate, key)] = [round(x, 3) for x in e["busy"]]
    for rate in (100, 500):
        b = frame_budget(rate)
        figures["frame_budget_%dhz_bytes_per_s" % rate] = b["bytes_per_s"]
        figures["frame_budget_%dhz_share_of_1MBps" % rate] = b["share_of_practical_cdc"]
        figures["frame_budget_%dhz_share_of_64kBps_floor" % rate] = b["share_of_cdc_floor"]
        figures["frame_budget_%dhz_packets_per_s" % rate] = b["packets_per_s"]
    figures["sample_frame_bytes"] = SAMPLE_FRAME_LEN
    figures["status_frame_bytes"] = STATUS_FRAME_LEN
    figures["_estimate"] = est
    return figures


def main():
    f = run()
    est = f.pop("_estimate")
    print("firmware sampling path under %s, x86 unix port (fake board, virtual clock, %d "
          "samples; viper CRC/COBS: %s)" % (f["micropython"], f["samples_measured"],
                                             "yes" if f["native_crc_cobs"] else "no"))
    for rate in (100, 200, 500):
        print("  x86 %3d Hz: %5.1f us per sample, %.2f bytes allocated per sample"
              % (rate, f["firmware_us_per_sample_x86_%dhz" % rate],
                 f["firmware_alloc_bytes_per_sample_%dhz" % rate]))
    print("  loop errors: %d" % f["firmware_loop_errors"])
    print("RP2040 estimate (125 MHz Cortex-M0+), median of %d rounds, %.0f Thumb instructions "
          "per x86 us:" % (f["estimate_rounds"], f["thumb_instructions_per_x86_us"]))
    print("  method: " + ESTIMATE_METHOD)
    for rate in (100, 200, 500, 1000):
        row = est[rate]
        for imu, e in row["imu"].items():
            lo, hi = e["us"]
            blo, bhi = e["busy"]
            verdict = "holds" if bhi <= BUSY_LIMIT else (
                "tight" if bhi <= 1.0 else "cannot hold")
            print("  %4d Hz, %-19s: %6.0f instructions (rounds: %.0f-%.0f), %4.0f-%4.0f us of a "
                  "%5.0f us slot (%2.0f-%3.0f%% busy, %2.0f%%+ free): %s"
                  % (rate, imu, row["instructions"], est["spread"][rate][0],
                     est["spread"][rate][1], lo, hi, 1e6 / rate, 100 * blo, 100 * bhi,
                     100 * (1 - bhi), verdict))
    print("cross-check without timing (issue 14's 1.0 count, 162,000 at 500 Hz, minus the viper "
          "savings and the ADC reads dropped, plus %d assumed for what was added):"
          % THUMB_ADDED_SINCE_V10)
    for rate in (100, 200, 500, 1000):
        instr = est["counts"][rate]
        reads = 3 * OVERSAMPLE[rate]
        for imu, bus_us in IMU_BUS.items():
            lo = instr * CPI[0] / CPU_HZ * 1e6 + bus_us + reads * ADC_CONVERSION_US
            hi = instr * CPI[1] / CPU_HZ * 1e6 + bus_us + reads * ADC_CONVERSION_US
            print("  %4d Hz, %-19s: %6.0f instructions, %4.0f-%4.0f us, %3.0f-%3.0f%% of the slot"
                  % (rate, imu, instr, lo, hi, lo * rate / 1e4, hi * rate / 1e4))
    print("  RATE_MAX_HZ = %d: SET_RATE above it is refused with OUT_OF_RANGE" % f["rate_max_hz"])
    print("frame budget (SAMPLE %d B padded to %d, STATUS %d B padded to %d, per second):"
          % (f["sample_frame_bytes"], _padded(f["sample_frame_bytes"]), f["status_frame_bytes"],
             _padded(f["status_frame_bytes"])))
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
