"""Memory of the multi-site emulator: one shared catalog, and what each site adds.

Not a test (pytest does not collect bench_*.py). Run:

    .venv/bin/python tests/bench/bench_emulator_sites.py --sites 1000 10000
    .venv/bin/python tests/bench/bench_emulator_sites.py --sites 1000 --catalog-per-site

For each count it builds a ``MultiSiteEmulator`` of that many sites of ``--products``
generated products in a fresh process, uses every site (a read of its whole state, as
``syncd run`` walking it would, and a write to ``--written`` of its products, as a sync
would), and prints the process's peak RSS and the bytes per site beyond the shared catalog.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

from syncd_emulator.config import EmulatorConfig
from syncd_emulator.multisite import MultiSiteConfig, MultiSiteEmulator


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(sites: int, products: int, written: int, per_site: bool) -> None:
    multi = MultiSiteEmulator(MultiSiteConfig(
        sites=sites, catalog_per_site=per_site,
        template=EmulatorConfig(generate_products=products)))
    started = time.monotonic()
    first = multi.site(multi.config.site_id(1))
    assert first is not None
    base_mb = peak_rss_mb()
    for site_id in multi.config.site_ids():
        emulator = multi.site(site_id)
        assert emulator is not None
        store = emulator.store
        store.state_rows()
        with store.writing():
            for product in list(store.products[:written]):
                mine = store.by_id[product.id]
                store.set_variant_stock(mine.variants[0], quantity=7, in_stock=None)
    total_mb = peak_rss_mb()
    per_site_kb = (total_mb - base_mb) * 1024 / max(1, sites - 1)
    print(f"| {sites} | {products} | {written} | {'own' if per_site else 'shared'} | "
          f"{total_mb:.0f} | {per_site_kb:.1f} | {time.monotonic() - started:.0f} |",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--written", type=int, default=5,
                        help="products written to on each site (default 5)")
    parser.add_argument("--catalog-per-site", action="store_true")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.sites[0], args.products, args.written, args.catalog_per_site)
        return
    print("| sites | products | written a site | catalog | peak RSS (MB) | KB a site | s |")
    print("|---|---|---|---|---|---|---|")
    for sites in args.sites:
        # A process each: peak RSS only grows.
        subprocess.run([sys.executable, __file__, "--one", "--sites", str(sites),
                        "--products", str(args.products), "--written", str(args.written),
                        *(["--catalog-per-site"] if args.catalog_per_site else [])],
                       check=True)


if __name__ == "__main__":
    main()
