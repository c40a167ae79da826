"""SFTP feeds against a real asyncssh server on 127.0.0.1, started by the test."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from syncd.edges.config import Secret
from syncd.edges.config.feed import FeedSettings
from syncd.edges.feeds.copy import FeedCopy, FetchResult
from syncd.edges.feeds.feed_errors import FeedError
from tests.feeds.sftpserver import PASSWORD, SftpServer, sftp_server_at
from tests.feeds.silent import silent_server


@pytest.fixture
async def sftp_server(tmp_path: Path) -> AsyncIterator[SftpServer]:
    async with sftp_server_at(tmp_path) as server:
        yield server


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
        known = tmp_path / "known_hosts"
        known.write_text("")
        feed = FeedSettings(url=f"sftp://erp@127.0.0.1:{port}/stock.csv", timeout_s=0.5,
                            secret=Secret(PASSWORD), known_hosts=str(known))
        with pytest.raises(FeedError) as caught:
            await FeedCopy(feed, tmp_path / "feeds").refresh()
        assert caught.value.kind == "timeout"


async def test_a_private_key_logs_in_without_a_password(sftp_server: SftpServer, tmp_path):
    from tests.feeds.sftpserver import CLIENT_KEY

    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(CLIENT_KEY.export_private_key())
    feed = FeedSettings(url=sftp_server.url(), known_hosts=str(sftp_server.known_hosts),
                        key_file=str(key_file), timeout_s=10)
    copy = FeedCopy(feed, tmp_path / "feeds")
    assert await copy.refresh() is FetchResult.CHANGED
    assert copy.body.read_text() == "sku,quantity\nA-1,5\n"


async def test_an_unknown_host_key_is_refused(sftp_server: SftpServer, tmp_path):
    other = tmp_path / "other_known_hosts"
    other.write_text(f"[127.0.0.1]:{sftp_server.port} ssh-ed25519 "
                     "AAAAC3NzaC1lZDI1NTE5AAAAIBq5gTn8Wq1Ukk6fVqzrVQ0Xx2mT1Jd5X0f4G2dWQk7b\n")
    feed = FeedSettings(url=sftp_server.url(), known_hosts=str(other),
                        secret=Secret(PASSWORD), timeout_s=10)
    with pytest.raises(FeedError) as caught:
        await FeedCopy(feed, tmp_path / "feeds").refresh()
    assert caught.value.kind == "auth"
    assert "host key is not in" in str(caught.value)


def _home_with_ssh_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME whose ``~/.ssh/config`` switches host-key checking off for every host."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        "Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile none\n")
    monkeypatch.setenv("HOME", str(home))
    return home


async def test_a_user_ssh_config_cannot_switch_host_key_checking_off(
        sftp_server: SftpServer, tmp_path, monkeypatch):
    home = _home_with_ssh_config(tmp_path, monkeypatch)
    (home / ".ssh" / "known_hosts").write_text(
        f"[127.0.0.1]:{sftp_server.port} ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIBq5gTn8Wq1Ukk6fVqzrVQ0Xx2mT1Jd5X0f4G2dWQk7b\n")
    feed = FeedSettings(url=sftp_server.url(), secret=Secret(PASSWORD), timeout_s=10)
    copy = FeedCopy(feed, tmp_path / "feeds")
    with pytest.raises(FeedError) as caught:
        await copy.refresh()
    assert caught.value.kind == "auth"
    assert f"host key is not in {home / '.ssh' / 'known_hosts'}" in str(caught.value)
    assert sftp_server.opens == [] and not copy.body.exists()


async def test_a_missing_known_hosts_file_is_an_error_not_an_unchecked_connection(
        sftp_server: SftpServer, tmp_path, monkeypatch):
    home = _home_with_ssh_config(tmp_path, monkeypatch)
    feed = FeedSettings(url=sftp_server.url(), secret=Secret(PASSWORD), timeout_s=10)
    with pytest.raises(FeedError) as caught:
        await FeedCopy(feed, tmp_path / "feeds").refresh()
    assert caught.value.kind == "auth"
    assert f"no known_hosts file at {home / '.ssh' / 'known_hosts'}" in str(caught.value)
    assert "source.feed.known_hosts" in str(caught.value)
    assert sftp_server.opens == []
    explicit = FeedSettings(url=sftp_server.url(), secret=Secret(PASSWORD), timeout_s=10,
                            known_hosts=str(tmp_path / "absent"))
    with pytest.raises(FeedError, match=r"no known_hosts file at .*absent"):
        await FeedCopy(explicit, tmp_path / "feeds").refresh()
