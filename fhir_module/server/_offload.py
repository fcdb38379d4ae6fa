"""The one seam for blocking work on the event loop: FHIR reads, the database, key sets.

Every such piece of work is handed to Starlette's thread pool here, in one way; nothing
runs a shortened copy of it on the event loop (a thread hand-off costs some 40-50 us,
against some 600 us of work per hook call, and the HTTP goals are met with it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")


async def offload(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`work(*args, **kwargs)` in the thread pool, awaited."""
    return await run_in_threadpool(work, *args, **kwargs)
