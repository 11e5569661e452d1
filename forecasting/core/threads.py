"""Thread limits for the native numerical libraries, without rescanning the process on every call.

``threadpoolctl.threadpool_limits`` lists every loaded shared library each time
it is entered (about 3 ms). The models hold BLAS or OpenMP to one thread around
each per-series fit and predict, a few hundred times per retrain, so one
controller is kept (as scikit-learn does) and rebuilt only when modules, and
with them possibly native libraries, have been imported since.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any

from threadpoolctl import ThreadpoolController


def limit_threads(limits: int | None, user_api: str | None = None) -> AbstractContextManager[Any]:
    """``threadpool_limits(limits, user_api)`` for a ``with`` block, on the cached controller (None:
    no change on entry, and the limits of the entry restored on exit)."""
    return _controller(len(sys.modules)).limit(limits=limits, user_api=user_api)


@lru_cache(maxsize=1)
def _controller(n_modules: int) -> ThreadpoolController:
    """The process's libraries as of ``n_modules`` imported modules (the cache key)."""
    return ThreadpoolController()
