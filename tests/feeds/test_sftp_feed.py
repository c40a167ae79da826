"""SFTP feeds against a real asyncssh server on 127.0.0.1, started by the test."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from syncd.feeds.copy import FeedCopy, FetchResult
from syncd.feeds.errors import FeedError
from syncd.feeds.options import FeedSettings
from syncd.settings import Secret
from tests.feeds.silent import silent_server

PASSWORD = "sftp-pass-7c2e90d4a1"


class _Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == "erp" and password == PASSWORD


@dataclass
class SftpServer:
    root: Path
    port: int
    known_hosts: Path
    opens: list[str]
    grow_while_read: bool = False

    def url(self, name: str = "stock.csv") -> str:
        return f"sftp://erp@127.0.0.1:{self.port}{self.root}/{name}"


@pytest.fixture
async def sftp_server(tmp_path: Path) -> AsyncIterator[SftpServer]:
    root = tmp_path / "drop"
    root.mkdir()
    (root / "stock.csv").write_text("sku,quantity\nA-1,5\n")
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    state: dict[str, SftpServer] = {}
    opens: list[str] = []

    class Files(asyncssh.SFTPServer):
        def open(self, path, pflags, attrs):  # type: ignore[no-untyped-def]
            opens.append(path.decode() if isinstance(path, bytes) else path)
            return super().open(path, pflags, attrs)

        def read(self, file_obj, offset, size):  # type: ignore[no-untyped-def]
            data = super().read(file_obj, offset, size)
            if state["server"].grow_while_read and offset == 0:
                with (root / "stock.csv").open("a") as f:
                    f.write("LATE,1\n")
            return data

    listener = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[host_key],
                                     server_factory=_Server, sftp_factory=Files)
    port = listener.sockets[0].getsockname()[1]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} "
                     f"{host_key.export_public_key().decode().strip()}\n")
    server = state["server"] = SftpServer(root, port, known, opens)
    try:
        yield server
    finally:
        listener.close()
        await listener.wait_closed()


def _copy(tmp_path: Path, server: SftpServer, **kw) -> FeedCopy:
    kw.setdefault("secret", Secret(PASSWORD))
    feed = FeedSettings(url=server.url(), known_hosts=str(server.known_hosts), timeout_s=10,
                        **kw)
    return FeedCopy(feed, tmp_path / "feeds")


def _age(path: Path) -> None:
    past = time.time() - 60
    os.utime(path, (past, past))


async def test_an_unchanged_file_costs_a_stat_and_a_changed_one_is_fetched(
        sftp_server: SftpServer, tmp_path):
    _age(sftp_server.root / "stock.csv")
    copy = _copy(tmp_path, sftp_server)
    assert await copy.refresh() is FetchResult.CHANGED
    assert await copy.refresh() is FetchResult.NOT_MODIFIED
    assert len(sftp_server.opens) == 1  # the second check only stat'ed the file
    (sftp_server.root / "stock.csv").write_text("sku,quantity\nA-1,6\n")
    assert await copy.refresh() is FetchResult.CHANGED
    assert copy.body.read_text() == "sku,quantity\nA-1,6\n"


async def test_a_file_that_changes_while_read_is_refused(sftp_server: SftpServer, tmp_path):
    sftp_server.grow_while_read = True
    copy = _copy(tmp_path, sftp_server)
    with pytest.raises(FeedError) as caught:
        await copy.refresh()
    assert caught.value.kind == "changed_while_read"
    assert not copy.body.exists()


async def test_a_file_over_the_size_cap_is_refused(sftp_server: SftpServer, tmp_path):
    with pytest.raises(FeedError) as caught:
        await _copy(tmp_path, sftp_server, max_bytes=5).refresh()
    assert caught.value.kind == "too_large"
    assert sftp_server.opens == []  # refused from the stat, before any download


async def test_a_wrong_password_is_an_auth_failure_that_never_quotes_it(
        sftp_server: SftpServer, tmp_path):
    wrong = "not-the-password-51f0"
    with pytest.raises(FeedError) as caught:
        await _copy(tmp_path, sftp_server, secret=Secret(wrong),
                    secret_origin="file sftp.pass").refresh()
    assert caught.value.kind == "auth"
    assert wrong not in str(caught.value) and PASSWORD not in str(caught.value)


async def test_a_server_that_never_answers_fails_by_the_deadline(tmp_path):
    async with silent_server() as port:
        feed = FeedSettings(url=f"sftp://erp@127.0.0.1:{port}/stock.csv", timeout_s=0.5,
                            secret=Secret(PASSWORD))
        with pytest.raises(FeedError) as caught:
            await FeedCopy(feed, tmp_path / "feeds").refresh()
        assert caught.value.kind == "timeout"
