"""Stand-in for the rp2 module: BOOTSEL never pressed."""


def bootsel_button():
    return 0
