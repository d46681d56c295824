"""Deployment manifest: exactly the files that go onto the dowel's Pico, as (source path from the
repository root, path on the board). `dowel flash` compiles every .py but main.py with mpy-cross.

The simulator, the tests and the host never go onto the board.
"""

PROTOCOL_FILES = (
    "__init__.py",
    "compat.py",
    "errors.py",
    "cobs.py",
    "crc.py",
    "messages.py",
    "decoder.py",
    "native.py",
)

DEVICE_FILES = (
    "__init__.py",
    "config.py",
    "board.py",
    "firmware.py",
    "mpu6050.py",
    "lsm6dsox.py",
    "usbserial.py",
)

# Files that go onto the board as source: main.py (MicroPython runs /main.py at boot, it does not
# look for main.mpy), and native.py, whose viper code the board's own compiler turns into Thumb
# code (a .mpy with native code loads only on the MicroPython version that made it).
SOURCE = ("main.py", "lib/dowel_protocol/native.py")

FILES = (
    tuple(("protocol/dowel_protocol/" + f, "lib/dowel_protocol/" + f) for f in PROTOCOL_FILES)
    + tuple(("device/dowel_device/" + f, "lib/dowel_device/" + f) for f in DEVICE_FILES)
    + (("device/main.py", "main.py"),)
)
