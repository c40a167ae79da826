"""``python lease_replica.py run --config ...``: ``syncd`` whose lease connection goes to
``SYNCD_TEST_LEASE_DSN`` (a proxy the test can freeze) while the journal and run state
keep using ``SYNCD_DATABASE_URL`` directly. Only the lease connection is cut off, as when
a pooler or a partition stands between one replica's lease session and the server."""

from __future__ import annotations

import os
import sys
from typing import Any

import syncd.edges.backend.postgres as postgres
from syncd.frontends.cli import main

_connect = postgres.connect


async def _lease_connect(dsn: str) -> Any:
    return await _connect(os.environ["SYNCD_TEST_LEASE_DSN"])


postgres.connect = _lease_connect  # what syncd run's ownership connects with

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
