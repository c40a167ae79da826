"""What the deployment files promise: one daemon per store, stop timeouts longer than the
grace period, non-root, health checks on the right endpoints, configs that load."""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

import pytest
import yaml

from syncd.edges.config import ListenAddress, Settings
from syncd.frontends.commands.common import ExitCode
from syncd.frontends.daemon.http_guard import HostCheck

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
GRACE_S = 20  # shutdown_grace_seconds in every shipped configuration


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read(DEPLOY / "syncd.service")
    return parser


def dockerfile_instructions() -> dict[str, str]:
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    final_stage = text.split("\nFROM ")[-1]
    found: dict[str, str] = {}
    for line in final_stage.splitlines():
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found[word] = rest.strip()
    return found


def k8s() -> dict[str, dict]:
    docs = yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text())
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs if d}


def seconds(value: str) -> float:
    return float(value.rstrip("s"))


class TestSystemdUnit:
    def test_is_a_notify_service_with_watchdog_and_reload(self):
        service = unit()["Service"]
        assert service["Type"] == "notify"
        assert seconds(service["WatchdogSec"]) > 0
        assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"

    def test_stop_timeout_outlasts_the_shutdown_grace_period(self):
        assert seconds(unit()["Service"]["TimeoutStopSec"]) > GRACE_S

    def test_invalid_configuration_is_not_restarted_in_a_loop(self):
        service = unit()["Service"]
        assert service["Restart"] == "on-failure"
        assert str(int(ExitCode.CONFIG)) in service["RestartPreventExitStatus"].split()

    def test_key_arrives_as_a_credential_the_example_config_reads(self):
        service = unit()["Service"]
        assert service["LoadCredential"] == "wix-api-key:/etc/syncd/wix-api-key"
        config = yaml.safe_load((DEPLOY / "config" / "syncd.systemd.yaml").read_text())
        key_file = config["sites"][0]["api_key_file"]
        credential = service["LoadCredential"].split(":", 1)[0]
        assert key_file == "${CREDENTIALS_DIRECTORY}/" + credential

    def test_runs_unprivileged_with_its_own_state_and_config_directories(self):
        service = unit()["Service"]
        assert service["DynamicUser"] == "yes"
        assert service["StateDirectory"] == "syncd"
        assert service["ConfigurationDirectory"] == "syncd"
        assert service["CapabilityBoundingSet"] == ""
        assert service["ExecStart"].endswith("run --config /etc/syncd/syncd.yaml")


class TestDockerfile:
    def test_runs_the_daemon_as_a_non_root_user(self):
        found = dockerfile_instructions()
        assert found["USER"].split(":")[0] not in ("", "0", "root")
        assert json.loads(found["ENTRYPOINT"]) == ["syncd"]
        assert json.loads(found["CMD"]) == ["run", "--config", "/etc/syncd/syncd.yaml"]
        assert found["STOPSIGNAL"] == "SIGTERM"

    def test_health_check_needs_no_curl(self):
        healthcheck = dockerfile_instructions()["HEALTHCHECK"]
        assert healthcheck.endswith('CMD ["syncd", "healthcheck"]')
        assert "curl" not in healthcheck and "wget" not in healthcheck

    def test_config_and_state_are_volumes_and_only_the_venv_is_copied(self):
        found = dockerfile_instructions()
        assert set(json.loads(found["VOLUME"])) == {"/etc/syncd", "/var/lib/syncd"}
        assert found["COPY"].startswith("--from=builder /opt/syncd")

    def test_the_image_carries_the_extras_the_agency_deployment_needs(self):
        text = (ROOT / "Dockerfile").read_text()
        builder = text.split("\nFROM ")[1]
        extras = re.search(r"^ARG SYNCD_EXTRAS=(\S+)$", builder, re.MULTILINE)
        assert extras is not None, "the builder stage names its extras"
        assert {"postgres", "fast"} <= set(extras.group(1).split(","))
        assert '".[${SYNCD_EXTRAS}]"' in builder
        documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "agency.yaml").read_text()))
        assert "state_backend: postgres" in yaml.safe_dump(documents), \
            "the agency deployment runs on PostgreSQL, so the image needs asyncpg"

    def test_build_context_leaves_out_venvs_git_and_tests(self):
        ignore = (ROOT / ".dockerignore").read_text().split()
        assert ignore[ignore.index("*") + 1:][:5] == [
            "!pyproject.toml", "!README.md", "!constraints.txt", "!syncd/", "!syncd_emulator/"]

    def test_the_image_installs_the_locked_versions(self):
        text = (ROOT / "Dockerfile").read_text()
        builder = text.split("FROM ", 2)[1]
        assert "constraints.txt" in builder.split("COPY ", 1)[1].splitlines()[0]
        assert "pip install --no-compile -c constraints.txt" in builder


