"""/metrics and /v1/ready answer without a token; readiness is 503 until Temporal answers through the API.

The ready path (200 after a real run) is covered end to end in tests/deploy/test_metrics.py.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gleitzeit.api.app import create_app
from gleitzeit.config import Settings
from gleitzeit.core.metrics import METRIC_NAMES


async def test_metrics_and_readiness_need_no_token_and_say_not_ready(tmp_path: Path) -> None:
    settings = Settings(api_token="secret", data_dir=tmp_path)
    app = create_app(settings)  # lifespan not run: the backend never started
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        ready = await http.get("/v1/ready")
        assert ready.status_code == 503 and ready.json()["ready"] is False and ready.json()["reason"]
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
        families = {f.name for f in text_string_to_metric_families(metrics.text)}
        assert {n.removesuffix("_total") for n in METRIC_NAMES} <= families
        assert (await http.get("/v1/status")).status_code == 401  # the rest still needs the token
