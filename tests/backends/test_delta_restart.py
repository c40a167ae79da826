"""Deltas a killed run journaled ``pending`` are settled by the next run with a re-read of
the store, on whichever backend holds the journal, and never sent a second time."""

from __future__ import annotations

from support.faults import API_KEY, SITE, SITE_ID, end_state_errors, make_desired, write_site
from syncd.core.journal import Outcome
from syncd.cycle.results import SyncResult
from syncd.cycle.sync import SiteSync
from syncd.edges.backend import StateBackend


async def test_deltas_left_pending_by_a_killed_run_are_settled_by_a_reread_not_resent(
    emulator, tmp_path, state_backend: StateBackend
):
    emu = await emulator(catalog="v1", generate_products=200, seed=58, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None)
    initial = emu.state()
    desired = make_desired(initial, drift=0.3, seed=58)
    files = write_site(tmp_path, url=emu.url, desired=desired, write_mode="delta")
    site = files.settings().sites[0]
    async with SiteSync(site, state_dir=files.state_dir, backend=state_backend) as sync:
        planned = await sync.plan()
    changes = [c for c in planned.plan.changes if c.variant.quantity is not None][:20]
    landed, lost = changes[:10], changes[10:]
    # The killed run: its deltas journaled pending, one call landed, then nothing more.
    async with state_backend.journal(SITE, run_id="killed-run") as journal:
        await journal.write_pending(changes, deltas=[c.quantity - (c.variant.quantity or 0)
                                                     for c in changes])
    for c in landed:
        variant = emu.store.by_id[c.variant.product_id].variants_by_id[c.variant.variant_id]
        emu.store.adjust_variant(variant, c.quantity - (c.variant.quantity or 0))

    async with SiteSync(site, state_dir=files.state_dir, backend=state_backend) as sync:
        result = await sync.sync()

    assert isinstance(result, SyncResult) and result.applied is not None
    assert result.applied.deltas is not None and result.applied.deltas.recovered == 20
    entries = await state_backend.read_journal(SITE)
    killed = {e.sku: e.outcome for e in entries
              if e.run_id == "killed-run" and e.outcome is not Outcome.PENDING}
    assert killed == {**{c.variant.sku: Outcome.APPLIED for c in landed},
                      **{c.variant.sku: Outcome.FAILED for c in lost}}
    key = lambda c: (c.variant.product_id, c.variant.variant_id)  # noqa: E731
    planned_again = {key(c) for c in result.planned.plan.changes}
    assert not {key(c) for c in landed} & planned_again
    assert {key(c) for c in lost} <= planned_again
    sent = set(emu.stats()["deltas"]["by_variant"])  # type: ignore[arg-type]
    assert not {f"{p}/{v}" for p, v in map(key, landed)} & sent  # never sent again
    assert end_state_errors(initial, emu.state(), desired) == []
    if state_backend.__class__.__name__ == "PostgresBackend":
        assert not files.journal.exists()  # nothing went to the local directory
