"""A ``TaskGroup`` whose failure is the failing task's own exception.

``asyncio.TaskGroup`` wraps failures in an ``ExceptionGroup``; callers of the walkers and
writers catch ``WixError`` subclasses by class, so the first failure is re-raised as itself
(its own cause chain intact). The other tasks are cancelled and awaited first, exactly as
TaskGroup does; only the wrapping differs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def task_group() -> AsyncIterator[asyncio.TaskGroup]:
    """``async with task_group() as group:`` like TaskGroup, raising the first failure."""
    try:
        async with asyncio.TaskGroup() as group:
            yield group
    except BaseExceptionGroup as errors:
        error = first_error(errors)
        # Plain raise, not "from": the error keeps its own cause (e.g. the aiohttp failure).
        raise error  # noqa: B904


def first_error(errors: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf exception of a (possibly nested) exception group."""
    error: BaseException = errors
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
