"""``syncd emulator``: run the Wix Stores emulator from a shell.

Prints one line with the URL it serves on (the port is the real one even with ``--port
0``), then serves until SIGINT or SIGTERM, and exits 0. Binding anything but a loopback
address is allowed but warned about: the emulator has a well-known demo API key.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

import structlog

from syncd.base.errors import ConfigError
from syncd.base.logs import configure_logging
from syncd.edges.config.schema import is_loopback_host
from syncd.frontends.commands.common import ExitCode
from syncd_emulator.app import serve
from syncd_emulator.config import (
    STALE_STATUSES,
    EmulatorConfig,
    format_rate_limit,
    parse_rate_limit,
)
from syncd_emulator.multisite import MultiSiteConfig, describe, serve_multisite
from syncd_emulator.timestamps import STOCK_TIMESTAMPS
from syncd_emulator.variants import NAMES as VARIANT_NAMES
from syncd_emulator.variants import WixVariants

log = structlog.get_logger("syncd_emulator")

DESCRIPTION = """\
Serve an offline emulator of the Wix Stores REST API (Catalog V1 + Inventory V2, or
Catalog V3 inventory items) on a local port, with a store loaded from a file, generated,
or the packaged demo store. Point syncd (or curl) at the printed URL instead of
https://www.wixapis.com, with the emulator's API key and site id.
"""

EPILOG = """\
store file format (YAML or JSON; only 'products' and each product's 'name' are required):

  products:                      # creation order: numericId ascends down the file
    - name: Classic Mug          # option-less product: SKU and stock on the product
      sku: MUG-CLASSIC
      quantity: 40               # 0..99999, default 0
      in_stock: true             # what an untracked product reports, default true
      track: true                # false: untracked, in_stock decides
      visible: true              # false: hidden (dropped from queries unless asked for)
      price: 12.5
    - name: Logo T-shirt         # product with options: SKU and stock on each variant
      options: {Size: [S, M, L], Colour: [Red, Blue]}
      variants:                  # omitted: every combination, empty SKU, quantity 0
        - {choices: {Size: S, Colour: Red}, sku: TSHIRT-RED-S, quantity: 5}
        - {choices: {Size: M, Colour: Red}, sku: TSHIRT-RED-M, quantity: 0,
           inventory_item: false}   # V3 only: no inventory item yet

  Optional keys: product 'id', 'description'; variant 'id', 'price', 'visible',
  'in_stock'. Duplicate and empty SKUs are allowed, as on Wix.

introspection (no auth, never rate limited or faulted):
  GET  /__emulator/stats    requests per endpoint, statuses, 429s, faults, writes
  GET  /__emulator/state    every variant: sku, ids, tracked, quantity, in stock, revision
  POST /__emulator/reset    back to the initial store, counters and rate budget zeroed
  GET|POST /__emulator/faults   read/change fail_rate, drop_rate, latency_ms, rate_limit,
                            retry_after_s, shopper_rate, stale_status at runtime;
                            also drop_after_rate (apply a write, lose its answer) and
                            adjust_bad_entry / adjust_below_zero / adjust_untracked
                            (the readings of V2 Increment/Decrement, see adjust.py)

examples:
  syncd emulator                                   demo store, Catalog V1, port 8787
  syncd emulator --catalog v3 --generate-products 2000 --seed 7
  syncd emulator --rate-limit off --fail-rate 0.05 --latency-ms 80
  syncd emulator --wix-variants all                 the other answer of every unconfirmed point
  syncd emulator --sites 1000 --generate-products 300     site-0001 .. site-1000
  curl -H 'Authorization: demo-key' -H 'wix-site-id: demo-site' \\
       http://127.0.0.1:8787/stores/v3/provision/version
"""


def register(subparsers: Any) -> None:
    """Add the ``emulator`` sub-command."""
    parser = subparsers.add_parser(
        "emulator",
        help="serve an offline Wix Stores emulator",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    net = parser.add_argument_group("where to serve")
    net.add_argument("--host", default="127.0.0.1",
                     help="address to bind (default 127.0.0.1; other addresses are warned about)")
    net.add_argument("--port", type=int, default=8787,
                     help="TCP port (default 8787; 0 picks a free one and prints it)")
    site = parser.add_argument_group("the emulated site")
    site.add_argument("--catalog", choices=("v1", "v3", "none"), default="v1",
                      help="catalog the site runs: v1 (Catalog V1 + Inventory V2), v3, or "
                           "none (Wix Stores not installed) (default v1)")
    site.add_argument("--site-id", default="demo-site",
                      help="value clients must send in the wix-site-id header (default demo-site)")
    site.add_argument("--api-key", default="demo-key",
                      help="value clients must send in the Authorization header (default demo-key)")
    source = site.add_mutually_exclusive_group()
    source.add_argument("--store", metavar="FILE",
                        help="load the store from a YAML/JSON file (format below; default: "
                             "the packaged demo store)")
    source.add_argument("--generate-products", type=int, default=0, metavar="N",
                        help="generate a realistic store of N products instead")
    site.add_argument("--sites", type=int, default=0, metavar="N",
                      help="serve N sites at once (site-0001 ..), each with its own store, "
                           "budget and faults, routed by wix-site-id (default: one site)")
    site.add_argument("--key-per-site", action="store_true",
                      help="with --sites: site-0001 takes the key key-site-0001 instead of "
                           "sharing --api-key")
    site.add_argument("--catalog-per-site", action="store_true",
                      help="with --sites: generate a different catalog for each site (its "
                           "own seed) instead of one shared catalog that each site copies "
                           "only where written; costs a whole catalog of memory per site")
    site.add_argument("--seed", type=int, default=1,
                      help="seed for the generator, faults and shopper (default 1)")
    faults = parser.add_argument_group("limits and faults")
    wix_limit = format_rate_limit(EmulatorConfig().rate_limit)
    faults.add_argument("--rate-limit", default=wix_limit, metavar="N/S|off",
                        help="accept at most N requests per site in any S-second sliding "
                             f"window; more get 429 (default {wix_limit}, Wix's limit)")
    faults.add_argument("--retry-after", type=float, default=None, metavar="SECONDS",
                        help="send Retry-After: SECONDS with 429s (default: no header, as Wix "
                             "documents none)")
    faults.add_argument("--fail-rate", type=float, default=0.0, metavar="F",
                        help="fraction of requests (0..1) answered 500 or 503 with an empty "
                             "body before anything is done (default 0)")
    faults.add_argument("--drop-rate", type=float, default=0.0, metavar="F",
                        help="fraction of requests (0..1) whose connection is closed without "
                             "an answer (default 0)")
    faults.add_argument("--latency-ms", type=int, default=0, metavar="MS",
                        help="hold every request 50%%..150%% of MS milliseconds (default 0)")
    faults.add_argument("--shopper-rate", type=float, default=0.0, metavar="N",
                        help="simulate N orders per second, each taking one unit of a random "
                             "tracked variant in stock (default 0)")
    faults.add_argument("--stale-status", type=int, choices=STALE_STATUSES, default=409,
                        help="status of a V3 Update with a stale revision (default 409; Wix "
                             "documents neither)")
    faults.add_argument("--wix-variants", default="none", metavar="all|NAMES",
                        help="play the other plausible answer of unconfirmed Wix behaviours: "
                             "'all' or a comma list of " + ", ".join(VARIANT_NAMES)
                             + " (see syncd_emulator.variants; default none)")
    faults.add_argument("--read-lag", type=float, default=None, metavar="SECONDS",
                        help="with --wix-variants read_lag: how many seconds stores-reader "
                             "reads lag writes (default 2)")
    faults.add_argument("--stock-timestamps", choices=STOCK_TIMESTAMPS, default="move",
                        help="move: stock changes move V1 lastUpdated / V3 updatedDate "
                             "(default); ignore: they leave them alone (Wix does not confirm "
                             "either for every path)")
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The ``EmulatorConfig`` the parsed options describe (ValueError when inconsistent)."""
    return EmulatorConfig(
        catalog=args.catalog,
        site_id=args.site_id,
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        store_path=args.store,
        generate_products=args.generate_products,
        seed=args.seed,
        rate_limit=parse_rate_limit(args.rate_limit),
        retry_after_s=args.retry_after,
        fail_rate=args.fail_rate,
        drop_rate=args.drop_rate,
        latency_ms=args.latency_ms,
        shopper_rate=args.shopper_rate,
        stale_status=args.stale_status,
        variants=WixVariants.parse(args.wix_variants),
        stock_timestamps=args.stock_timestamps,
        read_lag_s=args.read_lag,
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``syncd emulator``; returns the exit code."""
    configure_logging()
    try:
        config = config_from_args(args)
    except ValueError as e:
        print(f"syncd emulator: {e}", file=sys.stderr)
        return ExitCode.CONFIG
    if not is_loopback_host(config.host):
        log.warning("emulator_not_loopback", host=config.host,
                    hint="anyone who can reach this address can use the well-known API key")
    try:
        if args.sites:
            asyncio.run(serve_sites_until_stopped(
                MultiSiteConfig(sites=args.sites, template=config,
                                key_per_site=args.key_per_site,
                                catalog_per_site=args.catalog_per_site)))
        else:
            asyncio.run(_serve_until_stopped(config))
    except (ConfigError, ValueError) as e:
        print(f"syncd emulator: {e}", file=sys.stderr)
        return ExitCode.CONFIG
    except OSError as e:
        print(f"syncd emulator: cannot serve on {config.host}:{config.port}: {e.strerror or e}",
              file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


async def _serve_until_stopped(config: EmulatorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(config) as emulator:
        store = emulator.store
        print(f"syncd emulator: serving catalog {config.catalog} for site {config.site_id} "
              f"on {emulator.url}", flush=True)
        log.info("emulator_started", url=emulator.url, source=emulator.emulator.spec.source,
                 products=len(store.products), variants=store.variant_count,
                 rate_limit=emulator.emulator.settings.as_dict()["rate_limit"])
        await stop.wait()
        log.info("emulator_stopping")


async def serve_sites_until_stopped(config: MultiSiteConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve_multisite(config) as running:
        print(f"syncd emulator: serving catalog {config.template.catalog} on {running.url}; "
              + "; ".join(describe(config)), flush=True)
        await stop.wait()
