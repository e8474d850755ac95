"""The compose profile `observability`, checked as configuration (no image can be pulled here).

Prometheus must scrape what the stack serves (every worker replica's metrics port, the API's
/metrics, the Temporal server's listener), Grafana must load the data source and the dashboard
from deploy/, and the dashboard must query only metrics that Gleitzeit or the Temporal SDK export
(test_metrics.py checks the same names against a real worker's /metrics after a run).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from gleitzeit.core.metrics import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# The SDK's runtime metrics the dashboard may use (PrometheusConfig with counters_total_suffix and
# durations in seconds, as gleitzeit.worker.telemetry sets it up).
SDK_METRICS = {
    "temporal_worker_task_slots_used",
    "temporal_worker_task_slots_available",
    "temporal_num_pollers",
    "temporal_activity_schedule_to_start_latency_bucket",
    "temporal_workflow_task_schedule_to_start_latency_bucket",
    "temporal_long_request_latency_bucket",
}


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _mount_source(service: dict[str, Any], target_prefix: str) -> Path:
    for volume in service["volumes"]:
        source, target = str(volume).split(":")[:2]
        if target.startswith(target_prefix):
            return ROOT / source
    raise AssertionError(f"no volume mounted at {target_prefix}")


def test_profile_holds_prometheus_and_grafana_only() -> None:
    services = _compose()["services"]
    profiled = {name for name, svc in services.items() if svc.get("profiles")}
    assert profiled == {"prometheus", "grafana"}
    assert all(services[n]["profiles"] == ["observability"] for n in profiled)


def test_prometheus_scrapes_every_worker_the_api_and_temporal() -> None:
    services = _compose()["services"]
    config_file = _mount_source(services["prometheus"], "/etc/prometheus/prometheus.yml")
    jobs = {job["job_name"]: job for job in yaml.safe_load(config_file.read_text())["scrape_configs"]}

    worker = services["worker"]
    port = int(worker["environment"]["GLEITZEIT_METRICS_PORT"])
    # DNS discovery of the service name finds every replica, however many `deploy.replicas` starts.
    (dns,) = jobs["gleitzeit-worker"]["dns_sd_configs"]
    assert dns["names"] == ["worker"] and dns["type"] == "A" and dns["port"] == port

    api_job = jobs["gleitzeit-api"]
    assert api_job.get("metrics_path", "/metrics") == "/metrics"
    assert api_job["static_configs"][0]["targets"] == ["api:8000"]
    assert "8000" in " ".join(services["api"]["command"])

    template = (DEPLOY / "temporal" / "config" / "temporal.yaml").read_text()
    listen = re.search(r'listenAddress: "0\.0\.0\.0:(\d+)"', template)
    assert listen and jobs["temporal-server"]["static_configs"][0]["targets"] == [f"temporal:{listen[1]}"]


def test_grafana_provisions_the_data_source_and_the_dashboard() -> None:
    grafana = _compose()["services"]["grafana"]
    provisioning = _mount_source(grafana, "/etc/grafana/provisioning")
    dashboards_dir = _mount_source(grafana, "/etc/grafana/dashboards")
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "gleitzeit.yml").read_text())["providers"]
    assert provider["options"]["path"] == "/etc/grafana/dashboards"
    dashboard = json.loads((dashboards_dir / "gleitzeit.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]


def test_dashboard_queries_only_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "gleitzeit.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queried = {m for e in exprs for m in re.findall(r"\b(?:gleitzeit|temporal)_[a-z_]+", e)}
    ours = set(METRIC_NAMES) | {f"{n}_bucket" for n in METRIC_NAMES}
    assert not queried - ours - SDK_METRICS, sorted(queried - ours - SDK_METRICS)
    # Every family of ours is on the dashboard.
    shown = {re.sub(r"_bucket$", "", m) for m in queried}
    assert set(METRIC_NAMES) <= shown, sorted(set(METRIC_NAMES) - shown)
    # Prometheus conventions: base units, counters end in _total.
    for name in METRIC_NAMES:
        assert name.startswith("gleitzeit_") and (name.endswith("_total") or name.endswith("_seconds")), name


def test_tracing_is_off_by_default_and_says_what_it_needs() -> None:
    import importlib.util

    import pytest

    from gleitzeit.config import Settings
    from gleitzeit.core.errors import ConfigurationError
    from gleitzeit.worker.telemetry import tracing_interceptors

    assert Settings().tracing is False and tracing_interceptors(False) == []
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        with pytest.raises(ConfigurationError, match="opentelemetry-sdk"):
            tracing_interceptors(True)
    else:
        (interceptor,) = tracing_interceptors(True)
        assert type(interceptor).__name__ == "TracingInterceptor"
