import micropython  # the first statement: see below

micropython.kbd_intr(-1)

# What the dowel's Pico runs at boot: the real board and the firmware, streaming protocol v1
# over USB once the host sends START.
#
# Ctrl-C is switched off by the first two statements, before anything else runs: MicroPython
# arms Ctrl-C for main.py, and a host that opens the port sends GET_INFO at once (every command
# with seq < 256 contains a 0x03). A 0x03 that arrived before that became a pending
# KeyboardInterrupt, which the VM raises at its next check, somewhere in the imports or the
# set-up: every step below runs inside the loop's try, and a KeyboardInterrupt that is not the
# firmware's own break-in (BreakIn) starts the boot again. From then on a 0x03 is data.
#
# Pressing BOOTSEL within a second of power-up skips the firmware. An mpremote break-in ("\\r\\x03")
# ends it and leaves the port to the REPL, so `dowel flash` and mpremote keep working.


while True:
    # no statement of main.py's own runs outside this try
    try:
        micropython.kbd_intr(-1)  # again: a restart may come from anywhere in here
        from dowel_device.board import Board
        from dowel_device.firmware import Firmware

        board = Board()
        if board.safe_mode():
            board.release_console()
            print("smart-dowel: BOOTSEL pressed, firmware not started")
            break
        Firmware(board).run()
    except KeyboardInterrupt as e:
        if type(e).__name__ == "BreakIn":  # the firmware's own: mpremote is breaking in
            e.args[0].release_console()
            print("smart-dowel: firmware stopped for the REPL")
            break
        # a Ctrl-C from before kbd_intr(-1): forget half-done imports, start again
        import sys

        for name in list(sys.modules):
            if name.startswith("dowel_"):
                del sys.modules[name]
