"""Thumb instructions of the firmware's viper functions (protocol/dowel_protocol/native.py) on
the RP2040, counted from the code the MicroPython compiler emits for it.

Each viper function is compiled alone with mpy-cross -march=armv6m (the Cortex-M0+ of the
RP2040: the board compiles native.py itself with the same emitter), its machine code found in
the .mpy (from the `push {..., lr}` of its prologue to the `pop {..., pc}` of its epilogue) and
disassembled with capstone. Per call it costs: its loop's instructions per byte times the bytes,
plus the instructions outside the loop, plus its calls into the MicroPython runtime (argument
conversion, len(), the pointer casts), each costed at CALL_THUMB. CALL_THUMB is not guessed: it
is what makes the CRC-16 come out at the 2,400 instructions counted for it on an emulated
Cortex-M0+ (issue 14). Loops that branch inside (the COBS encoder) are overcounted this way
(every path of the body); the COBS figure is the emulator's 2,200 scaled by the bytes instead.

    python bench/viper_thumb.py        (needs capstone: pip install capstone, in the bench extra)
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NATIVE = REPO / "protocol" / "dowel_protocol" / "native.py"
CRC16_EMULATED = 2_400  # the viper CRC-16 of one 1.1 SAMPLE (27 bytes), counted in issue 14
CRC16_BYTES_THEN = 27
SAMPLE_BYTES = {"crc16": 31, "crc32_into": 27, "cobs_encode_into": 33}  # a 1.2 SAMPLE
COBS_EMULATED = 2_200  # the viper COBS of a 1.1 SAMPLE (29 bytes), counted in issue 14
CPU_HZ = 125_000_000
CPI = (1.5, 2.0)


def _mpy_cross():
    here = Path(sys.executable).parent / "mpy-cross"
    return str(here) if here.exists() else "mpy-cross"


def _functions():
    src = NATIVE.read_text()
    parts = re.split(r"\n(?=@micropython\.viper)", src)
    return {re.search(r"def (\w+)", p).group(1): "import micropython\n\n" + p for p in parts[1:]}


def count(name, source):
    import capstone

    with tempfile.TemporaryDirectory() as d:
        py = os.path.join(d, name + ".py")
        mpy = os.path.join(d, name + ".mpy")
        Path(py).write_text(source)
        subprocess.run([_mpy_cross(), "-march=armv6m", py, "-o", mpy], check=True)
        data = Path(mpy).read_bytes()
    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    start = None
    for j in range(len(data) - 1):
        if data[j + 1] == 0xB5:  # the high byte of a Thumb "push {..., lr}"
            ins = next(md.disasm(data[j : j + 2], j), None)
            if ins is not None and ins.mnemonic == "push" and "lr" in ins.op_str:
                start = j
                break
    if start is None:
        raise RuntimeError("no prologue found in %s" % name)
    ins = []
    for x in md.disasm(data[start:], start):
        ins.append(x)
        if x.mnemonic == "pop" and "pc" in x.op_str:
            break
    at = {x.address: k for k, x in enumerate(ins)}
    loop = None
    for k, x in enumerate(ins):
        if x.mnemonic.startswith("b") and x.op_str.startswith("#"):
            t = int(x.op_str[1:], 16)
            if t < x.address and t in at:
                loop = (at[t], k)  # the outermost backward branch: the byte loop
                break
    body = ins[loop[0] : loop[1] + 1]
    return {
        "instructions": len(ins),
        "loop_per_byte": len(body),
        "outside_loop": len(ins) - len(body),
        "runtime_calls": sum(1 for x in ins if x.mnemonic == "blx"),
    }


def run():
    fns = {name: count(name, src) for name, src in _functions().items()}
    c16 = fns["crc16"]
    call = (CRC16_EMULATED - CRC16_BYTES_THEN * c16["loop_per_byte"] - c16["outside_loop"]) \
        / c16["runtime_calls"]
    out = {"call_thumb": round(call)}
    for name, f in fns.items():
        n = SAMPLE_BYTES[name]
        f["per_sample_1_2"] = round(n * f["loop_per_byte"] + f["outside_loop"]
                                    + f["runtime_calls"] * call)
        f["bytes_per_sample_1_2"] = n
        out[name] = f
    out["cobs_encode_into"]["per_sample_1_2"] = round(COBS_EMULATED * 33 / 29)
    # what 1.2 adds to every SAMPLE: the CRC-32, and 4 more bytes through the CRC-16 and COBS
    added = (out["crc32_into"]["per_sample_1_2"] + 4 * c16["loop_per_byte"]
             + round(COBS_EMULATED * 4 / 29))
    out["added_per_sample"] = added
    out["added_us"] = [round(added * c / CPU_HZ * 1e6, 1) for c in CPI]
    out["added_share_of_500hz_slot"] = [round(u / 2000, 4) for u in out["added_us"]]
    return out


def main():
    try:
        import capstone  # noqa: F401
    except ImportError:
        print("capstone is not installed (pip install capstone): nothing counted")
        return 1
    r = run()
    print("viper functions of native.py on the Cortex-M0+ (mpy-cross -march=armv6m), a runtime "
          "call costed at %d instructions (the CRC-16 then comes out at the emulator's 2,400):"
          % r["call_thumb"])
    for name in ("crc32_into", "crc16"):
        f = r[name]
        print("  %-17s %3d instructions a byte in its loop, %3d outside it, %2d runtime calls: "
              "%5d for the %d bytes of a 1.2 SAMPLE"
              % (name, f["loop_per_byte"], f["outside_loop"], f["runtime_calls"],
                 f["per_sample_1_2"], f["bytes_per_sample_1_2"]))
    print("  %-17s %5d for 33 bytes (the emulator's 2,200 for 29, scaled; its branching loop "
          "is not counted statically)" % ("cobs_encode_into", r["cobs_encode_into"]["per_sample_1_2"]))
    lo, hi = r["added_us"]
    print("protocol 1.2 adds %d instructions to every SAMPLE (the CRC-32, 4 more bytes of CRC-16 "
          "and COBS): %.0f-%.0f us at 1.5-2 cycles an instruction, %.1f-%.1f%% of a 500 Hz slot"
          % (r["added_per_sample"], lo, hi, 100 * lo / 2000, 100 * hi / 2000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
