"""How many cycles run at once: a limit that a reload may change while cycles hold slots."""

from __future__ import annotations

import asyncio

from syncd.frontends.daemon.slots import CycleSlots

from .conftest import until


async def _take(slots: CycleSlots, order: list[str], name: str) -> None:
    await slots.acquire()
    order.append(name)


class TestCycleSlots:
    async def test_without_a_limit_every_cycle_gets_a_slot_at_once(self):
        slots = CycleSlots(None)
        for _ in range(100):
            await slots.acquire()
        assert slots.held == 100

    async def test_waiting_cycles_get_freed_slots_in_the_order_they_asked(self):
        slots = CycleSlots(1)
        await slots.acquire()
        order: list[str] = []
        async with asyncio.TaskGroup() as tg:
            for name in ("a", "b", "c"):
                tg.create_task(_take(slots, order, name))
            await asyncio.sleep(0.01)
            assert order == []
            for taken in range(1, 4):
                slots.release()
                await until(lambda taken=taken: len(order) == taken)
        assert order == ["a", "b", "c"]

    async def test_raising_the_limit_starts_waiting_cycles_at_once(self):
        slots = CycleSlots(1)
        await slots.acquire()
        order: list[str] = []
        async with asyncio.TaskGroup() as tg:
            for name in ("a", "b"):
                tg.create_task(_take(slots, order, name))
            await asyncio.sleep(0.01)
            slots.resize(3)
        assert order == ["a", "b"] and slots.held == 3

    async def test_lowering_the_limit_interrupts_no_cycle_and_holds_new_ones_back(self):
        slots = CycleSlots(3)
        for _ in range(3):
            await slots.acquire()
        slots.resize(1)
        waiter = asyncio.create_task(slots.acquire())
        slots.release()
        slots.release()  # one slot still held: at the new limit
        await asyncio.sleep(0.01)
        assert not waiter.done()
        slots.release()
        await asyncio.wait_for(waiter, 1)
        assert slots.held == 1

    async def test_a_cycle_cancelled_while_waiting_gives_up_its_place(self):
        slots = CycleSlots(1)
        await slots.acquire()
        cancelled = asyncio.create_task(slots.acquire())
        order: list[str] = []
        later = asyncio.create_task(_take(slots, order, "later"))
        await asyncio.sleep(0.01)
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        slots.release()
        await asyncio.wait_for(later, 1)
        assert order == ["later"] and slots.held == 1

    async def test_a_slot_handed_to_a_cycle_cancelled_meanwhile_passes_to_the_next(self):
        slots = CycleSlots(1)
        await slots.acquire()
        cancelled = asyncio.create_task(slots.acquire())
        order: list[str] = []
        later = asyncio.create_task(_take(slots, order, "later"))
        await asyncio.sleep(0.01)
        slots.release()  # hands the slot to the first waiter...
        cancelled.cancel()  # ...which is cancelled before it could run
        await asyncio.gather(cancelled, return_exceptions=True)
        await asyncio.wait_for(later, 1)
        assert cancelled.cancelled() and order == ["later"] and slots.held == 1
