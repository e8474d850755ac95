"""The OpenAPI document is the API's contract: schemathesis (every check) runs a bounded number of
generated requests per operation against a real ``gleitzeit serve`` and every answer must conform
(documented status and schema, 405 with ``Allow``, schema-valid requests not refused as invalid,
schema-violating ones refused), on the Gleitzeit routes, the OpenAI- and Ollama-shaped ones and the
probes alike. ``tests/api/schemathesis.toml`` says where a check expects more, and why.

The server gets an empty file root, so a generated batch lists no files and a generated path names
nothing; a generated model is not on the LLM server, so an OpenAI- or Ollama-shaped call ends as its
404 after one activity. Excluded, and only these: ``POST /v1/chat`` and ``POST /v1/chat/stream``,
whose model is optional (the default one), so nearly every valid request runs the LLM (seconds per
example on CI's CPU); their shapes are the same models the other tests of this package call.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from gleitzeit.config import Settings
from gleitzeit.services.api_process import start_api_server
from tests.fixtures.llm import LlmServer
from tests.helpers import free_port

TOKEN = "schemathesis-token"
# Examples per operation in the fuzzing phase (the coverage phase adds its own boundary cases): 35
# operations took ~40 s on a loaded 2-core VM (schemathesis 4.32.5).
MAX_EXAMPLES = 10
EXCLUDED_PATHS = "^/v1/chat(/stream)?$"


def _schemathesis() -> str:
    path = Path(sys.executable).parent / "schemathesis"
    found = str(path) if path.exists() else shutil.which("schemathesis")
    assert found, "schemathesis is a test dependency (pip install -e '.[test]')"
    return found


async def test_the_api_conforms_to_its_openapi_document(
    local_env: WorkflowEnvironment, llm_server: LlmServer, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    port = free_port()
    settings = Settings(
        temporal_address=local_env.client.service_client.config.target_host,
        task_queue=f"schemathesis-{uuid.uuid4().hex[:8]}",
        ollama_host=llm_server.url,
        auto_start_llm=False,
        auto_start_temporal=False,
        data_dir=tmp_path / "data",
        api_token=TOKEN,
        file_roots=[root],
        executor="local",
        default_model="smollm2:135m",
    )
    server = await start_api_server(settings, "127.0.0.1", port)
    try:
        proc = await asyncio.create_subprocess_exec(
            _schemathesis(),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--exclude-path-regex",
            EXCLUDED_PATHS,
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--seed",
            os.environ.get("GLEITZEIT_SCHEMATHESIS_SEED", "19"),  # another seed explores further
            "--request-timeout",
            "15",
            "--no-color",
            "--generation-database",
            "none",
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 240)
        except TimeoutError:
            proc.kill()  # never left behind, whatever made it hang
            await proc.wait()
            raise
    finally:
        await asyncio.to_thread(server.stop)
    report = out.decode(errors="replace")
    if os.environ.get("GLEITZEIT_SCHEMATHESIS_REPORT"):  # the whole report, to read at leisure
        Path(os.environ["GLEITZEIT_SCHEMATHESIS_REPORT"]).write_text(report)
    # The failures come first, the summary last: show both.
    assert proc.returncode == 0, report[:12000] + "\n...\n" + report[-4000:]
