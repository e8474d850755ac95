"""ensure_llm_server / start_llm_server: reuse what answers, start what is missing, explain failures."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from gleitzeit.config import Settings
from gleitzeit.core.errors import LLMUnavailableError
from gleitzeit.llm_server.serving import llm_backend_available
from gleitzeit.services.llm import ensure_llm_server, llm_server_answers, start_llm_server
from tests.fixtures.llm import LlmServer
from tests.helpers import free_port, require

pytestmark = pytest.mark.llm


async def test_reuses_a_server_that_answers(llm_server: LlmServer) -> None:
    assert await ensure_llm_server(Settings(ollama_host=llm_server.url)) is None


async def test_remote_address_is_not_started() -> None:
    with pytest.raises(LLMUnavailableError, match="OLLAMA_HOST"):
        await ensure_llm_server(Settings(ollama_host="http://llm.invalid:11434"))


async def test_auto_start_can_be_turned_off() -> None:
    settings = Settings(ollama_host=f"http://127.0.0.1:{free_port()}", auto_start_llm=False)
    with pytest.raises(LLMUnavailableError, match="gleitzeit llm serve"):
        await ensure_llm_server(settings)


async def test_starts_and_stops_a_local_server(tmp_path: Path) -> None:
    ok, hint = llm_backend_available()
    require(ok, "the embedded LLM server", hint)
    settings = Settings(ollama_host=f"localhost:{free_port()}", data_dir=tmp_path)
    handle = await ensure_llm_server(settings, log_file=tmp_path / "llm.log")
    assert handle is not None
    try:
        assert handle.running and handle.pid > 0
        tags = httpx.get(f"{handle.url}/api/tags", timeout=10).json()
        assert "smollm2:135m" in [m["name"] for m in tags["models"]]
    finally:
        await handle.astop()
    assert not handle.running
    assert not llm_server_answers(handle.url, timeout=0.5)


def test_a_server_that_dies_is_reported_with_its_log(tmp_path: Path) -> None:
    ok, hint = llm_backend_available()
    require(ok, "the embedded LLM server", hint)
    with socket.socket() as blocker:  # holds the port without speaking HTTP
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        log = tmp_path / "dead.log"
        with pytest.raises(LLMUnavailableError) as info:
            start_llm_server("127.0.0.1", port, log_file=log, timeout=60)
    assert str(log) in str(info.value) and "exited" in str(info.value)
