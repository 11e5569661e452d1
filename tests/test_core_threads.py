"""limit_threads: the same limits as threadpool_limits, on a controller built once per set of imports."""

from __future__ import annotations

import sys
import types

import numpy  # noqa: F401 - loads OpenBLAS, whose thread count is checked
from threadpoolctl import threadpool_info, threadpool_limits

from forecasting.core import threads
from forecasting.core.threads import limit_threads


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_limits_apply_inside_the_block_and_are_restored_after() -> None:
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert before and all(n == 2 for n in before)
        with limit_threads(1):
            assert all(n == 1 for n in _blas_threads())
        assert _blas_threads() == before
        with limit_threads(1, user_api="openmp"):
            assert _blas_threads() == before  # only OpenMP was limited


def test_controller_is_reused_until_a_module_is_imported(monkeypatch) -> None:
    first = threads._controller(len(sys.modules))
    assert threads._controller(len(sys.modules)) is first
    monkeypatch.setitem(sys.modules, "forecasting_test_new_module", types.ModuleType("new"))
    assert threads._controller(len(sys.modules)) is not first
