"""The deployment linters of .ci/lint-deploy, run from the test suite.

Each check is skipped (with the script's reason) only when its tool is absent: hadolint
comes with the dev extra, systemd-analyze with systemd. Each also gets a deliberately broken
file, to show the check can fail.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "lint-deploy"
SKIPPED = 77


def lint(check: str, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", str(SCRIPT), check], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, **env})
    if result.returncode == SKIPPED:
        pytest.skip(result.stdout.strip())
    return result


@pytest.mark.parametrize("check", ["dockerfile", "unit", "manifests"])
def test_shipped_deployment_files_pass_their_linters(check):
    result = lint(check)
    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_exposure_is_rated_at_most_2_5():
    result = lint("unit")
    assert result.returncode == 0, result.stdout
    line = next(ln for ln in result.stdout.splitlines() if "exposure" in ln)
    assert float(line.split("exposure ")[1].split()[0]) <= 2.5


def test_a_misspelt_unit_directive_fails_verify(tmp_path):
    unit = tmp_path / "syncd.service"
    text = (ROOT / "deploy" / "syncd.service").read_text()
    unit.write_text(text.replace("PrivateTmp=yes", "PrivatTmp=yes"))
    result = lint("unit", LINT_DEPLOY_UNIT=str(unit))
    assert result.returncode == 1
    assert "PrivatTmp" in result.stdout


def test_a_unit_without_sandboxing_fails_the_exposure_limit(tmp_path):
    unit = tmp_path / "syncd.service"
    kept = [line for line in (ROOT / "deploy" / "syncd.service").read_text().splitlines()
            if not line.startswith(("Protect", "Private", "SystemCall", "Capability",
                                    "Restrict", "DynamicUser", "MemoryDeny"))]
    unit.write_text("\n".join(kept) + "\n")
    result = lint("unit", LINT_DEPLOY_UNIT=str(unit))
    assert result.returncode == 1
    assert "is above 2.5" in result.stdout


def test_a_sloppy_dockerfile_fails_hadolint(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.11\nRUN apt-get install curl\n")
    result = lint("dockerfile", LINT_DEPLOY_DOCKERFILE=str(dockerfile))
    assert result.returncode == 1
    assert "DL3014" in result.stdout  # apt-get install without -y


def test_a_kubernetes_manifest_without_a_network_policy_fails(tmp_path):
    manifest = tmp_path / "kubernetes.yaml"
    text = (ROOT / "deploy" / "kubernetes.yaml").read_text()
    manifest.write_text(text.split("\n---\n# Who may talk to the pod")[0] + "\n")
    result = lint("manifests", LINT_DEPLOY_K8S=str(manifest))
    assert result.returncode == 1
    assert "no NetworkPolicy selects the Deployment's pods" in result.stdout


def test_a_network_policy_open_to_every_peer_and_port_fails(tmp_path):
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "agency.yaml").read_text()))
    policy = next(d for d in docs if d and d["kind"] == "NetworkPolicy")
    policy["spec"]["ingress"] = [{}]  # every peer, every port
    policy["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})
    manifest = tmp_path / "agency.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    result = lint("manifests", LINT_DEPLOY_K8S=str(manifest))
    assert result.returncode == 1
    assert "an ingress rule admits every peer (no from:)" in result.stdout
    assert "an egress rule allows every port (no ports:)" in result.stdout
