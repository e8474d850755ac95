"""docker-compose.yml: valid for Compose (v1 from Debian, or the v2 plugin) and shaped as documented.

The images cannot be pulled here, so the stack is checked through `docker-compose config` (the file
as Compose itself reads it), not started. The image and the Temporal parts are exercised for real in
test_image.py and against the dev server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gleitzeit.services.temporal_dev import SEARCH_ATTRIBUTES
from tests.helpers import require

ROOT = Path(__file__).resolve().parents[2]
SOCKET_OVERRIDE = "deploy/compose.docker-socket.yml"
LONG_RUNNING = ["postgresql", "temporal", "temporal-ui", "ollama", "worker", "api"]
ONE_SHOT = ["temporal-schema", "temporal-setup"]


def _compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    require(False, "docker-compose (or the Compose v2 plugin)", "run scripts/setup_chromium.sh as root")
    raise AssertionError("unreachable")


def _config(*files: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    args = [a for f in files for a in ("-f", f)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "GLEITZEIT_", "TEMPORAL_"))}
    out = subprocess.run(
        [*_compose_command(), *args, "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
    )
    assert out.returncode == 0, f"compose config failed:\n{out.stderr}"
    config: dict[str, Any] = yaml.safe_load(out.stdout)
    return config


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return _config("docker-compose.yml")


def test_config_check_passes() -> None:
    for files in (["docker-compose.yml"], ["docker-compose.yml", SOCKET_OVERRIDE]):
        args = [a for f in files for a in ("-f", f)]
        out = subprocess.run(
            [*_compose_command(), *args, "config", "-q"], cwd=ROOT, capture_output=True, text=True
        )
        assert out.returncode == 0, f"{files}: {out.stderr}"


def test_services_health_checks_and_order(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(LONG_RUNNING + ONE_SHOT) <= set(services)
    for name in ["postgresql", "temporal", "ollama", "worker", "api"]:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    conditions = {
        (name, dep): spec.get("condition")
        for name, svc in services.items()
        for dep, spec in (svc.get("depends_on") or {}).items()
    }
    assert conditions[("temporal-schema", "postgresql")] == "service_healthy"
    assert conditions[("temporal", "temporal-schema")] == "service_completed_successfully"
    assert conditions[("temporal-setup", "temporal")] == "service_healthy"
    assert conditions[("worker", "temporal-setup")] == "service_completed_successfully"
    assert conditions[("api", "temporal-setup")] == "service_completed_successfully"


def test_named_volumes(config: dict[str, Any]) -> None:
    assert {"postgresql-data", "ollama-models", "gleitzeit-data"} <= set(config["volumes"])
    pg = config["services"]["postgresql"]["volumes"]
    assert any(
        str(v).startswith("postgresql-data:")
        or (isinstance(v, dict) and v.get("source") == "postgresql-data")
        for v in pg
    )


def test_worker_scales_and_is_hardened(config: dict[str, Any]) -> None:
    worker = config["services"]["worker"]
    # `--scale worker=N` needs no fixed name and no published port.
    assert "container_name" not in worker and "ports" not in worker
    assert worker["command"][0] == "worker"
    env = worker["environment"]
    assert env["GLEITZEIT_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["OLLAMA_HOST"] == "http://ollama:11434"
    # The safer default: scripts stay in the hardened worker container, no engine socket.
    assert env["GLEITZEIT_EXECUTOR"] == "local"
    assert not any("docker.sock" in str(v) for v in worker.get("volumes", []))
    assert worker["read_only"] is True and worker["cap_drop"] == ["ALL"]
    assert config["services"]["api"]["command"][:3] == ["serve", "--host", "0.0.0.0"]


def test_ports_listen_on_localhost_by_default(config: dict[str, Any]) -> None:
    for name, svc in config["services"].items():
        for port in svc.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
            assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond this machine"


def test_engine_socket_is_one_variable_away() -> None:
    config = _config(env={"COMPOSE_FILE": f"docker-compose.yml:{SOCKET_OVERRIDE}"})
    worker = config["services"]["worker"]
    assert worker["environment"]["GLEITZEIT_EXECUTOR"] == "docker"
    assert any("/var/run/docker.sock" in str(v) for v in worker["volumes"])


def test_setup_registers_the_search_attributes_gleitzeit_uses(config: dict[str, Any]) -> None:
    declared = config["services"]["temporal-setup"]["environment"]["GLEITZEIT_SEARCH_ATTRIBUTES"]
    assert dict(pair.split("=") for pair in declared.split()) == SEARCH_ATTRIBUTES
