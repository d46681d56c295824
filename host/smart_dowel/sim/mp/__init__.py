"""MicroPython side of the simulated dowel (`--runtime micropython`): a board reading the
rendered sensor stream, and the entry point that runs the real firmware on it. These files
import nothing from the host package and run under the MicroPython unix port."""
