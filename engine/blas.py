"""numpy's and scipy's OpenBLAS held to one thread around LSAR's many small solves.

OpenBLAS splits even a 50 x 50 Cholesky or a 300 x 50 product across its threads, and on a
two-core machine waking them cost more than the work: 4 clipped 48 kHz files, whose repair is
thousands of such solves, took 5.8 s with two BLAS threads and 3.2 s with one
(``scripts/declip_short_runs.py --files 4 --drives 2 --rate 48000``; at 8x and 16 kHz, 34.5
and 25.4 s), while an isolated 200-400 ms gap took the same either way. One thread also gives
the same sums on any machine. Only OpenBLAS is limited: torch runs its own thread pool.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import lru_cache

from threadpoolctl import ThreadpoolController


@lru_cache(maxsize=1)
def _openblas():  # threadpoolctl's selection type is private
    return ThreadpoolController().select(internal_api="openblas")


def one_blas_thread() -> AbstractContextManager[object]:
    """A context in which OpenBLAS runs on the calling thread alone."""
    return _openblas().limit(limits=1)
