"""The Wix API key never leaves syncd in clear text: not in logs, metrics, the journal, the
state files, or what ``syncd sync`` prints when it succeeds or fails.

The key is distinctive so that a leak cannot hide behind a common substring. Log output is
produced with the real processor chain (``syncd.base.logs.configure_logging``, SECRETS redaction
included) and captured from stderr; the subprocess tests run the real command.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import structlog

from syncd.base.logs import REDACTED, SECRETS, configure_logging
from syncd.cycle.metrics import Metrics
from syncd.cycle.sync import SiteSync
from syncd.edges.config import Settings

KEY = "wix-live-key-9f3c71d2e8b04a65"
SITE_ID = "secret-site"
KEY_ENV = "SYNCD_TEST_SECRET_KEY"


@pytest.fixture
def captured_logs(capsys: pytest.CaptureFixture[str]):
    """Everything syncd logs, through its real processors, as text (JSON lines): a function
    returning what was written to stderr so far (syncd's loggers write to the current one)."""
    saved = structlog.get_config()
    configure_logging(level="debug", json=True)
    seen: list[str] = []

    def text() -> str:
        seen.append(capsys.readouterr().err)
        return "".join(seen)

    try:
        yield text
    finally:
        structlog.configure(**saved)


def _write_config(directory: Path, *, url: str, key_file: bool = False) -> Path:
    (directory / "stock.csv").write_text("sku,quantity\nNO-SUCH-SKU,1\n", encoding="utf-8")
    if key_file:
        (directory / "wix.key").write_text(KEY + "\n", encoding="utf-8")
    key = "api_key_file: wix.key" if key_file else f"api_key_env: {KEY_ENV}"
    config = directory / "syncd.yaml"
    config.write_text(
        "sites:\n"
        "  - name: shop\n"
        f"    site_id: {SITE_ID}\n"
        f"    {key}\n"
        f"    base_url: {url}\n"
        "    timeout_seconds: 5\n"
        "source: {path: stock.csv}\n"
        "state_dir: state\n"
        "log: {level: debug, format: json}\n",
        encoding="utf-8")
    return config


def _files_text(directory: Path) -> str:
    """Every file syncd left under ``directory`` (state, journal), except the key file."""
    return "".join(p.read_text(encoding="utf-8", errors="replace")
                   for p in sorted(directory.rglob("*")) if p.is_file() and p.name != "wix.key")


def test_a_registered_key_is_redacted_from_log_values_and_exceptions(captured_logs):
    SECRETS.add(KEY)
    log = structlog.get_logger("test")
    try:
        raise RuntimeError(f"request failed with Authorization: {KEY}")
    except RuntimeError:
        log.exception("wix_request_failed", header=f"Authorization: {KEY}",
                      nested={"headers": {"Authorization": KEY}}, listed=[KEY])
    text = captured_logs()
    assert "wix_request_failed" in text and REDACTED in text
    assert KEY not in text


async def test_sync_logs_and_metrics_never_show_the_key(emulator, tmp_path, captured_logs):
    emu = await emulator(catalog="v1", generate_products=40, api_key=KEY, site_id=SITE_ID,
                         rate_limit=None, fail_rate=0.15, drop_rate=0.15, seed=3)
    settings = Settings.from_file(_write_config(tmp_path, url=emu.url), env={KEY_ENV: KEY})
    metrics = Metrics()
    async with SiteSync(settings.sites[0], state_dir=settings.state_dir,
                        metrics=metrics) as site:
        await site.sync(force=True)  # the retried 500s and dropped connections are logged
    # A label built from a string holding the key is redacted too.
    metrics.observe_request("shop", f"/stores/v1/products/{KEY}", 200, 0.01)

    logs = captured_logs()
    exposition = metrics.exposition().decode()
    # The faults were logged, so the check means something.
    assert "WixServerError" in logs and "WixUnavailable" in logs
    assert "syncd_api_requests_total" in exposition
    assert KEY not in logs
    assert KEY not in exposition
    assert KEY not in _files_text(tmp_path / "state")


async def _run_syncd(config: Path, *args: str, env_key: bool = True,
                     extra_env: dict[str, str] | None = None) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    if env_key:
        env[KEY_ENV] = KEY
    env.update(extra_env or {})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", *args, "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(errors="replace") + err.decode(errors="replace")


async def test_failing_sync_with_a_wrong_base_url_prints_no_key(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=5, api_key=KEY, site_id=SITE_ID,
                         rate_limit=None)
    # A base URL with a wrong path: every call is a 404, which syncd does not retry.
    config = _write_config(tmp_path, url=f"{emu.url}/wix")
    code, output = await _run_syncd(config, "sync", "--log-level", "debug")
    assert code == 1
    assert "404" in output
    assert KEY not in output
    assert KEY not in _files_text(tmp_path)


@pytest.mark.parametrize("key_file", [False, True], ids=["key from env", "key from file"])
async def test_sync_refused_with_401_prints_no_key(emulator, tmp_path, key_file):
    emu = await emulator(catalog="v1", generate_products=5, api_key="another-key-entirely",
                         site_id=SITE_ID, rate_limit=None)
    config = _write_config(tmp_path, url=emu.url, key_file=key_file)
    code, output = await _run_syncd(config, "sync", "--log-level", "debug",
                                    env_key=not key_file)
    assert code == 1
    assert "401" in output
    assert KEY not in output
    assert KEY not in _files_text(tmp_path)


async def test_successful_sync_and_plan_print_no_key(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=20, api_key=KEY, site_id=SITE_ID,
                         rate_limit=None, seed=4)
    row = next(r for r in emu.state() if r["tracked"] and r["sku"])
    config = _write_config(tmp_path, url=emu.url)
    (tmp_path / "stock.csv").write_text(f"sku,quantity\n{row['sku']},{row['quantity'] + 3}\n",
                                        encoding="utf-8")
    plan_code, plan_output = await _run_syncd(config, "plan", "--log-level", "debug")
    sync_code, sync_output = await _run_syncd(config, "sync", "--log-level", "debug",
                                              "--output", "json", "--force")
    assert (plan_code, sync_code) == (2, 0)  # a change was pending, then written
    assert emu.emulator.stats.variants_written == 1
    assert KEY not in plan_output
    assert KEY not in sync_output
    journal = tmp_path / "state" / "journal" / "shop.jsonl"
    assert journal.exists() and KEY not in journal.read_text(encoding="utf-8")
    assert KEY not in _files_text(tmp_path)


FEED_TOKEN = "feed-bearer-5e1c0a77d2"
S3_SECRET = "s3-secret-access-9a4f13b6"


async def test_no_source_secret_reaches_logs_metrics_plan_or_journal(emulator, tmp_path):
    """An HTTP feed with a bearer token, an SFTP feed with a password and an S3 object with
    AWS credentials, merged into one site: the plan, the sync, a refused token, the state
    and journal files and the feed metrics never show any of the secrets."""
    from moto.server import ThreadedMotoServer

    from syncd.edges.feeds.copy import FeedCopy
    from syncd.frontends.daemon.feedpoller import FeedPoller
    from tests.feeds.httpfeed import FeedServer
    from tests.feeds.sftpserver import PASSWORD, sftp_server_at

    emu = await emulator(catalog="v1", generate_products=20, api_key=KEY, site_id=SITE_ID,
                         rate_limit=None, seed=4)
    skus = [str(r["sku"]) for r in emu.state() if r["tracked"] and r["sku"]][:3]
    http = await FeedServer(body=f"sku,quantity\n{skus[0]},501\n".encode(),
                            token=FEED_TOKEN).start()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": S3_SECRET,
           "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        async with sftp_server_at(tmp_path) as sftp:
            (sftp.root / "stock.csv").write_text(f"sku,quantity\n{skus[1]},502\n")
            await _put_s3(f"http://{host}:{port}", aws, f"sku,quantity\n{skus[2]},503\n")
            (tmp_path / "sftp.pass").write_text(PASSWORD + "\n")
            config = _write_config(tmp_path, url=emu.url)
            config.write_text(config.read_text().replace(
                "source: {path: stock.csv}\n",
                "source:\n"
                f"  - {{path: '{http.url}/stock.csv', feed: {{secret_env: FEED_TOKEN}}}}\n"
                f"  - {{path: '{sftp.url()}', feed: {{secret_file: sftp.pass, "
                f"known_hosts: '{sftp.known_hosts}'}}}}\n"
                f"  - {{path: 's3://supplier/stock.csv', feed: {{endpoint_url: "
                f"'http://{host}:{port}', region: us-east-1}}}}\n"))
            env = {"FEED_TOKEN": f"Bearer {FEED_TOKEN}", **aws}
            plan_code, plan_output = await _run_syncd(config, "plan", "--log-level", "debug",
                                                      extra_env=env)
            sync_code, sync_output = await _run_syncd(
                config, "sync", "--log-level", "debug", "--output", "json", "--force",
                extra_env=env)
            refused_code, refused_output = await _run_syncd(
                config, "sync", "--log-level", "debug",
                extra_env={**env, "FEED_TOKEN": f"Bearer wrong-{FEED_TOKEN}"})

            metrics = Metrics()
            settings = Settings.from_file(config, env={KEY_ENV: KEY, **env})
            feed = settings.sites[0].source.feed
            assert feed is not None
            poller = FeedPoller(FeedCopy(feed, tmp_path / "poll"), on_changed=_nothing,
                                on_health=lambda error: None, metrics=metrics)
            await poller.check(notify=False)
            http.token = "rotated"
            await poller.check(notify=False)
    finally:
        await http.stop()
        moto.stop()

    assert (plan_code, sync_code, refused_code) == (2, 0, 1), (plan_output, sync_output,
                                                               refused_output)
    assert {r["sku"]: r["quantity"] for r in emu.state() if r["sku"] in skus} == dict(
        zip(skus, (501, 502, 503), strict=True))
    assert "feed not used (auth)" in refused_output
    exposition = metrics.exposition().decode()
    assert 'result="auth"' in exposition and 'result="changed"' in exposition
    everything = "".join((plan_output, sync_output, refused_output, exposition,
                          _files_text(tmp_path / "state")))
    journal = tmp_path / "state" / "journal" / "shop.jsonl"
    assert journal.exists()
    for secret in (FEED_TOKEN, PASSWORD, S3_SECRET, KEY):
        assert secret not in everything


async def _nothing() -> None:
    return None


async def _put_s3(endpoint: str, aws: dict[str, str], body: str) -> None:
    from aiobotocore.session import get_session

    session = get_session()
    async with session.create_client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"]) as s3:
        await s3.create_bucket(Bucket="supplier")
        await s3.put_object(Bucket="supplier", Key="stock.csv", Body=body.encode())
