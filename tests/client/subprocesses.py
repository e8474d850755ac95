"""Run commands and example scripts as separate processes against the session stack.

Always asynchronously: the REST API and the workers of the stack run in the test's event loop, so a
blocking ``subprocess.run`` would stall the very servers the child talks to.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from gleitzeit.services.api_process import settings_env
from tests.fixtures.client import ClientStack
from tests.helpers import free_port


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def stack_env(stack: ClientStack, mode: str) -> dict[str, str]:
    """The environment of a child using the stack: api mode finds the REST API, native mode finds none."""
    env = {**os.environ, **settings_env(stack.settings), "OLLAMA_HOST": stack.settings.ollama_host}
    if mode == "native":
        env["GLEITZEIT_API_PORT"] = str(free_port())  # nothing answers there: auto mode picks native
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def run_process(
    args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 240
) -> Completed:
    process = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return Completed(process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))


async def run_cli(stack: ClientStack, mode: str, *args: str, cwd: Path | None = None) -> Completed:
    code = "from gleitzeit.cli import main; main()"
    return await run_process([sys.executable, "-c", code, *args], stack_env(stack, mode), cwd)
