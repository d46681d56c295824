"""smart-dowel firmware for the Raspberry Pi Pico (RP2040) under MicroPython.

Only board.py touches `machine`; everything else also runs on CPython, where the simulated
dowel drives it with a simulated board.
"""
