"""The applier against a fake store: journaling order, isolation of failures, batching."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from syncd.apply.absolute import V1_PRODUCTS_PER_BATCH, apply_plan
from syncd.base.errors import WixAuthError
from syncd.base.model import Catalog, StoreSnapshot, StoreVariant
from syncd.core.journal import Outcome
from syncd.core.plan import ChangeReason, Plan, StockChange
from syncd.edges.backend.local.journal import file_journal, read_journal
from syncd.edges.wix import StockWrite, WriteOutcome


def _variant(product: int, variant: int = 0) -> StoreVariant:
    return StoreVariant(product_id=f"p{product}", variant_id=f"v{variant}",
                        inventory_item_id=f"i{product}", sku=f"SKU-{product}-{variant}",
                        tracked=True, quantity=1, in_stock=True, hidden=False,
                        product_name=f"Product {product}")


def _plan(products: int, variants: int = 2) -> Plan:
    changes = tuple(StockChange(variant=_variant(p, v), quantity=5, in_stock=None, track=True,
                                reason=ChangeReason.QUANTITY, row=None)
                    for p in range(products) for v in range(variants))
    return Plan(catalog=Catalog.V1, changes=changes, store_variants=len(changes),
                source_rows=len(changes), matched=len(changes), managed=len(changes))


class FakeStore:
    """Records write calls; fails the products named in ``failing``."""

    catalog = Catalog.V1

    def __init__(self, journal_path: Path, *, failing: set[str] = frozenset(),
                 auth_error: bool = False) -> None:
        self.journal_path = journal_path
        self.failing = failing
        self.auth_error = auth_error
        self.calls: list[list[str]] = []
        self.pending_seen: list[int] = []

    async def walk(self) -> StoreSnapshot:
        raise AssertionError("the applier never walks")

    async def refresh(self, *, product_ids=(), item_ids=()) -> StoreSnapshot:
        raise AssertionError("V1 writes have no conflicts")

    async def write(self, changes: Sequence[StockWrite]) -> tuple[WriteOutcome, ...]:
        # What the journal holds at the moment of sending.
        self.pending_seen.append(sum(1 for e in read_journal(self.journal_path)
                                     if e.outcome is Outcome.PENDING))
        if self.auth_error:
            raise WixAuthError("401: bad key", status=401)
        self.calls.append([c.variant.product_id for c in changes])
        return tuple(WriteOutcome(c, c.variant.product_id not in self.failing,
                                  error="500 after retries" if c.variant.product_id in
                                  self.failing else None) for c in changes)


async def test_every_write_is_journaled_as_pending_before_it_is_sent(tmp_path):
    plan = _plan(products=3)
    journal = file_journal(tmp_path / "j.jsonl", site="s", run_id="r")
    store = FakeStore(journal.store.path)
    async with journal:
        report = await apply_plan(plan, store=store, journal=journal)  # type: ignore[arg-type]
    assert store.pending_seen == [6]
    assert report.written == 6 and report.complete
    entries = list(read_journal(journal.store.path))
    assert [e.outcome for e in entries] == [Outcome.PENDING] * 6 + [Outcome.APPLIED] * 6
    assert entries[0].before.quantity == 1 and entries[0].after.quantity == 5


async def test_one_failing_product_does_not_stop_the_others(tmp_path):
    plan = _plan(products=4)
    journal = file_journal(tmp_path / "j.jsonl", site="s", run_id="r")
    store = FakeStore(journal.store.path, failing={"p1"})
    async with journal:
        report = await apply_plan(plan, store=store, journal=journal)  # type: ignore[arg-type]
    assert report.written == 6 and report.failed == 2 and not report.complete
    failed = [p for p in report.products if p.failed]
    assert [(p.product_id, p.errors) for p in failed] == [("p1", ("500 after retries",))]
    outcomes = {(e.product_id, e.outcome) for e in read_journal(journal.store.path)}
    assert ("p1", Outcome.FAILED) in outcomes and ("p2", Outcome.APPLIED) in outcomes


async def test_write_without_a_definite_answer_is_journaled_as_unknown(tmp_path):
    plan = _plan(products=2)
    journal = file_journal(tmp_path / "j.jsonl", site="s", run_id="r")

    class TimingOut(FakeStore):
        async def write(self, changes):
            return tuple(WriteOutcome(c, False, error="timeout after 6 attempts",
                                      uncertain=c.variant.product_id == "p0")
                         for c in changes)

    async with journal:
        report = await apply_plan(plan, store=TimingOut(journal.store.path),  # type: ignore[arg-type]
                                  journal=journal)
    assert report.failed == 4
    settled = {(e.product_id, e.outcome) for e in read_journal(journal.store.path)
               if e.outcome is not Outcome.PENDING}
    assert settled == {("p0", Outcome.UNKNOWN), ("p1", Outcome.FAILED)}


async def test_v1_batches_hold_whole_products(tmp_path):
    plan = _plan(products=V1_PRODUCTS_PER_BATCH + 3, variants=3)
    journal = file_journal(tmp_path / "j.jsonl", site="s", run_id="r")
    store = FakeStore(journal.store.path)
    async with journal:
        await apply_plan(plan, store=store, journal=journal)  # type: ignore[arg-type]
    assert [len(set(call)) for call in store.calls] == [V1_PRODUCTS_PER_BATCH, 3]
    assert all(len(call) == 3 * len(set(call)) for call in store.calls)


async def test_auth_error_stops_the_run_after_journaling_the_batch_as_unknown(tmp_path):
    """Other products of the batch may have landed before the error: the journal must not
    claim they failed (a rollback would then skip them)."""
    plan = _plan(products=2)
    journal = file_journal(tmp_path / "j.jsonl", site="s", run_id="r")
    store = FakeStore(journal.store.path, auth_error=True)
    async with journal:
        with pytest.raises(WixAuthError):
            await apply_plan(plan, store=store, journal=journal)  # type: ignore[arg-type]
    outcomes = [e.outcome for e in read_journal(journal.store.path)]
    assert outcomes == [Outcome.PENDING] * 4 + [Outcome.UNKNOWN] * 4
