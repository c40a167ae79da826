"""Benchmark of the differ: CPU time and peak memory on synthetic stores.

Not a test (pytest does not collect bench_*.py). Run:

    .venv/bin/python tests/bench/bench_diff.py            # 100,000 and 1,000,000 variants
    .venv/bin/python tests/bench/bench_diff.py --size 250000

Each size runs in its own subprocess so that the peak RSS it prints belongs to that size
alone. The store is shaped like a Catalog V1 store (10 variants per product, product and
inventory ids shared by a product's variants, variant ids shared across products as V1
derives them from the options, 90 % tracked, 2 % hidden); the source names every variant
by SKU with ~5 % of the quantities changed. CPU time is measured around ``plan_changes``
only; RSS covers the whole process, inputs included.

Targets: 1,000,000 variants <= 3 s CPU and <= 400 MB peak RSS; 100,000 <= 0.3 s CPU.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import time

from syncd.base.model import Catalog, DesiredStock, StoreSnapshot, StoreVariant
from syncd.core.diff import plan_changes
from syncd.core.policy import Policy
from syncd.edges.sources import DesiredRows

VARIANTS_PER_PRODUCT = 10
DRIFT = 0.05


def build(size: int, seed: int = 7) -> tuple[StoreSnapshot, DesiredRows]:
    """A synthetic store of ``size`` variants and a source naming all of them, held the
    way the source readers hold it (``DesiredRows``, by column)."""
    rng = random.Random(seed)
    variant_ids = [f"00000000-0000-00{k:02d}-0000-000000000000"
                   for k in range(VARIANTS_PER_PRODUCT)]
    variants: list[StoreVariant] = []
    source = "bench.csv"
    rows = DesiredRows(source)
    for p in range(size // VARIANTS_PER_PRODUCT):
        product_id = f"{p:08x}-1111-2222-3333-444444444444"
        item_id = f"{p:08x}-aaaa-bbbb-cccc-dddddddddddd"
        name = f"Product {p}"
        tracked = rng.random() < 0.9
        hidden = rng.random() < 0.02
        for k in range(VARIANTS_PER_PRODUCT):
            quantity = rng.randrange(0, 200)
            variants.append(StoreVariant(
                product_id=product_id, variant_id=variant_ids[k], inventory_item_id=item_id,
                sku=f"SKU-{p:07d}-{k}", tracked=tracked,
                quantity=quantity if tracked else None, in_stock=quantity > 0,
                hidden=hidden, product_name=name))
            desired = quantity
            if rng.random() < DRIFT:
                desired = (quantity + rng.randrange(1, 50)) % 200
            # A new string object, as a file reader would make, not the store's own.
            rows.append(DesiredStock(sku=f"SKU-{p:07d}-{k}", product_id=None, variant_id=None,
                                     quantity=desired, in_stock=None, source=source,
                                     line=len(rows) + 2))
    return StoreSnapshot(catalog=Catalog.V1, variants=tuple(variants)), rows


def run_one(size: int) -> None:
    snapshot, rows = build(size)
    start = time.process_time()
    plan = plan_changes(rows, snapshot, Policy())
    cpu_s = time.process_time() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"variants={size:>9,}  changes={len(plan.changes):>7,}  "
          f"plan_changes_cpu={cpu_s:.3f}s  peak_rss={peak_mb:.0f}MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, action="append",
                        help="variants (repeatable); default 100000 and 1000000")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = args.size or [100_000, 1_000_000]
    if args.child:
        run_one(sizes[0])
        return 0
    for size in sizes:
        subprocess.run([sys.executable, __file__, "--child", "--size", str(size)], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
