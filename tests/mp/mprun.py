# Runs the plain test_* functions of one module under MicroPython (or CPython) and prints
# "N passed, N failed". Usage: micropython tests/mp/mprun.py MODULE
import sys


def main():
    name = sys.argv[1]
    mod = __import__(name)
    names = sorted(k for k in dir(mod) if k.startswith("test_"))
    passed = 0
    failed = 0
    for k in names:
        try:
            getattr(mod, k)()
        except Exception as e:  # report every failure, keep running the rest
            failed += 1
            print("FAIL", k, repr(e))
            if hasattr(sys, "print_exception"):
                sys.print_exception(e)
            else:
                import traceback

                traceback.print_exc()
        else:
            passed += 1
            print("PASS", k)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)


main()
