"""Native mode: the client's methods straight on Temporal, through ``LocalRuntime``.

``NativeBackend`` is also what the REST server runs on, so both modes share one implementation of
every method. On start it brings up what is missing (the dev server for a local address, an
in-process worker when no live worker polls the task queue and the server is on this machine); the
embedded LLM server is started on first use of an LLM method, and only when nothing answers at
OLLAMA_HOST. The worker question is asked again before every run it starts (workers that were there
at start-up may have gone since) and, without a worker of its own, once more when a run is not picked
up within ``PROGRESS_GRACE``; a run that no worker will take says so (``waiting_for_worker``).

Every method is durable: ``chat`` is a one-task workflow, ``execute_task`` and
``execute_python_script`` too. When this process runs the worker, workflows start with
``request_eager_start`` (the first workflow task is handed to the local worker in the start call,
saving a round trip), which keeps the cost of durability per chat in the tens of milliseconds.

Over ~400 lines because it is one class with one method per client method, each a few lines
over the shared run handling in ``native_run.py``; splitting it would split that list.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import ollama
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from gleitzeit.client.convert import status_from_temporal
from gleitzeit.client.models import ModelInfo, describe_models
from gleitzeit.client.native_run import NativeRun, rpc_error
from gleitzeit.client.outputs import has_task_references, list_files, locate_file, outputs_dirs, save_copy
from gleitzeit.client.specs import (
    CHAT_TASK_ID,
    DEFAULT_CHAT_MODEL,
    SCRIPT_TASK_ID,
    ScriptOutputsDir,
    chat_spec,
    load_spec,
    script_spec,
    task_spec,
)
from gleitzeit.client.starter import start_pipeline, web_url
from gleitzeit.client.uploads import copy_into_store, find_upload
from gleitzeit.config import Settings
from gleitzeit.contracts.batch import BatchInput
from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import (
    GleitzeitError,
    LLMUnavailableError,
    ModelNotFoundError,
    ScriptError,
    TaskExecutionError,
    TemporalUnavailableError,
    ValidationError,
    WorkflowNotFoundError,
)
from gleitzeit.core.models import (
    OutputsDir,
    ResumePlan,
    RunFiles,
    Task,
    TaskResult,
    UploadedFile,
    WorkflowExecution,
    WorkflowStatus,
    WorkflowSummary,
)
from gleitzeit.services.liveness import WorkerLiveness, worker_liveness
from gleitzeit.services.runtime import LocalRuntime, WorkerMode

__all__ = ["NativeBackend", "normalise_model_name"]

log = logging.getLogger(__name__)

TAGS_TIMEOUT = 10.0
STATUS_TIMEOUT = 5.0


def normalise_model_name(name: str) -> str:
    """``llama3.2`` and ``llama3.2:latest`` name the same model (as Ollama resolves them)."""
    name = name.strip().lower().rsplit("/", 1)[-1]
    return name if ":" in name else name + ":latest"


class NativeBackend:
    """The client's methods on Temporal. ``start()`` before use, ``close()`` after."""

    mode = "native"

    def __init__(
        self,
        settings: Settings,
        *,
        worker: WorkerMode | None = None,
        start_services: bool = True,
        keep_llm_running: bool = True,
    ) -> None:
        self.settings = settings
        self.worker_mode: WorkerMode = worker or settings.worker
        self.start_services = start_services
        self.keep_llm_running = keep_llm_running
        self.runtime: LocalRuntime | None = None
        self._client: Client | None = None
        self._llm_started: Any = None
        self._llm_lock = asyncio.Lock()
        self._llm_ready = False
        self._models: list[str] | None = None
        self._watchdogs: set[asyncio.Task[bool]] = set()
        # The roots every run started here carries (the REST API sets its own): each task's files are
        # checked against them where they are opened. None: the workers' own rule.
        self.run_roots: list[str] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.start_services:
            from gleitzeit.services.connection import connect

            with contextlib.suppress(TemporalUnavailableError):  # status reports it
                self._client = await connect(self.settings)
            return
        self.runtime = LocalRuntime(self.settings, worker=self.worker_mode)
        await self.runtime.__aenter__()
        for note in self.runtime.notes:
            log.info("%s", note)
        self._client = self.runtime.client

    async def close(self) -> None:
        for watchdog in list(self._watchdogs):
            watchdog.cancel()
        if self.runtime is not None:
            await self.runtime.close()
            self.runtime = None
        if self._llm_started is not None and not self.keep_llm_running:
            with contextlib.suppress(Exception):
                await self._llm_started.astop()
        self._llm_started = None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise TemporalUnavailableError(
                f"not connected to Temporal at {self.settings.temporal_address} "
                "(start one with `gleitzeit dev`, or set GLEITZEIT_TEMPORAL_ADDRESS)"
            )
        return self._client

    @property
    def eager(self) -> bool:
        """Whether workflows can start eagerly: this process runs a worker on the same client."""
        return self.runtime is not None and self.runtime.worker is not None

    async def ensure_llm(self) -> None:
        """Make sure an Ollama-API server answers (starting the embedded one when configured)."""
        if self._llm_ready:
            return
        async with self._llm_lock:
            if self._llm_ready:
                return
            # Several Ollama hosts configured: they are the servers; nothing to start at OLLAMA_HOST.
            if self.settings.auto_start_llm and self.settings.pool() is None:
                from gleitzeit.services.llm import ensure_llm_server

                self._llm_started = await ensure_llm_server(self.settings)
            self._llm_ready = True

    async def ensure_worker(self) -> None:
        """Before a start: a live worker polls, or one starts in-process when this backend may."""
        if self.runtime is not None:
            await self.runtime.ensure_worker()

    def _watch_pickup(self, handle: Any) -> None:
        """Without a worker of our own, start one if the run is not picked up (LocalRuntime.ensure_progress);
        in the background, so that a REST request is not held up."""
        runtime = self.runtime
        if runtime is None or runtime.worker is not None or runtime.waiting is not None:
            return
        if not runtime.may_start_worker:
            return
        watchdog = asyncio.ensure_future(runtime.ensure_progress(handle))
        self._watchdogs.add(watchdog)
        watchdog.add_done_callback(self._watchdog_done)

    def _watchdog_done(self, watchdog: asyncio.Task[bool]) -> None:
        self._watchdogs.discard(watchdog)
        if watchdog.cancelled():
            return
        if watchdog.exception() is not None:
            log.warning("checking that a worker picked a run up failed: %s", watchdog.exception())
        elif watchdog.result() and self.runtime is not None:
            log.info("%s", self.runtime.notes[-1])

    # -- workflows ---------------------------------------------------------------------------------

    def _run(self, handle: Any, kind: str = "workflow") -> NativeRun:
        return NativeRun(
            handle,
            kind,
            web_url(self.settings, handle.id, handle.result_run_id),
            client=self.client,
            data_dir=self.settings.data_dir,
        )

    async def start_spec(
        self, spec: WorkflowSpec, inputs: Mapping[str, Any] | None = None, *, workflow_id: str | None = None
    ) -> NativeRun:
        """Start a validated spec (inputs are bound and checked here)."""
        from gleitzeit.dsl.inputs import bind_inputs

        bound = bind_inputs(spec, dict(inputs or {}))
        if any(t.method.startswith("llm/") for t in spec.tasks):
            await self.ensure_llm()
        await self.ensure_worker()
        handle = await start_pipeline(
            self.client,
            spec,
            bound,
            self.settings,
            workflow_id=workflow_id,
            request_eager_start=self.eager,
            file_roots=self.run_roots,
        )
        self._watch_pickup(handle)
        return self._run(handle)

    async def start_workflow(
        self,
        workflow: str | os.PathLike[str] | Mapping[str, Any] | WorkflowSpec,
        inputs: Mapping[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
    ) -> NativeRun:
        return await self.start_spec(load_spec(workflow), inputs, workflow_id=workflow_id)

    async def get_workflow(self, workflow_id: str) -> NativeRun:
        """The handle of an existing run; WorkflowNotFoundError for an unknown id."""
        from gleitzeit.contracts.batch import BatchResult
        from gleitzeit.contracts.dag import DagResult

        probe = self.client.get_workflow_handle(workflow_id)
        try:
            description = await probe.describe()
        except RPCError as exc:
            raise rpc_error(exc, workflow_id) from None
        kind = "batch" if description.workflow_type == "BatchWorkflow" else "workflow"
        handle = self.client.get_workflow_handle(
            workflow_id, result_type=BatchResult if kind == "batch" else DagResult
        )
        return NativeRun(
            handle,
            kind,
            web_url(self.settings, workflow_id, description.run_id),
            client=self.client,
            data_dir=self.settings.data_dir,
        )

    async def list_workflows(self, limit: int = 20, query: str | None = None) -> list[WorkflowSummary]:
        """The most recent runs (newest first), optionally filtered by a Temporal visibility query."""
        found: list[WorkflowSummary] = []
        try:
            async for wf in self.client.list_workflows(query=query, limit=limit):
                name = None
                with contextlib.suppress(Exception):
                    from gleitzeit.client.starter import PIPELINE_ATTRIBUTE

                    name = wf.typed_search_attributes.get(PIPELINE_ATTRIBUTE)
                found.append(
                    WorkflowSummary(
                        workflow_id=wf.id,
                        run_id=wf.run_id,
                        workflow_type=wf.workflow_type,
                        name=name,
                        status=status_from_temporal(wf.status),
                        started_at=wf.start_time,
                        completed_at=wf.close_time,
                    )
                )
        except RPCError as exc:
            raise ValidationError(f"cannot list workflows: {exc.message}") from None
        return found

    async def resume(
        self,
        workflow_id: str,
        pipeline: str | os.PathLike[str] | Mapping[str, Any] | WorkflowSpec | None = None,
        from_tasks: Sequence[str] | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        dry_run: bool = False,
    ) -> tuple[ResumePlan, NativeRun | None]:
        """Resume an ended run as a new one (see gleitzeit.client.resume); no run for ``dry_run``."""
        from gleitzeit.client.batch import start_batch
        from gleitzeit.client.resume import batch_plan, read_earlier, resume_id, resume_plan

        try:
            earlier = await read_earlier(await self.get_workflow(workflow_id))
        except WorkflowNotFoundError:
            from gleitzeit.client.resume import history_gone_error

            raise history_gone_error(workflow_id) from None
        spec = load_spec(pipeline) if pipeline is not None else None
        if isinstance(earlier.inp, BatchInput):
            plan = batch_plan(earlier, spec, inputs, from_tasks)
            if dry_run:
                return plan, None
            new_id = await resume_id(self.client, workflow_id)
            if earlier.inp.method.startswith("llm/"):
                await self.ensure_llm()
            batch = earlier.inp.model_copy(update={"state": None})  # from the start: listed again
            if self.run_roots is not None:  # resumed through the REST API: inside its roots
                batch = batch.model_copy(update={"file_roots": self.run_roots})
            batch_handle = await start_batch(
                self.client, batch, self.settings, workflow_id=new_id, resumed_from=workflow_id
            )
            run = self._run(batch_handle, "batch")
        else:
            new_spec, bound, carry = resume_plan(earlier, spec, inputs, from_tasks)
            plan = carry.plan
            if dry_run:
                return plan, None
            to_run = set(plan.to_run)
            if any(t.method.startswith("llm/") for t in new_spec.tasks if t.id in to_run):
                await self.ensure_llm()
            new_id = await resume_id(self.client, workflow_id)
            handle = await start_pipeline(
                self.client,
                new_spec,
                bound,
                self.settings,
                workflow_id=new_id,
                request_eager_start=self.eager,
                carried=carry.carried,
                resumed_from=workflow_id,
                # The earlier run's roots hold for its resumption too (the REST API's, when it resumes).
                file_roots=self.run_roots if self.run_roots is not None else earlier.inp.file_roots,
            )
            run = self._run(handle)
        plan = plan.model_copy(update={"new_workflow_id": run.workflow_id})
        run.resume_plan = plan
        return plan, run

    # -- one-task methods --------------------------------------------------------------------------

    async def resolve_model(self, model: str | None) -> str:
        """The model to use: the seed's default name maps to settings.default_model when the server
        lacks it; any other name is used as given (an unknown one fails, naming it)."""
        if not model:
            return self.settings.default_model
        if model != DEFAULT_CHAT_MODEL:
            return model
        try:
            names = await self.list_models(cached=True)
        except GleitzeitError:
            return self.settings.default_model
        wanted = normalise_model_name(model)
        if any(normalise_model_name(n) == wanted for n in names):
            return model
        return self.settings.default_model

    async def chat(self, messages: Any, model: str | None, options: Mapping[str, Any]) -> str:
        model = await self.resolve_model(model)
        spec = chat_spec(messages, model, options)
        await self.ensure_llm()
        await self.ensure_worker()
        handle = await start_pipeline(
            self.client, spec, {}, self.settings, request_eager_start=self.eager, file_roots=self.run_roots
        )
        self._watch_pickup(handle)
        try:
            execution = await self._run(handle).result()
        except TaskExecutionError as exc:
            if exc.cause_type == "ModelNotFound":
                raise ModelNotFoundError(
                    f"model '{model}' is not available on the LLM server: {exc.cause}"
                ) from None
            raise
        return str(execution.results[CHAT_TASK_ID].result["response"])

    async def chat_stream(
        self, messages: Any, model: str | None, options: Mapping[str, Any]
    ) -> AsyncIterator[str]:
        """Text chunks straight from the LLM server (not durable: nothing is recorded in Temporal)."""
        from gleitzeit.dsl.params import ChatParams

        model = await self.resolve_model(model)
        spec = chat_spec(messages, model, options)  # the same checks as chat
        params = ChatParams.model_validate(spec.tasks[0].parameters)
        await self.ensure_llm()
        client = ollama.AsyncClient(
            host=self.settings.ollama_host, timeout=httpx.Timeout(self.settings.llm_timeout, connect=10.0)
        )
        try:
            stream = await client.chat(
                model=model,
                messages=params.chat_messages(),
                options=params.ollama_options() or None,
                format=params.format,
                stream=True,
            )
            async for chunk in stream:
                text = chunk.message.content or ""
                if text:
                    yield text
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise ModelNotFoundError(
                    f"model '{model}' is not available on the LLM server: {exc.error}"
                ) from None
            raise LLMUnavailableError(f"the LLM server answered {exc.status_code}: {exc.error}") from None
        except (httpx.TransportError, ConnectionError) as exc:
            raise LLMUnavailableError(
                f"the LLM server at {self.settings.ollama_host} did not answer: {exc}"
            ) from None
        finally:
            with contextlib.suppress(Exception):
                await client.close()

    async def execute_task(
        self, task: Task | Mapping[str, Any], *, base_dir: str | None = None
    ) -> TaskResult:
        spec, task_id = task_spec(task, base_dir=base_dir)
        run = await self.start_spec(spec)
        execution = await run.result()
        return execution.results[task_id]

    async def execute_python_script(
        self,
        script: str | os.PathLike[str],
        args: Mapping[str, Any] | None = None,
        timeout: float = 30,
        outputs_dir: ScriptOutputsDir = None,
    ) -> Any:
        spec = script_spec(script, args, timeout, outputs_dir)
        run = await self.start_spec(spec)
        try:
            execution = await run.result()
        except ScriptError:
            raise
        except TaskExecutionError as exc:
            raise ScriptError(
                str(exc),
                task_id=exc.task_id,
                attempts=exc.attempts,
                cause=exc.cause,
                cause_type=exc.cause_type,
                workflow_id=exc.workflow_id,
            ) from None
        return execution.results[SCRIPT_TASK_ID].result.get("result")

    # -- batch -------------------------------------------------------------------------------------

    async def start_batch(self, inp: BatchInput, *, workflow_id: str | None = None) -> NativeRun:
        from gleitzeit.client.batch import start_batch

        if inp.method.startswith("llm/"):
            await self.ensure_llm()
        await self.ensure_worker()
        if self.run_roots is not None:
            inp = inp.model_copy(update={"file_roots": self.run_roots})
        handle = await start_batch(self.client, inp, self.settings, workflow_id=workflow_id)
        self._watch_pickup(handle)
        return self._run(handle, "batch")

    async def batch_results(self, execution: WorkflowExecution) -> dict[str, Any]:
        """Every file's result of a finished batch: inline ones, else read back from the output files."""
        from gleitzeit.batch.results import read_batch_results

        return await asyncio.to_thread(read_batch_results, execution)

    # -- files -------------------------------------------------------------------------------------

    async def upload_files(self, paths: Sequence[str | os.PathLike[str]]) -> list[UploadedFile]:
        """Copy local files into the upload store (what POST /v1/files does with sent ones)."""
        return await asyncio.to_thread(copy_into_store, self.settings.uploads_dir, list(paths))

    async def uploaded_file(self, file_id: str) -> list[UploadedFile]:
        return await asyncio.to_thread(find_upload, self.settings.uploads_dir, file_id)

    async def run_outputs(self, workflow_id: str, base_dir: str | None = None) -> list[OutputsDir]:
        """A run's outputs directories (see ``gleitzeit.client.outputs``)."""
        run = await self.get_workflow(workflow_id)
        inp = await run.input()
        results: dict[str, Any] | None = None
        if run.kind != "batch" and has_task_references(inp):
            # Only a finished run has the results a ${task...} directory names.
            with contextlib.suppress(GleitzeitError, RPCError, WorkflowFailureError):
                if await run.status() != WorkflowStatus.RUNNING:
                    results = dict((await run.handle.result()).results)
        return outputs_dirs(inp, results, base_dir or os.getcwd())

    async def run_files(self, workflow_id: str, base_dir: str | None = None) -> RunFiles:
        dirs = await self.run_outputs(workflow_id, base_dir)
        return await asyncio.to_thread(list_files, workflow_id, dirs)

    async def download(
        self,
        workflow_id: str,
        path: str,
        dest: str | os.PathLike[str] | None = None,
        *,
        task: str | None = None,
    ) -> Path:
        dirs = await self.run_outputs(workflow_id)
        source, _ = await asyncio.to_thread(locate_file, workflow_id, dirs, path, task)
        return await asyncio.to_thread(save_copy, source, dest, path)

    # -- utilities ---------------------------------------------------------------------------------

    async def list_models(self, *, cached: bool = False) -> list[str]:
        """Model names the LLM server has (Ollama's /api/tags)."""
        if cached and self._models is not None:
            return self._models
        await self.ensure_llm()
        url = self.settings.ollama_host + "/api/tags"
        try:
            async with httpx.AsyncClient(timeout=TAGS_TIMEOUT) as http:
                answer = await http.get(url)
                answer.raise_for_status()
                names = [str(m.get("name") or m.get("model")) for m in answer.json().get("models", [])]
        except (httpx.HTTPError, ValueError) as exc:
            raise LLMUnavailableError(f"cannot list models at {self.settings.ollama_host}: {exc}") from None
        self._models = names
        return names

    async def describe_models(self) -> list[ModelInfo]:
        """The LLM server's models with sizes and capabilities (``/api/tags`` + ``/api/show``)."""
        await self.ensure_llm()
        return await describe_models(self.settings.ollama_host, TAGS_TIMEOUT)

    async def get_status(self) -> dict[str, Any]:
        """Temporal, workers, the LLM server and Docker, each with ``available`` and details."""
        temporal, workers, llm, docker = await asyncio.gather(
            self._temporal_status(), self._worker_status(), self._llm_status(), self._docker_status()
        )
        pool = self.settings.pool()
        if pool is not None:
            # Several Ollama hosts: each with its health now and the workers' load on it.
            from gleitzeit.client.pool_status import hosts_status

            llm["hosts"] = await hosts_status(pool, workers.get("health") or [], STATUS_TIMEOUT)
            llm["available"] = any(h["healthy"] for h in llm["hosts"])
            llm["models"] = sorted({m for h in llm["hosts"] for m in h["models"]})
            llm.pop("error", None)
        return {"mode": self.mode, "temporal": temporal, "workers": workers, "ollama": llm, "docker": docker}

    async def _temporal_status(self) -> dict[str, Any]:
        s = self.settings
        info: dict[str, Any] = {
            "available": False,
            "address": s.temporal_address,
            "namespace": s.namespace,
            "web_ui": f"http://localhost:{s.ui_port}/namespaces/{s.namespace}/workflows",
        }
        if self._client is None:
            info["error"] = f"not connected to {s.temporal_address}"
            return info
        try:
            answer = await asyncio.wait_for(
                self._client.workflow_service.get_system_info(GetSystemInfoRequest()), STATUS_TIMEOUT
            )
            info["available"] = True
            info["server_version"] = answer.server_version
        except Exception as exc:
            info["error"] = str(exc) or type(exc).__name__
        return info

    async def _worker_status(self) -> dict[str, Any]:
        """Live workers on the task queue (pollers of exited workers are listed as ``gone``)."""
        liveness = WorkerLiveness(self.settings.task_queue, error="not connected to Temporal")
        if self._client is not None:
            liveness = await worker_liveness(self._client, self.settings.task_queue, self.settings.namespace)
        info: dict[str, Any] = {
            **liveness.as_status(),
            "in_process": self.eager,
            "worker_mode": self.worker_mode,
        }
        if self.settings.worker_health_urls:
            from gleitzeit.worker.health import fetch_worker_health

            info["health"] = await fetch_worker_health(self.settings.worker_health_urls, STATUS_TIMEOUT)
        return info

    async def _llm_status(self) -> dict[str, Any]:
        host = self.settings.ollama_host
        info: dict[str, Any] = {"available": False, "host": host, "models": []}
        try:
            async with httpx.AsyncClient(timeout=STATUS_TIMEOUT) as http:
                answer = await http.get(host + "/api/tags")
                answer.raise_for_status()
                info["models"] = [str(m.get("name")) for m in answer.json().get("models", [])]
                info["available"] = True
        except (httpx.HTTPError, ValueError) as exc:
            info["error"] = str(exc) or type(exc).__name__
        info["default_model"] = self.settings.default_model
        return info

    async def _docker_status(self) -> dict[str, Any]:
        from gleitzeit.executors.docker import docker_status

        image = self.settings.sandbox_image
        reason = await asyncio.to_thread(docker_status, image)
        info: dict[str, Any] = {
            "available": reason is None,
            "image": image,
            "executor": self.settings.executor,
        }
        if reason:
            info["error"] = reason
        return info
