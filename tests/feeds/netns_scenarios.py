"""Feed scenarios that need addresses off loopback; run by ``test_redirects`` inside a user
and network namespace it makes (``unshare -rn``), where 11.0.0.1 (public-looking) and
10.77.0.1 (private) sit on the namespace's own loopback device. Nothing leaves it. Prints
one JSON line: each scenario's outcome."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

from syncd.edges.config.feed import FeedSettings
from syncd.edges.feeds.copy import FeedCopy
from syncd.edges.feeds.feed_errors import FeedError
from tests.feeds.httpfeed import FeedServer

PUBLIC, PRIVATE = "11.0.0.1", "10.77.0.1"


def _outcome(error: FeedError, target: FeedServer) -> dict[str, object]:
    return {"kind": error.kind, "rule": getattr(error, "rule", None),
            "hop": getattr(error, "hop", None), "target_requests": len(target.auth_headers)}


async def _redirect(front_host: str, target_host: str, target_name: str,
                    directory: Path) -> dict[str, object]:
    target = await FeedServer(body=b"sku,quantity\nA-1,5\n").start(target_host)
    port = target.url.rsplit(":", 1)[1]
    front = await FeedServer(redirect_to=f"http://{target_name}:{port}/stock.csv").start(
        front_host)
    try:
        copy = FeedCopy(FeedSettings(url=f"{front.url}/stock.csv", timeout_s=5), directory)
        try:
            result = await copy.refresh()
        except FeedError as e:
            return _outcome(e, target)
        return {"result": result.value, "target_requests": len(target.auth_headers)}
    finally:
        await front.stop()
        await target.stop()


async def _s3_plain_http(directory: Path) -> dict[str, object]:
    connections = 0

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    server = await asyncio.start_server(accept, PRIVATE, 0)
    port = server.sockets[0].getsockname()[1]
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    feed = FeedSettings(url="s3://supplier/stock.csv", endpoint_url=f"http://{PRIVATE}:{port}",
                        region="us-east-1", timeout_s=3)
    try:
        await FeedCopy(feed, directory).refresh()
        outcome: dict[str, object] = {"kind": None}
    except FeedError as e:
        outcome = {"kind": e.kind, "error": str(e)}
    server.close()
    await server.wait_closed()
    return {**outcome, "connections": connections}


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results = {
            "public_to_private": await _redirect(PUBLIC, PRIVATE, PRIVATE, root / "a"),
            "public_to_loopback_name": await _redirect(PUBLIC, "127.0.0.1", "localhost",
                                                       root / "b"),
            "private_to_private": await _redirect(PRIVATE, PRIVATE, PRIVATE, root / "c"),
            "s3_plain_http_private": await _s3_plain_http(root / "d"),
        }
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
