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
ONE_SHOT = ["temporal-schema", "temporal-setup", "ollama-pull"]
# A password with every character that broke a quoted YAML template or a shell word.
NASTY_PASSWORD = "p\"a\\ss $x'y"
TEMPORAL_TEMPLATE = ROOT / "deploy" / "temporal" / "config" / "temporal.yaml"


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


def test_workers_and_api_share_the_data_dir_of_offloaded_results(config: dict[str, Any]) -> None:
    # A result one worker offloads is read by the worker of a later task and by the API.
    services = config["services"]
    mounts = {}
    for name in ("worker", "api"):
        svc = services[name]
        # Compose v2 writes volumes as mappings, v1 as "source:target:mode".
        targets = [
            v["target"] if isinstance(v, dict) else v.split(":")[1]
            for v in svc["volumes"]
            if (v.get("source") if isinstance(v, dict) else v.split(":")[0]) == "gleitzeit-data"
        ]
        (mounts[name],) = targets
        assert svc["environment"]["GLEITZEIT_OFFLOAD_THRESHOLD_BYTES"] == "1048576"
    assert mounts["worker"] == mounts["api"] == "/var/lib/gleitzeit"


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


# --- issue 26: the properties that make the stack work the first time ----------------------------

# One `config` run with every knob turned (each run costs ~1-2 s), next to the defaults' run.
CUSTOM_ENV = {
    "TEMPORAL_HISTORY_SHARDS": "4096",
    "TEMPORAL_VERSION": "1.29.1",
    "POSTGRESQL_VERSION": "18",
    "POSTGRES_PASSWORD": NASTY_PASSWORD,
    "GLEITZEIT_WORKERS": "5",
}


@pytest.fixture(scope="module")
def custom() -> dict[str, Any]:
    return _config("docker-compose.yml", env=CUSTOM_ENV)


def test_models_are_pulled_before_any_worker_starts(config: dict[str, Any]) -> None:
    services = config["services"]
    pull = services["ollama-pull"]
    assert pull["depends_on"]["ollama"]["condition"] == "service_healthy"
    assert pull["entrypoint"][-1].endswith("pull-models.sh")
    worker_env = services["worker"]["environment"]
    assert pull["environment"]["GLEITZEIT_DEFAULT_MODEL"] == worker_env["GLEITZEIT_DEFAULT_MODEL"]
    assert services["worker"]["depends_on"]["ollama-pull"]["condition"] == "service_completed_successfully"
    assert str(pull.get("restart", "")).startswith("on-failure")


def test_api_never_runs_a_worker_of_its_own(config: dict[str, Any]) -> None:
    api = config["services"]["api"]
    command = api["command"]
    assert command[command.index("--worker") + 1] == "never"
    assert api["environment"]["GLEITZEIT_WORKER"] == "never"
    # Readiness, not liveness, gates the API's health.
    assert "/v1/ready" in " ".join(api["healthcheck"]["test"])


def test_history_shards_are_configurable_with_a_sane_default(
    config: dict[str, Any], custom: dict[str, Any]
) -> None:
    assert int(config["services"]["temporal"]["environment"]["NUM_HISTORY_SHARDS"]) == 512
    assert custom["services"]["temporal"]["environment"]["NUM_HISTORY_SHARDS"] == "4096"


def test_one_temporal_version_moves_server_and_schema_together(custom: dict[str, Any]) -> None:
    assert "TEMPORAL_ADMINTOOLS_VERSION" not in (ROOT / "docker-compose.yml").read_text()
    for name in ("temporal", "temporal-schema", "temporal-setup"):
        assert custom["services"][name]["image"].endswith(":1.29.1"), name


def test_postgresql_mount_works_for_16_to_18(config: dict[str, Any], custom: dict[str, Any]) -> None:
    for major, cfg in (("16", config), ("18", custom)):
        pg = cfg["services"]["postgresql"]
        assert pg["image"] == f"postgres:{major}"
        targets = [v["target"] if isinstance(v, dict) else str(v).split(":")[1] for v in pg["volumes"]]
        # 18 refuses a volume at /var/lib/postgresql/data; the parent works for every major version.
        assert targets == ["/var/lib/postgresql"], major
        assert pg["environment"]["PGDATA"] == f"/var/lib/postgresql/{major}/docker"


