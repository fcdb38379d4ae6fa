"""The one memo of the dose arithmetic: a bounded table of results of pure functions.

The same few doses of the same few products at the same few frequencies recur, so the
arithmetic of a dose is remembered: ``@memo`` wraps a pure function (its result depends on
its arguments alone, and is immutable) in a least-recently-used table of at most
``MAXSIZE`` results, keyed by every argument and its type (``1`` and ``1.0`` are different
keys). A call that raises is not remembered. ``clear_memo()`` empties every table, for a
measurement where every dose is a new one, and ``memo_sizes()`` says how full each is.

This module is the only state the dosing package keeps between calls.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, ParamSpec, TypeVar, cast

P = ParamSpec("P")
R = TypeVar("R")

#: the most results each memoised function keeps
MAXSIZE = 1024

_TABLES: list[Any] = []  # the lru_cache wrappers made by ``memo``, to clear and size them


def memo(function: Callable[P, R]) -> Callable[P, R]:
    """``function``, remembering up to MAXSIZE of its results. It must be pure: the same
    arguments always give the same, immutable result."""
    table = lru_cache(maxsize=MAXSIZE, typed=True)(function)
    _TABLES.append(table)
    return cast(Callable[P, R], table)  # lru_cache keeps the function's name and docstring


def clear_memo() -> None:
    """Forget every remembered result."""
    for table in _TABLES:
        table.cache_clear()


def memo_sizes() -> dict[str, int]:
    """How many results each memoised function holds now, by its qualified name."""
    return {
        f"{table.__module__}.{table.__qualname__}": table.cache_info().currsize for table in _TABLES
    }
