"""What the dowel's Pico runs at boot: the real board and the firmware, streaming protocol v1
over USB once the host sends START.

Pressing BOOTSEL within a second of power-up skips the firmware. An mpremote break-in ("\\r\\x03" between
frames) ends it and leaves the port to the REPL, so `dowel flash` and mpremote keep working.
"""

from dowel_device.board import Board
from dowel_device.firmware import Firmware


def main():
    board = Board()
    if board.safe_mode():
        board.release_console()
        print("smart-dowel: BOOTSEL pressed, firmware not started")
        return
    try:
        Firmware(board).run()
    except KeyboardInterrupt:
        board.release_console()
        print("smart-dowel: firmware stopped for the REPL")


main()
