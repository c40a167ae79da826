"""Runs a probe's write test as ``syncd probe --write-test`` will, in a process of its own
(for tests that kill it): ``python write_test_runner.py CONFIG PRODUCT_ID``, the API key in
``WIX_API_KEY``."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from syncd.cycle.probe_write import run_write_test
from syncd.cycle.wiring import open_site_syncs
from syncd.edges.config import Settings


async def main(config: Path, product_id: str) -> None:
    settings = Settings.from_file(config, env={"WIX_API_KEY": os.environ["WIX_API_KEY"]})
    async with open_site_syncs(settings) as syncs:
        for sync in syncs.values():
            async with sync:
                await run_write_test(sync, product_id)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
