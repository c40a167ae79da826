"""Producer -> bounded queue -> worker pool, for work units that need requests of their own.

A producer (paging through products, or listing ids to refresh) hands work units to a pool of
workers through a bounded ``asyncio.Queue``; each worker turns a unit into store variants,
possibly with more requests. All tasks are named and owned by one ``TaskGroup``: if any of
them fails, the others are cancelled and the error propagates. The queue bound keeps memory
flat when workers are slower than pages. Results keep the producer's order, whatever order
the workers finish in, so two walks of an unchanged store give equal snapshots.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from syncd.base.model import StoreVariant
from syncd.edges.wix.tasks import task_group

T = TypeVar("T")

Emit = Callable[[T], Awaitable[None]]
"""Hands one work unit to the workers; waits while the queue is full."""


class _Done:
    """End-of-work marker, one per worker."""


_DONE = _Done()


class _Pipeline(Generic[T]):
    def __init__(self, queue_size: int) -> None:
        self.queue: asyncio.Queue[tuple[int, T] | _Done] = asyncio.Queue(queue_size)
        self.results: dict[int, Sequence[StoreVariant]] = {}
        self._next_index = 0

    async def emit(self, unit: T) -> None:
        index = self._next_index
        self._next_index += 1
        await self.queue.put((index, unit))

    async def work(self, resolve: Callable[[T], Awaitable[Sequence[StoreVariant]]]) -> None:
        while True:
            item = await self.queue.get()
            if isinstance(item, _Done):
                return
            index, unit = item
            self.results[index] = await resolve(unit)


async def run_pipeline(
    produce: Callable[[Emit[T]], Awaitable[None]],
    resolve: Callable[[T], Awaitable[Sequence[StoreVariant]]],
    *,
    workers: int,
    queue_size: int,
    name: str,
) -> list[StoreVariant]:
    """Run ``produce`` and ``workers`` copies of ``resolve``; variants in production order."""
    pipeline: _Pipeline[T] = _Pipeline(queue_size)

    async def producer() -> None:
        await produce(pipeline.emit)
        for _ in range(workers):
            await pipeline.queue.put(_DONE)

    async with task_group() as group:
        for number in range(workers):
            group.create_task(pipeline.work(resolve), name=f"{name} worker {number}")
        group.create_task(producer(), name=f"{name} producer")
    return [v for index in sorted(pipeline.results) for v in pipeline.results[index]]