class TestCompose:
    def compose(self) -> dict:
        return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())

    def test_daemon_waits_for_a_healthy_emulator_and_reports_its_own_health(self):
        services = self.compose()["services"]
        assert services["syncd"]["depends_on"]["emulator"]["condition"] == "service_healthy"
        assert services["emulator"]["healthcheck"]["test"][0] == "CMD"
        assert services["syncd"]["healthcheck"]["test"] == ["CMD", "syncd", "healthcheck"]

    def test_stop_grace_outlasts_the_shutdown_grace_period(self):
        assert seconds(self.compose()["services"]["syncd"]["stop_grace_period"]) > GRACE_S

    def test_daemon_config_points_at_the_emulator_service(self):
        config = yaml.safe_load((DEPLOY / "config" / "syncd.compose.yaml").read_text())
        assert config["sites"][0]["base_url"] == "http://emulator:8787"
        emulator = self.compose()["services"]["emulator"]["command"]
        assert emulator[emulator.index("--port") + 1] == "8787"
        assert emulator[emulator.index("--host") + 1] == "0.0.0.0"

    def test_metrics_port_is_published_on_loopback_only(self):
        assert self.compose()["services"]["syncd"]["ports"] == ["127.0.0.1:9108:9108"]

    def test_the_daemon_answers_to_the_names_prometheus_and_the_host_use(self):
        config = yaml.safe_load((DEPLOY / "config" / "syncd.compose.yaml").read_text())
        hosts = HostCheck(ListenAddress.parse(config["http"]["listen"]).host,
                          config.get("console", {}).get("allowed_hosts", ()))
        scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
        targets = [t for job in scrape["scrape_configs"]
                   for c in job["static_configs"] for t in c["targets"]]
        # Prometheus by service name, the README's curl and the image's health check.
        for host in [*targets, "localhost:9108", "127.0.0.1:9108"]:
            assert hosts.accepts(host), host