def test_images_are_pinned(config: dict[str, Any]) -> None:
    for name, svc in config["services"].items():
        image = svc["image"]
        if image == config["services"]["worker"]["image"]:
            continue  # the gleitzeit image, built here
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and any(c.isdigit() for c in tag), f"{name}: {image}"


def test_passwords_only_through_the_environment(custom: dict[str, Any]) -> None:
    for name, svc in custom["services"].items():
        for key in ("command", "entrypoint"):
            text = str(svc.get(key) or "").replace("$$", "$")
            assert NASTY_PASSWORD not in text, f"{name} {key} carries the password"
    # `config` prints a literal `$` as `$$` (so its output is a valid compose file again).
    env = {k: str(v).replace("$$", "$") for k, v in custom["services"]["temporal"]["environment"].items()}
    assert env["POSTGRES_PWD"] == NASTY_PASSWORD
    assert env["TEMPORAL_SERVER_CONFIG_FILE_PATH"].endswith("/temporal.yaml")
    schema_job = (ROOT / "deploy" / "temporal" / "setup-schema.sh").read_text()
    assert "--pw" not in schema_job and "--password" not in schema_job and "SQL_PASSWORD" in schema_job
    # The server's template escapes it: rendered, the YAML gives back the exact password.
    server = yaml.safe_load(_render_template(TEMPORAL_TEMPLATE.read_text(), env))
    for store in ("default", "visibility"):
        sql = server["persistence"]["datastores"][store]["sql"]
        assert sql["password"] == NASTY_PASSWORD and sql["user"] == "temporal"
        assert sql["connectAddr"] == "postgresql:5432"
    assert server["persistence"]["numHistoryShards"] == 4096
    assert server["services"]["frontend"]["rpc"]["bindOnIP"] == "0.0.0.0"


def _render_template(text: str, env: dict[str, str]) -> str:
    """The handful of Go-template forms temporal.yaml uses, rendered as the server would."""
    import json
    import re

    def value(expr: str) -> str:
        expr = expr.strip()
        to_json = expr.endswith("| toJson")
        expr = expr.removesuffix("| toJson").strip()
        if m := re.fullmatch(r'env "(\w+)"', expr):
            out = env.get(m[1], "")
        elif m := re.fullmatch(r'or \(env "(\w+)"\) "([^"]*)"', expr):
            out = env.get(m[1]) or m[2]
        elif m := re.fullmatch(r'printf "%s:%s" \(env "(\w+)"\) \(or \(env "(\w+)"\) "([^"]*)"\)', expr):
            out = f"{env.get(m[1], '')}:{env.get(m[2]) or m[3]}"
        else:
            raise AssertionError(f"template form not covered by this test: {expr}")
        return json.dumps(out) if to_json else out

    assert text.lstrip().startswith("# enable-template")
    return re.sub(r"\{\{(.*?)\}\}", lambda m: value(m[1]), text)


def test_workers_scale_by_replicas_from_one_image_build(
    config: dict[str, Any], custom: dict[str, Any]
) -> None:
    worker, api = config["services"]["worker"], config["services"]["api"]
    assert worker["deploy"]["replicas"] == 2
    assert custom["services"]["worker"]["deploy"]["replicas"] == 5
    assert [n for n, s in config["services"].items() if "build" in s] == ["worker"]
    assert api["image"] == worker["image"]


def test_worker_health_check_reads_its_health_endpoint(config: dict[str, Any]) -> None:
    worker = config["services"]["worker"]
    port = worker["environment"]["GLEITZEIT_METRICS_PORT"]
    assert worker["environment"]["GLEITZEIT_METRICS_HOST"] == "0.0.0.0"
    assert f"127.0.0.1:{port}/healthz" in " ".join(worker["healthcheck"]["test"])
