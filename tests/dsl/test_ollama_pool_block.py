"""Several Ollama hosts, as configured: the pipeline's ``providers.ollama_pool`` block (checked, located,
handed to its llm/* tasks), the worker's ``GLEITZEIT_OLLAMA_POOL`` / ``OLLAMA_HOSTS``, and the task
parameters that route (``load_balancing_strategy``, ``instance_tags``, ``require_gpu``). The routing
itself runs against Ollama-API doubles in tests/integration/test_ollama_pool.py."""

from __future__ import annotations

from typing import Any

import pytest

from gleitzeit.activities.llm import LlmActivities
from gleitzeit.config import Settings
from gleitzeit.core.errors import ValidationError
from gleitzeit.core.ollama_pool import POOL_KEY
from gleitzeit.dsl import load_workflow

POOL = {
    "type": "ollama_pool",
    "instances": [
        {
            "id": "local",
            "url": "localhost:11434",
            "models": ["llama3.2"],
            "max_concurrent": 5,
            "tags": ["cpu"],
        },
        {"id": "gpu", "url": "http://gpu:11434", "max_concurrent": 2, "tags": ["gpu"], "priority": 1},
    ],
    "load_balancing": {"strategy": "least_loaded", "health_check_interval": 30, "failover": True},
}


def _doc(pool: Any, **params: Any) -> dict[str, Any]:
    return {
        "name": "p",
        "providers": {"ollama_pool": pool},
        "tasks": [
            {"id": "a", "method": "llm/chat", "parameters": {"model": "llama3.2", "prompt": "hi", **params}},
            {"id": "s", "method": "python/execute", "parameters": {"code": "print(1)"}},
        ],
    }


def test_the_block_reaches_the_llm_tasks_and_routing_parameters_stay() -> None:
    spec = load_workflow(
        _doc(POOL, load_balancing_strategy="round_robin", instance_tags=["gpu"], require_gpu=True)
    )
    params = spec.task("a").parameters
    assert params[POOL_KEY]["instances"][1]["id"] == "gpu"
    assert (params["load_balancing_strategy"], params["instance_tags"], params["require_gpu"]) == (
        "round_robin",
        ["gpu"],
        True,
    )
    assert POOL_KEY not in spec.task("s").parameters


def test_without_a_pool_nothing_is_added_and_the_worker_has_no_pool() -> None:
    spec = load_workflow({"name": "p", "tasks": _doc(POOL)["tasks"]})
    assert POOL_KEY not in spec.task("a").parameters
    # The single-host path: no pool in the activities, so no lease on the hot path.
    assert LlmActivities(Settings(ollama_hosts=[])).pool.config_for(None) is None


def test_a_broken_block_is_located() -> None:
    bad = {
        "instances": [{"id": "x", "url": "h:1", "max_concurrent": 0}],
        "load_balancing": {"strategy": "fastest"},
    }
    with pytest.raises(ValidationError) as err:
        load_workflow(_doc(bad, load_balancing_strategy="rr"))
    text = str(err.value)
    assert "providers.ollama_pool.instances.0.max_concurrent" in text
    assert "providers.ollama_pool.load_balancing.strategy" in text and "least_loaded" in text
    assert "'load_balancing_strategy' must be one of least_loaded" in text
    with pytest.raises(ValidationError, match="each host once"):
        load_workflow(_doc({"instances": [{"url": "h:1"}, {"url": "http://h:1"}]}))


def test_the_worker_settings_take_the_block_or_a_list_of_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOSTS", "a:11434, http://b:11434")
    pool = Settings().pool()
    assert pool is not None
    assert [(i.id, i.url, i.max_concurrent) for i in pool.instances] == [
        ("a:11434", "http://a:11434", 5),
        ("b:11434", "http://b:11434", 5),
    ]
    monkeypatch.setenv("GLEITZEIT_OLLAMA_POOL", '{"instances": [{"id": "g", "url": "g:1", "tags": ["gpu"]}]}')
    pool = Settings().pool()
    assert pool is not None and [i.id for i in pool.instances] == ["g"]  # the block wins
    monkeypatch.delenv("GLEITZEIT_OLLAMA_POOL")
    monkeypatch.delenv("OLLAMA_HOSTS")
    assert Settings().pool() is None