class TestKubernetes:
    def test_one_daemon_per_store_never_two_during_an_update(self):
        spec = k8s()["Deployment/syncd"]["spec"]
        assert spec["replicas"] == 1
        assert spec["strategy"] == {"type": "Recreate"}

    def test_probes_use_healthz_and_readyz(self):
        container = k8s()["Deployment/syncd"]["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"

    def test_runs_non_root_on_a_read_only_root_filesystem(self):
        pod = k8s()["Deployment/syncd"]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        container = pod["containers"][0]["securityContext"]
        assert container["readOnlyRootFilesystem"] is True
        assert container["allowPrivilegeEscalation"] is False
        assert container["capabilities"] == {"drop": ["ALL"]}

    def test_termination_grace_outlasts_the_shutdown_grace_period(self):
        pod = k8s()["Deployment/syncd"]["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] > GRACE_S

    def test_key_comes_from_a_secret_and_config_from_a_configmap(self):
        manifests = k8s()
        pod = manifests["Deployment/syncd"]["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["api-key"]["secret"]["secretName"] == "syncd-wix-api-key"
        assert volumes["config"]["configMap"]["name"] == "syncd-config"
        assert volumes["state"]["persistentVolumeClaim"]["claimName"] == "syncd-state"
        config = yaml.safe_load(manifests["ConfigMap/syncd-config"]["data"]["syncd.yaml"])
        assert config["sites"][0]["api_key_file"].startswith("/run/secrets/syncd/")
        assert "Secret/syncd-wix-api-key" not in manifests  # never a key in the repository


def shipped_configs() -> list[tuple[str, str]]:
    manifests = k8s()
    return [
        ("compose", (DEPLOY / "config" / "syncd.compose.yaml").read_text()),
        ("systemd", (DEPLOY / "config" / "syncd.systemd.yaml").read_text()),
        ("kubernetes", manifests["ConfigMap/syncd-config"]["data"]["syncd.yaml"]),
    ]


@pytest.mark.parametrize(("name", "text"), shipped_configs(), ids=["compose", "systemd", "k8s"])
def test_shipped_configurations_load(tmp_path, name, text):
    """Each example configuration passes the real loader (with its paths moved to tmp)."""
    key = tmp_path / "key"
    key.write_text("example-api-key-123\n")
    config = yaml.safe_load(text)
    for site in config["sites"]:
        site["api_key_file"] = str(key)
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\nA,1\n")
    config["source"]["path"] = str(source)
    file = tmp_path / "syncd.yaml"
    file.write_text(yaml.safe_dump(config))
    settings = Settings.from_file(file, env={"SYNCD_STATE_DIR": str(tmp_path / "state")})
    assert settings.shutdown_grace_s == GRACE_S
    assert settings.schedule.watch_source


def agency() -> dict[str, dict]:
    docs = yaml.safe_load_all((DEPLOY / "kubernetes" / "agency.yaml").read_text())
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs if d}


class TestAgencyKubernetes:
    def pod(self) -> dict:
        return agency()["Deployment/syncd"]["spec"]["template"]["spec"]

    def test_several_replicas_whose_database_dsn_comes_from_a_secret(self):
        spec = agency()["Deployment/syncd"]["spec"]
        assert spec["replicas"] >= 2
        for container in [*self.pod()["initContainers"], *self.pod()["containers"]]:
            env = {e["name"]: e for e in container["env"]}
            assert env["SYNCD_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
                "name": "syncd-database", "key": "url"}
        assert "Secret/syncd-database" not in agency()  # never a password in the repository

    def test_each_replica_is_named_after_its_pod(self):
        env = {e["name"]: e for e in self.pod()["containers"][0]["env"]}
        assert env["SYNCD_REPLICA_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"

    def test_the_schema_is_migrated_before_the_daemon_starts(self):
        assert self.pod()["initContainers"][0]["args"] == ["db", "migrate"]

    def test_readiness_from_readyz_and_one_pod_disrupted_at_a_time(self):
        container = self.pod()["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        pdb = agency()["PodDisruptionBudget/syncd"]["spec"]
        labels = agency()["Deployment/syncd"]["spec"]["template"]["metadata"]["labels"]
        assert pdb["maxUnavailable"] == 1
        assert pdb["selector"]["matchLabels"].items() <= labels.items()

    def test_termination_grace_outlasts_the_shutdown_grace_period(self):
        assert self.pod()["terminationGracePeriodSeconds"] > GRACE_S

    def test_the_configuration_and_site_files_load_with_the_postgres_backend(self, tmp_path):
        from syncd.edges.config.fleet import StateBackendKind

        manifests = agency()
        key = tmp_path / "key"
        key.write_text("example-api-key-123\n")
        sites = tmp_path / "sites"
        sites.mkdir()
        for name, text in manifests["ConfigMap/syncd-sites"]["data"].items():
            site = yaml.safe_load(text)
            site["api_key_file"] = str(key)
            site["source"]["path"] = str(tmp_path / Path(site["source"]["path"]).name)
            (sites / name).write_text(yaml.safe_dump(site))
        config = yaml.safe_load(manifests["ConfigMap/syncd-agency-config"]["data"]["syncd.yaml"])
        config["sites_dir"] = str(sites)
        file = tmp_path / "syncd.yaml"
        file.write_text(yaml.safe_dump(config))
        settings = Settings.from_file(
            file, env={"SYNCD_DATABASE_URL": "postgresql://syncd@db/syncd"})
        assert settings.fleet.backend is StateBackendKind.POSTGRES
        assert [s.name for s in settings.sites] == ["shop-one", "shop-two"]
        assert settings.shutdown_grace_s == GRACE_S


def network_policy(docs: dict[str, dict]) -> dict:
    return next(d["spec"] for d in docs.values() if d["kind"] == "NetworkPolicy")


@pytest.mark.parametrize("manifest", [k8s, agency], ids=["kubernetes.yaml", "agency.yaml"])
def test_a_network_policy_limits_who_reaches_the_http_port_and_where_the_pods_connect(
        manifest):
    docs = manifest()
    policy = network_policy(docs)
    pod_labels = docs["Deployment/syncd"]["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    [ingress] = policy["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 9108}]
    assert all("namespaceSelector" in peer for peer in ingress["from"])
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    assert {53, 443} <= egress_ports
    assert all(rule.get("ports") for rule in policy["egress"])


def test_only_the_agency_pods_may_reach_postgresql():
    assert 5432 in {p["port"] for rule in network_policy(agency())["egress"]
                    for p in rule["ports"]}
    assert 5432 not in {p["port"] for rule in network_policy(k8s())["egress"]
                        for p in rule["ports"]}
