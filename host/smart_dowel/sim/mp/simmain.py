"""Entry point of `dowel simulate --runtime micropython`: the real firmware on MpSimBoard.

micropython simmain.py STREAM_FILE RATE_HZ OVERSAMPLE AUTOSTART(0|1) SPEED SEED
stdin and stdout are the pty master. Exits 0 when the scenario has played to its end.
"""

import sys

from dowel_device.firmware import Firmware
from simboard import BoardReset, MpSimBoard


def main():
    path = sys.argv[1]
    rate = int(sys.argv[2])
    oversample = int(sys.argv[3])
    autostart = sys.argv[4] == "1"
    speed = float(sys.argv[5])
    seed = int(sys.argv[6])
    board = MpSimBoard(path, seed, speed)
    sys.stderr.write("simulated dowel: firmware running under MicroPython\n")
    while True:
        fw = Firmware(board, rate_hz=rate, oversample=oversample, autostart=autostart)
        try:
            while not board.finished():
                fw.poll()
            return
        except BoardReset:
            sys.stderr.write("simulated dowel: board reset\n")
        except KeyboardInterrupt:
            # an mpremote break-in ("\r\x03"): the real board would drop to the REPL and
            # main.py would start over on the next soft reset; here the firmware restarts
            sys.stderr.write("simulated dowel: break-in, firmware restarted\n")


main()
