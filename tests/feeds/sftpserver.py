"""A real SFTP server (asyncssh) on 127.0.0.1 for tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh

PASSWORD = "sftp-pass-7c2e90d4a1"


CLIENT_KEY = asyncssh.generate_private_key("ssh-ed25519")
"""The key ``erp`` may log in with instead of the password."""


class _Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == "erp" and (key.export_public_key()
                                      == CLIENT_KEY.export_public_key())

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


@contextlib.asynccontextmanager
async def sftp_server_at(tmp_path: Path) -> AsyncIterator[SftpServer]:
    """An SFTP server on 127.0.0.1 serving ``tmp_path/drop`` (user ``erp``, ``PASSWORD``);
    ``known_hosts`` holds its key."""
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


