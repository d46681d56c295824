"""The protocol's plain test functions, run under the real MicroPython interpreter."""

from conftest import run_micropython, run_micropython_tests


def test_protocol_suite_passes_under_micropython():
    passed = run_micropython_tests("test_protocol_plain")
    assert passed >= 20


def test_micropython_is_the_real_interpreter():
    proc = run_micropython(["-c", "import sys; print(sys.implementation.name)"])
    assert proc.stdout.strip() == "micropython"
