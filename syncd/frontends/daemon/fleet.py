"""Site loops that outlive reloads and ownership changes: one task per site, changed one by one.

With many sites (a ``sites_dir`` of a thousand files, or sites shared out among replicas),
restarting every loop because one site was added would make every store wait for its next
cycle. ``Fleet.apply`` instead compares what should run with what runs: a site whose
settings and schedule are unchanged keeps its loop (its cycle in flight, its fast-lane
index, its back-off); a removed or changed site's loop is stopped (its cycle gets the
shutdown grace period to finish); an added or changed site's loop starts with the newest
runner. A runner (one per configuration generation: an HTTP session and the sites'
clients) is closed once no loop uses it any more.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import structlog

from syncd.frontends.daemon.aio import wait_for_any
from syncd.frontends.daemon.config import DaemonSetup
from syncd.frontends.daemon.cycle import CycleRunner, NamedSite
from syncd.frontends.daemon.siteloop import SiteLoop

log = structlog.get_logger("syncd.frontends.daemon")

SiteT = TypeVar("SiteT", bound=NamedSite)

MakeLoop = Callable[[SiteT, CycleRunner[SiteT]], SiteLoop[SiteT]]


@dataclass(eq=False)
class _Generation(Generic[SiteT]):
    runner: CycleRunner[SiteT]
    stack: contextlib.AsyncExitStack
    users: set[str] = field(default_factory=set)


@dataclass(eq=False)
class _Running(Generic[SiteT]):
    key: Hashable
    loop: SiteLoop[SiteT]
    task: asyncio.Task[None]
    stop: asyncio.Event
    generation: _Generation[SiteT]


class Fleet(Generic[SiteT]):
    """The running site loops of a daemon, owned by the daemon's task group.

    Setting ``force`` (a second SIGTERM) cuts short the grace period of every stop.
    """

    def __init__(self, tg: asyncio.TaskGroup, *, force: asyncio.Event) -> None:
        self._tg = tg
        self._force = force
        self._running: dict[str, _Running[SiteT]] = {}
        self._generations: list[_Generation[SiteT]] = []
        self.loops: list[SiteLoop[SiteT]] = []
        """The running loops (the same list object throughout: watchers hold it)."""

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._running)

    async def open_generation(self, setup: DaemonSetup[SiteT]) -> None:
        """Enter ``setup``'s runner: loops started from now on use it."""
        stack = contextlib.AsyncExitStack()
        runner = await stack.enter_async_context(setup.open_runner())
        self._generations.append(_Generation(runner=runner, stack=stack))

    async def apply(self, wanted: Sequence[tuple[SiteT, Hashable]], *, grace_s: float,
                    make_loop: MakeLoop[SiteT]) -> tuple[list[str], list[str]]:
        """Run exactly ``wanted`` (site, key): keep loops whose key is unchanged, stop the
        others, start the missing ones. Returns (started, stopped) site names."""
        by_name = {site.name: (site, key) for site, key in wanted}
        stale = [name for name, running in self._running.items()
                 if name not in by_name or by_name[name][1] != running.key]
        await self.stop(stale, grace_s=grace_s)
        started = []
        current = self._generations[-1]
        for name, (site, key) in by_name.items():
            if name in self._running:
                continue
            loop = make_loop(site, current.runner)
            stop = asyncio.Event()
            task = self._tg.create_task(loop.run(stop), name=f"site {name}")
            self._running[name] = _Running(key=key, loop=loop, task=task, stop=stop,
                                           generation=current)
            current.users.add(name)
            self.loops.append(loop)
            started.append(name)
        await self._close_unused()
        if started or stale:
            log.info("sites_changed", started=len(started), stopped=len(stale),
                     running=len(self._running))
        return started, stale

    async def stop(self, names: Sequence[str], *, grace_s: float) -> None:
        """Stop the loops of ``names``: no new cycle, the one in flight gets ``grace_s``."""
        stopping = [self._running.pop(name) for name in names if name in self._running]
        if not stopping:
            return
        for running in stopping:
            running.stop.set()
        await self._drain(stopping, grace_s=grace_s)
        await asyncio.gather(*(r.task for r in stopping), return_exceptions=True)
        for running in stopping:
            running.generation.users.discard(running.loop.name)
            self.loops.remove(running.loop)

    async def close(self, *, grace_s: float) -> None:
        """Stop every loop, then close every runner."""
        await self.stop(list(self._running), grace_s=grace_s)
        await self._close_unused(keep_current=False)

    async def _drain(self, stopping: Sequence[_Running[SiteT]], *, grace_s: float) -> None:
        """Let the stopping loops finish their cycles for up to ``grace_s``, then cancel them."""
        busy = [r.loop.name for r in stopping if r.loop.in_cycle]
        if busy:
            log.info("waiting_for_cycles", sites=busy, grace_s=grace_s)
        tasks = [r.task for r in stopping]
        all_done = asyncio.Event()

        def check(_: object) -> None:
            if all(t.done() for t in tasks):
                all_done.set()

        for task in tasks:
            task.add_done_callback(check)
        check(None)
        await wait_for_any(all_done, self._force, timeout_s=grace_s)
        late = [t for t in tasks if not t.done()]
        if late:
            log.warning("shutdown_grace_expired", cancelled=[t.get_name() for t in late],
                        grace_s=grace_s, forced=self._force.is_set())
            for task in late:
                task.cancel()

    async def _close_unused(self, *, keep_current: bool = True) -> None:
        keep = self._generations[-1] if keep_current and self._generations else None
        for generation in list(self._generations):
            if generation is not keep and not generation.users:
                self._generations.remove(generation)
                await generation.stack.aclose()
