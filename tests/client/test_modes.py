"""Modes and lifecycle: auto picks api or native, tokens, native_config, auto_start_server."""

from __future__ import annotations

import pytest

from gleitzeit import AuthenticationError, GleitzeitClient, ServiceUnavailableError, ValidationError
from gleitzeit.services.api_process import api_answers
from tests.fixtures.client import ClientStack
from tests.helpers import free_port

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(240)]


async def test_auto_mode_uses_the_api_when_it_answers(client_stack: ClientStack) -> None:
    async with GleitzeitClient(
        api_port=client_stack.settings.api_port, settings=client_stack.settings
    ) as client:
        assert client.mode == "api"
        assert (await client.get_status())["api"]["available"] is True


async def test_auto_mode_falls_back_to_native(client_stack: ClientStack) -> None:
    async with GleitzeitClient(
        api_port=free_port(), settings=client_stack.settings, native_config={"worker": "never"}
    ) as client:
        assert client.mode == "native"
        assert (await client.get_status())["temporal"]["available"] is True


async def test_wrong_token_is_an_authentication_error(client_stack: ClientStack) -> None:
    for token in ("wrong", ""):
        settings = client_stack.settings.model_copy(update={"api_token": None})
        async with GleitzeitClient(
            mode="api",
            api_port=settings.api_port,
            api_token=token,
            settings=settings,
            auto_start_server=False,
        ) as client:
            with pytest.raises(AuthenticationError):
                await client.list_workflows()
            # get_status never raises: it reports what it could not reach
            assert (await client.get_status())["api"]["available"] is False


async def test_api_mode_without_a_server(client_stack: ClientStack) -> None:
    client = GleitzeitClient(
        mode="api", api_port=free_port(), settings=client_stack.settings, auto_start_server=False
    )
    with pytest.raises(ServiceUnavailableError, match="gleitzeit serve"):
        await client.start()
    remote = GleitzeitClient(mode="api", api_host="https://gleitzeit.invalid", settings=client_stack.settings)
    with pytest.raises(ServiceUnavailableError, match="only started automatically"):
        await remote.start()


def test_native_config_and_mode_are_checked() -> None:
    client = GleitzeitClient(
        mode="native",
        native_config={"enable_resource_management": True, "max_parallel_tasks": 10, "default_timeout": 60},
    )
    assert client.settings.max_parallel == 10 and client.settings.llm_timeout == 60
    with pytest.raises(ValidationError, match="max_paralel"):
        GleitzeitClient(native_config={"max_paralel": 3})
    with pytest.raises(ValidationError):
        GleitzeitClient(mode="remote")  # type: ignore[arg-type]
    assert GleitzeitClient(mode="api", api_host="gleitzeit.example.com", api_port=443).api_url == (
        "https://gleitzeit.example.com:443"
    )


async def test_lazy_start_without_context_manager(client_stack: ClientStack) -> None:
    client = GleitzeitClient(
        mode="api", api_port=client_stack.settings.api_port, settings=client_stack.settings
    )
    try:
        assert await client.list_workflows(limit=1) is not None
        assert client.mode == "api"
    finally:
        await client.close()


@pytest.mark.slow
async def test_auto_start_server_and_keep_running(client_stack: ClientStack) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Its own task queue: the stopped server's worker must not hold sticky work of the shared queue.
    queue = f"{client_stack.settings.task_queue}-spawned"
    settings = client_stack.settings.model_copy(update={"task_queue": queue})
    client = GleitzeitClient(
        mode="api",
        api_port=port,
        settings=settings,
        auto_start_server=True,
        keep_server_running=True,
    )
    await client.start()
    process = client.server_process
    assert process is not None
    try:
        assert client.mode == "api"
        assert (await client.get_status())["temporal"]["available"] is True
        await client.close()
        assert await api_answers(url), "keep_server_running=True must leave the server up"
        # A client that did not start the server never stops it.
        async with GleitzeitClient(
            mode="api", api_port=port, settings=settings, keep_server_running=False
        ) as other:
            assert other.server_process is None
            await other.list_workflows(limit=1)
        assert await api_answers(url)
    finally:
        process.stop()
    assert process.process.poll() is not None
