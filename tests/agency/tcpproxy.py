"""A loopback TCP proxy that can go silent: what a partition or a pooler looks like to a
client whose database connection passes through it.

``forward()`` passes bytes both ways. ``freeze()`` stops passing them, in both directions,
on the connections open and on those accepted later, while every socket stays open: the
client hears nothing, not even a reset. ``freeze(drop_upstream=True)`` also closes the
server's side, as a pooler that lost its server connection does while holding the
client's; the server then ends the session (and frees its advisory locks) at once.
``refuse()`` closes each new connection at once (a database that cannot be reached);
the connections open stay as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class FreezableProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._refusing = False
        self._server: asyncio.Server | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._upstream_writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.connections = 0

    def forward(self) -> None:
        self._refusing = False
        self._flowing.set()

    def freeze(self, *, drop_upstream: bool = False) -> None:
        self._flowing.clear()
        if drop_upstream:
            for writer in list(self._upstream_writers):
                writer.transport.abort()

    def refuse(self) -> None:
        self._refusing = True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        self._upstream_writers.add(up_writer)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink), name="proxy pump")
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while chunk := await source.read(65536):
                # Frozen: the bytes read are held, never passed on (nor is the end of the
                # stream): the other side hears nothing.
                await self._flowing.wait()
                sink.write(chunk)
                await sink.drain()
            await self._flowing.wait()
            sink.transport.abort()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FreezableProxy]:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            for task in list(self._pumps):
                task.cancel()
            await asyncio.gather(*self._pumps, return_exceptions=True)
            await self._server.wait_closed()

    def dsn(self, dsn: str) -> str:
        """``dsn`` (``postgresql://user@host:port/db``) through this proxy."""
        head, tail = dsn.split("@", 1)
        db = tail.split("/", 1)[1]
        return f"{head}@127.0.0.1:{self.port}/{db}"
