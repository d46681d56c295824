"""Compiled per-sample kernels: numba's @njit when it is installed, plain Python otherwise.

The stages' per-sample state machines and recursive filters are written once, as small
functions over numpy arrays (state carried in arrays between calls); numba compiles them to
machine code on first use and caches the result on disk (next to the package, or in the user's
cache folder when the package folder is read-only; NUMBA_CACHE_DIR overrides both; with no
writable folder at all they are compiled again in every process). The same
functions run unchanged, only slower, as Python: without numba on the platform, or with
DOWEL_NO_JIT=1 (or numba's own NUMBA_DISABLE_JIT=1). Both give the same decisions: IEEE double
arithmetic in the same order, no fast-math, the same libm for exp/sin/cos/sqrt.

`make .venv/.installed` compiles them once, right after installing (main() below), so the
first `dowel demo` or `dowel analyze` only loads them from the cache (a fraction of a second)
instead of compiling (several seconds).
"""

import os

try:  # pragma: no cover - which branch depends on the platform
    if os.environ.get("DOWEL_NO_JIT"):
        raise ImportError("DOWEL_NO_JIT is set")
    import numba as _numba
except ImportError:  # pragma: no cover
    _numba = None

ENABLED = _numba is not None and not os.environ.get("NUMBA_DISABLE_JIT")


def kernel(fn):
    """Compile fn with numba (lazily, on first call; cached on disk), or return it as is."""
    if _numba is None:
        return fn
    try:
        return _numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # no writable cache folder anywhere: compiled in every process
        return _numba.njit(nogil=True)(fn)


def warm():
    """Compile (or load from the cache) every kernel with the types the stages use; returns
    the seconds it took."""
    import time

    t0 = time.perf_counter()
    from .batch import analyze
    from .samples import Samples
    import numpy as np

    n = 64
    t = np.arange(n) / 100.0
    cols = {"t": t, "ax_g": np.zeros(n), "ay_g": np.zeros(n), "az_g": np.ones(n),
            "head_n": np.full(n, 5.0), "midback_n": np.full(n, 5.0), "tailbone_n": np.full(n, 5.0)}
    analyze(Samples.from_arrays(cols))  # accelerometer only
    cols.update(gx_dps=np.zeros(n), gy_dps=np.zeros(n), gz_dps=np.linspace(0, 1, n))
    analyze(Samples.from_arrays(cols))
    return time.perf_counter() - t0


def main():
    s = warm()
    print("pipeline kernels %s in %.2f s" % (
        "compiled (or loaded from the cache)" if ENABLED else "not compiled (numba absent: plain Python)", s))
