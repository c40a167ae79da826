"""The PostgreSQL DSN from a file (``dsn_file``, ``syncd db --dsn-file``), never shown.

The file-reading part needs no PostgreSQL: the DSN is read, resolved against
``$CREDENTIALS_DIRECTORY`` (systemd's ``LoadCredential=``) or the configuration's
directory, and it and its password are registered for redaction.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.base.errors import ConfigError
from syncd.base.logs import SECRETS
from syncd.edges.config import Settings
from syncd.edges.config.fleet import StateBackendKind
from syncd.edges.config.secrets import register_dsn

ROOT = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, dsn_file: str) -> Path:
    (tmp_path / "key").write_text("example-api-key-123\n")
    (tmp_path / "stock.csv").write_text("sku,quantity\nA,1\n")
    path = tmp_path / "syncd.yaml"
    path.write_text("sites: [{name: shop, site_id: s1, api_key_file: key}]\n"
                    "source: {path: stock.csv}\n"
                    "state_backend: postgres\n"
                    f"dsn_file: {dsn_file}\n")
    return path


def test_dsn_file_is_read_beside_the_configuration_and_its_password_redacted(tmp_path):
    password = "pw-3c9e1b7d55"
    dsn = f"postgresql://syncd:{password}@db.internal:5432/syncd?sslmode=verify-full"
    (tmp_path / "database-dsn").write_text(dsn + "\n")
    settings = Settings.from_file(write_config(tmp_path, "database-dsn"), env={})
    assert settings.fleet.backend is StateBackendKind.POSTGRES
    assert settings.fleet.database_url is not None
    assert settings.fleet.database_url.reveal() == dsn
    assert password not in repr(settings.fleet)
    error = f'connection to {dsn} failed: password "{password}" rejected'
    assert password not in SECRETS.redact(error)


def test_the_password_of_a_dsn_from_the_environment_is_redacted_too(tmp_path):
    (tmp_path / "database-dsn").write_text("unused\n")
    config = write_config(tmp_path, "database-dsn")
    config.write_text(config.read_text().replace("dsn_file: database-dsn\n", ""))
    Settings.from_file(config, env={
        "SYNCD_DATABASE_URL": "postgresql://syncd:env-pass-71c@db/syncd"})
    assert SECRETS.redact("auth failed: env-pass-71c") == "auth failed: [REDACTED]"


def test_dsn_file_is_relative_to_the_credentials_directory_when_systemd_sets_it(tmp_path):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "syncd-dsn").write_text("postgresql://syncd:pw-credential-1@db/syncd\n")
    settings = Settings.from_file(write_config(tmp_path, "syncd-dsn"),
                                  env={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert settings.fleet.database_url is not None
    assert settings.fleet.database_url.reveal() == "postgresql://syncd:pw-credential-1@db/syncd"


def test_a_missing_dsn_file_names_the_file_line_and_path(tmp_path):
    config = write_config(tmp_path, "nowhere-dsn")
    with pytest.raises(ConfigError, match=r"syncd\.yaml:4: dsn_file: cannot read .*nowhere-dsn"):
        Settings.from_file(config, env={})


def test_a_dsn_in_both_the_file_and_the_environment_is_refused(tmp_path):
    (tmp_path / "database-dsn").write_text("postgresql://syncd@db/syncd\n")
    with pytest.raises(ConfigError, match="give it in one place only"):
        Settings.from_file(write_config(tmp_path, "database-dsn"),
                           env={"SYNCD_DATABASE_URL": "postgresql://syncd@db/other"})


@pytest.mark.parametrize(("dsn", "password"), [
    ("postgresql://syncd:p%40ss-word9@db/syncd", "p@ss-word9"),
    ("postgresql://syncd@db/syncd?password=query-pass-4", "query-pass-4"),
    ("host=db user=syncd password=kv-pass-55 sslmode=verify-full", "kv-pass-55"),
    ("host=db password='quoted pass 6' user=syncd", "quoted pass 6"),
])
def test_the_password_of_every_dsn_form_is_redacted(dsn, password):
    register_dsn(dsn)
    assert SECRETS.redact(f"failed: {password}") == "failed: [REDACTED]"


def test_db_command_reads_dsn_file_and_never_prints_its_password(tmp_path):
    password = "pw-unreachable-8d2"
    (tmp_path / "dsn").write_text(f"postgresql://syncd:{password}@127.0.0.1:1/syncd\n")
    env = {k: v for k, v in os.environ.items() if k != "SYNCD_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "db", "status", "--dsn-file", str(tmp_path / "dsn")],
        env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60,
        check=False)
    assert done.returncode == 1, done.stderr
    assert "cannot reach the database" in done.stderr
    assert password not in done.stdout + done.stderr


def test_db_command_names_an_empty_dsn_file(tmp_path):
    (tmp_path / "dsn").write_text("\n")
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "db", "migrate", "--dsn-file", str(tmp_path / "dsn")],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=60, check=False)
    assert done.returncode == 78
    assert f"{tmp_path / 'dsn'} is empty" in done.stderr
