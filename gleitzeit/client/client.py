"""``GleitzeitClient``: the Python surface of Gleitzeit, in native, api or auto mode.

    async with GleitzeitClient() as client:
        answer = await client.chat("What is Python?", max_tokens=32)
        results = await client.run_workflow("pipeline.yaml", inputs={"topic": "rivers"})

Modes:

- ``native``: Temporal directly (``NativeBackend``). Brings up what is missing, like ``gleitzeit run``:
  the dev server for a local address, an in-process worker when no worker polls the task queue, the
  embedded LLM server on first use of an LLM method.
- ``api``: the REST API of ``gleitzeit serve`` over httpx with a bearer token. With
  ``auto_start_server`` (default) a local server is started when none answers; with
  ``keep_server_running`` (default) it keeps running after the client closes, else it is stopped.
- ``auto`` (default): api when a server answers at ``api_host:api_port``, else native.

Every method runs durably as a Temporal workflow except ``chat_stream`` (see its docstring). Errors
are ``gleitzeit.core.errors`` classes in both modes.

Why one module of ~500 lines: it is one class, the whole public surface with each method's docstring,
read by users as one page; the work behind each method is in ``native.py`` / ``remote.py``, and
cutting the class into mixins would only scatter that page.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gleitzeit.client.batch_results import BatchResults
from gleitzeit.client.defaults import DEFAULT_BATCH_PROMPT
from gleitzeit.client.handles import ProgressCallback, WorkflowRun
from gleitzeit.client.models import ModelInfo
from gleitzeit.client.native import NativeBackend
from gleitzeit.client.remote import RemoteBackend
from gleitzeit.client.results import WorkflowResults
from gleitzeit.client.specs import DEFAULT_CHAT_MODEL, ScriptOutputsDir, chat_messages_for
from gleitzeit.config import Settings, get_settings
from gleitzeit.contracts.batch import BatchInput
from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import (
    GleitzeitError,
    ServiceUnavailableError,
    ValidationError,
)
from gleitzeit.core.models import ResumePlan, RunFiles, Task, TaskResult, UploadedFile, WorkflowSummary
from gleitzeit.services.api_process import ApiServerProcess, api_answers, start_api_server

if TYPE_CHECKING:
    from gleitzeit.client.schedule_client import Schedules

__all__ = ["DEFAULT_BATCH_PROMPT", "GleitzeitClient", "Mode"]

log = logging.getLogger(__name__)

Mode = Literal["auto", "api", "native"]
WATCH_INTERVAL = 0.5
_LOCAL = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "[::1]")
# native_config keys of the seed that map onto Settings.
_NATIVE_ALIASES = {"max_parallel_tasks": "max_parallel"}
# Accepted for compatibility; Temporal does what they asked for (slots, retries, load spreading).
_NATIVE_IGNORED = ("enable_resource_management",)
_NATIVE_OWN = ("worker", "start_services")
_BATCH_FIELDS = (
    "name",
    "timeout",
    "max_attempts",
    "retry",
    "heartbeat_timeout",
    "inline_results_limit",
    "files_per_run",
)


def _native_settings(settings: Settings, config: Mapping[str, Any]) -> tuple[Settings, dict[str, Any]]:
    update: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for key, value in config.items():
        if key in _NATIVE_IGNORED:
            continue
        if key in _NATIVE_OWN:
            own[key] = value
        elif key == "default_timeout":
            update["llm_timeout"] = float(value)
            update["script_timeout"] = float(value)
        elif _NATIVE_ALIASES.get(key, key) in Settings.model_fields:
            update[_NATIVE_ALIASES.get(key, key)] = value
        else:
            raise ValidationError(
                f"unknown native_config key '{key}' (known: worker, start_services, max_parallel_tasks, "
                "default_timeout, enable_resource_management, or any Settings field)"
            )
    if update:
        settings = Settings.model_validate({**settings.model_dump(), **update})
    return settings, own


class GleitzeitClient:
    """The Gleitzeit client. Use it as an async context manager.

    ``api_host`` / ``api_port`` default to ``settings.api_host`` / ``api_port`` (127.0.0.1:8000, from
    ``GLEITZEIT_API_HOST`` / ``GLEITZEIT_API_PORT``); ``api_host`` may also be a URL
    (``https://gleitzeit.example.com``); port 443 means https. ``api_token`` defaults to
    ``settings.api_token``. ``native_config`` takes ``worker`` (``auto`` | ``always`` | ``never``),
    ``start_services`` (False: only connect, start nothing), ``max_parallel_tasks``, ``default_timeout``
    (seconds per task attempt), ``enable_resource_management`` (accepted; Temporal's task queues do it)
    and any ``Settings`` field. ``settings`` replaces the environment's settings altogether.
    """

    def __init__(
        self,
        mode: Mode = "auto",
        api_host: str | None = None,
        api_port: int | None = None,
        auto_start_server: bool = True,
        keep_server_running: bool = True,
        native_config: dict[str, Any] | None = None,
        *,
        api_token: str | None = None,
        settings: Settings | None = None,
        timeout: float | None = None,
    ) -> None:
        if mode not in ("auto", "api", "native"):
            raise ValidationError(f"mode must be 'auto', 'api' or 'native', not {mode!r}")
        base = settings or get_settings()
        self.settings, self._native_options = _native_settings(base, native_config or {})
        self.requested_mode: Mode = mode
        self.api_host = api_host or self.settings.api_host
        self.api_port = api_port or self.settings.api_port
        self.api_token = api_token if api_token is not None else self.settings.api_token
        self.auto_start_server = auto_start_server
        self.keep_server_running = keep_server_running
        self.timeout = timeout
        self.backend: NativeBackend | RemoteBackend | None = None
        self.server_process: ApiServerProcess | None = None
        self._start_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        host = self.api_host.rstrip("/")
        if "://" in host:
            return host
        scheme = "https" if self.api_port == 443 else "http"
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"{scheme}://{host}:{self.api_port}"

    @property
    def mode(self) -> str:
        """``native`` or ``api`` once started (``auto`` decides at start), else the requested mode."""
        return self.backend.mode if self.backend is not None else self.requested_mode

    async def __aenter__(self) -> GleitzeitClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect (and bring up what is missing); called by ``async with`` or the first method call."""
        async with self._start_lock:
            if self.backend is not None:
                return
            mode = self.requested_mode
            if mode == "auto":
                mode = "api" if await api_answers(self.api_url) else "native"
            if mode == "api":
                await self._start_api()
            else:
                await self._start_native()

    async def _start_native(self) -> None:
        backend = NativeBackend(
            self.settings,
            worker=self._native_options.get("worker"),
            start_services=bool(self._native_options.get("start_services", True)),
            keep_llm_running=self.keep_server_running,
        )
        await backend.start()
        self.backend = backend

    async def _start_api(self) -> None:
        if not await api_answers(self.api_url):
            local = (
                self.api_host.split("://")[-1].split(":")[0].strip("[]") in _LOCAL or self.api_host in _LOCAL
            )
            if not self.auto_start_server:
                raise ServiceUnavailableError(
                    f"no Gleitzeit API answers at {self.api_url} (start one with `gleitzeit serve`, "
                    "or pass auto_start_server=True)"
                )
            if not local or "://" in self.api_host:
                raise ServiceUnavailableError(
                    f"no Gleitzeit API answers at {self.api_url}; a server is only started automatically "
                    "on this machine (localhost)"
                )
            server_settings = self.settings.model_copy(
                update={"api_host": self.api_host, "api_port": self.api_port, "api_token": self.api_token}
            )
            self.server_process = await start_api_server(server_settings, self.api_host, self.api_port)
            log.info("started the Gleitzeit API server (pid %s) at %s", self.server_process.pid, self.api_url)
        backend = RemoteBackend(self.settings, self.api_url, self.api_token, timeout=self.timeout)
        await backend.start()
        self.backend = backend

    async def close(self) -> None:
        """Release connections; stop the in-process worker, and servers this client started unless
        ``keep_server_running``."""
        backend, self.backend = self.backend, None
        if backend is not None:
            await backend.close()
        if self.server_process is not None and not self.keep_server_running:
            await asyncio.to_thread(self.server_process.stop)
        self.server_process = None

    async def _backend(self) -> NativeBackend | RemoteBackend:
        if self.backend is None:
            await self.start()
        assert self.backend is not None
        return self.backend

    # -- workflows ---------------------------------------------------------------------------------

    async def start_workflow(
        self,
        workflow: str | os.PathLike[str] | dict[str, Any] | WorkflowSpec,
        inputs: dict[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
    ) -> WorkflowRun:
        """Start a workflow (file path, YAML text or dict) and return its handle at once.

        ``handle.result(timeout, on_progress=..., on_log=...)`` waits; ``status()``, ``progress()``,
        ``logs()`` and ``cancel()`` ask once. Invalid workflows raise ``ValidationError`` (every problem
        with its file and line) before anything starts.
        """
        backend = await self._backend()
        if isinstance(backend, RemoteBackend) and isinstance(workflow, WorkflowSpec):
            raise ValidationError(
                "api mode takes a workflow as a path, YAML text or dict, not a WorkflowSpec"
            )
        return await backend.start_workflow(workflow, inputs, workflow_id=workflow_id)  # type: ignore[arg-type]

    async def get_workflow(self, workflow_id: str) -> WorkflowRun:
        """The handle of an existing run (``WorkflowNotFoundError`` for an unknown id)."""
        return await (await self._backend()).get_workflow(workflow_id)

    async def list_workflows(self, limit: int = 20, query: str | None = None) -> list[WorkflowSummary]:
        """Recent runs, newest first (``query``: a Temporal visibility query)."""
        return await (await self._backend()).list_workflows(limit, query)

    async def cancel_workflow(self, workflow_id: str) -> None:
        await (await self.get_workflow(workflow_id)).cancel()

    @property
    def schedules(self) -> Schedules:
        """Pipelines on a schedule (Temporal Schedules): ``create``, ``list``, ``describe``,
        ``trigger``, ``pause``, ``unpause``, ``delete``, ``backfill``; see docs/schedules.md."""
        from gleitzeit.client.schedule_client import Schedules

        return Schedules(self)

    async def approve(
        self,
        workflow_id: str,
        task_id: str,
        approved: bool = True,
        data: Any = None,
        reason: str | None = None,
        by: str | None = None,
    ) -> dict[str, Any]:
        """Answer the waiting ``human/approval`` task ``task_id`` of run ``workflow_id``.

        Approved, the task's result is ``{approved: true, data, by, reason, at}`` (``data`` checked
        against the task's ``schema``); ``approved=False`` fails the task with "rejected by <by>:
        <reason>". Returns the answer as recorded. A wrong task (``NotFoundError``), a task not
        waiting or already answered (``ConflictError``), data that fails the schema or an answer from
        someone not among the task's ``approvers`` (``ValidationError``) are refused: nothing is
        recorded. See docs/waits.md.
        """
        run = await self.get_workflow(workflow_id)
        return await run.approve(task_id, approved, data, reason, by)

    async def plan_resume(
        self,
        workflow_id: str,
        pipeline: str | os.PathLike[str] | dict[str, Any] | None = None,
        from_tasks: Sequence[str] | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> ResumePlan:
        """What ``resume_workflow`` would carry over and run, without starting anything."""
        plan, _ = await (await self._backend()).resume(
            workflow_id, pipeline, from_tasks, inputs, dry_run=True
        )
        return plan

    async def start_resume(
        self,
        workflow_id: str,
        pipeline: str | os.PathLike[str] | dict[str, Any] | None = None,
        from_tasks: Sequence[str] | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> WorkflowRun:
        """Resume an ended run (failed, cancelled, timed out, or completed with ``from_tasks``) as a
        new run ``<id>-resume-<n>`` and return its handle; ``handle.resume_plan`` says what is carried
        and what runs. See ``resume_workflow``."""
        _, run = await (await self._backend()).resume(workflow_id, pipeline, from_tasks, inputs)
        assert run is not None
        return run

    async def resume_workflow(
        self,
        workflow_id: str,
        pipeline: str | os.PathLike[str] | dict[str, Any] | None = None,
        from_tasks: Sequence[str] | None = None,
        inputs: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> WorkflowResults:
        """Run the earlier run's pipeline again, carrying over the result of every task that
        completed in it (or in the resumes before it) and running the rest; returns the results as
        ``run_workflow`` does, each task's ``origin`` ``carried`` or ``ran``.

        ``pipeline`` (a file, YAML text or dict) resumes with an edited pipeline: a task whose
        definition changed (method, parameters, inputs it reads, its files' content) runs again with
        its dependents. ``from_tasks`` runs those tasks and their dependents again even if they
        completed; ``inputs`` override the earlier inputs and re-run the tasks reading them. A run
        still running raises ``ConflictError``; an unknown id (or one whose history is gone)
        ``WorkflowNotFoundError``; ``from_tasks`` naming no task ``ValidationError``. A batch run
        starts again with its input, skipping files whose results exist.
        """
        run = await self.start_resume(workflow_id, pipeline, from_tasks, inputs)
        return WorkflowResults.from_execution(await run.result(timeout))

    async def run_workflow(
        self,
        workflow: str | os.PathLike[str] | dict[str, Any],
        inputs: dict[str, Any] | None = None,
        watch: bool = False,
        *,
        timeout: float | None = None,
        max_runs: int | None = None,
        watch_timeout: float | None = None,
        on_result: Callable[[WorkflowResults | GleitzeitError], Any] | None = None,
    ) -> WorkflowResults:
        """Run a workflow and return ``{task_id: result dict}`` (e.g. ``result["a"]["response"]``).

        The returned dict also has ``.outputs`` (the workflow's ``outputs:``), ``.workflow_id``,
        ``.status`` and ``.execution`` (the full ``WorkflowExecution``). A failed task raises
        ``TaskExecutionError``; an invalid workflow ``ValidationError``; ``timeout`` bounds the wait.

        ``watch=True`` (a file only) runs again whenever the file changes and returns the last results
        after ``max_runs`` runs or ``watch_timeout`` seconds; a failing re-run is logged (and passed to
        ``on_result``) and watching goes on. Without either limit it watches until interrupted, except
        when stdin is not a terminal (scripts, CI): then nobody can edit the file, so it returns after
        the first run with a warning.
        """
        stamp = 0
        path: Path | None = None
        if watch:
            if isinstance(workflow, Mapping) or not os.path.isfile(workflow):
                raise ValidationError("watch=True needs a workflow file path to watch")
            path = Path(os.fspath(workflow))
            # Taken before the first run: an edit made while it runs triggers the next one.
            stamp = path.stat().st_mtime_ns
        first = await self._run_once(workflow, inputs, timeout)
        if on_result is not None:
            on_result(first)
        if path is None:
            return first
        if max_runs is None and watch_timeout is None and not sys.stdin.isatty():
            log.warning("run_workflow(watch=True): stdin is not a terminal; returning after the first run")
            return first
        return await self._watch(path, stamp, inputs, timeout, first, max_runs, watch_timeout, on_result)

    async def _run_once(
        self, workflow: Any, inputs: dict[str, Any] | None, timeout: float | None
    ) -> WorkflowResults:
        run = await self.start_workflow(workflow, inputs)
        return WorkflowResults.from_execution(await run.result(timeout))

    async def _watch(
        self,
        path: Path,
        stamp: int,
        inputs: dict[str, Any] | None,
        timeout: float | None,
        last: WorkflowResults,
        max_runs: int | None,
        watch_timeout: float | None,
        on_result: Callable[[WorkflowResults | GleitzeitError], Any] | None,
    ) -> WorkflowResults:
        deadline = None if watch_timeout is None else time.monotonic() + watch_timeout
        runs = 1
        while (max_runs is None or runs < max_runs) and (deadline is None or time.monotonic() < deadline):
            await asyncio.sleep(WATCH_INTERVAL)
            try:
                now = path.stat().st_mtime_ns
            except OSError:
                continue  # an editor replacing the file: look again
            if now == stamp:
                continue
            stamp = now
            runs += 1
            try:
                last = await self._run_once(str(path), inputs, timeout)
                outcome: WorkflowResults | GleitzeitError = last
            except GleitzeitError as exc:
                log.warning("re-run of %s failed: %s", path, exc)
                outcome = exc
            if on_result is not None:
                on_result(outcome)
        return last

    # -- LLM ---------------------------------------------------------------------------------------

    async def chat(
        self,
        prompt: str,
        model: str = DEFAULT_CHAT_MODEL,
        temperature: float = 0.7,
        max_tokens: int | None = None,
        system: str | None = None,
        **kwargs: Any,
    ) -> str:
        """One chat turn, run durably (a one-task ``llm/chat`` workflow); returns the answer text.

        ``model`` defaults to the seed's ``llama3.2``; when the LLM server lacks that name,
        ``settings.default_model`` (``smollm2:135m`` on the embedded server) is used instead. Any
        other model is used as named: a missing one raises ``ModelNotFoundError``. ``**kwargs`` are
        Ollama options (``top_p``, ``seed``, ``stop``, ``num_ctx``, ``format`` ...).
        """
        options = {"temperature": temperature, "max_tokens": max_tokens, **kwargs}
        return await (await self._backend()).chat(chat_messages_for(prompt, system), model, options)

    async def chat_messages(
        self, messages: list[dict[str, str]], model: str = DEFAULT_CHAT_MODEL, **kwargs: Any
    ) -> str:
        """A chat turn after a message history (``[{"role", "content"}, ...]``); durable like ``chat``."""
        return await (await self._backend()).chat(messages, model, kwargs)

    async def chat_stream(
        self,
        prompt: str,
        model: str = DEFAULT_CHAT_MODEL,
        temperature: float = 0.7,
        max_tokens: int | None = None,
        system: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[str]:
        """Yield the answer in text chunks as the model writes them.

        Streaming and durability conflict (a replayed workflow cannot re-stream), so this is the one
        method that is NOT durable: in native mode it streams straight from the LLM server, in api mode
        as NDJSON from the REST API (which streams from its LLM server). Nothing is recorded in
        Temporal and nothing is retried; use ``chat`` when the answer must survive a crash.
        """
        backend = await self._backend()
        options = {"temperature": temperature, "max_tokens": max_tokens, **kwargs}
        async for chunk in backend.chat_stream(chat_messages_for(prompt, system), model, options):
            yield chunk

    async def list_models(self) -> list[str]:
        """Model names the LLM server has (as Ollama's ``/api/tags`` lists them)."""
        return await (await self._backend()).list_models()

    async def describe_models(self) -> list[ModelInfo]:
        """The LLM server's models with their sizes and capabilities (``completion``, ``embedding``,
        ``vision`` ...), as ``gleitzeit llm models`` shows them."""
        return await (await self._backend()).describe_models()

    # -- batch -------------------------------------------------------------------------------------

    async def _batch_input(
        self,
        backend: NativeBackend | RemoteBackend,
        directory: str,
        pattern: str,
        prompt: str | None,
        model: str,
        max_concurrent: int,
        output_dir: str | None,
        template: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> BatchInput:
        from gleitzeit.dsl.methods import canonical_method
        from gleitzeit.dsl.params import accepted_keys

        fields = {k: kwargs.pop(k) for k in list(kwargs) if k in _BATCH_FIELDS}
        template = dict(template or {})
        method_name = str(template.pop("method", "llm/chat"))
        method = canonical_method(method_name) or method_name
        params = dict(template.pop("parameters", None) or template.pop("params", None) or {})
        for key in ("timeout", "max_attempts", "retry"):
            if key in template:
                fields.setdefault(key, template.pop(key))
        template.pop("id", None)
        template.pop("name", None)
        if template:
            raise ValidationError(
                f"unknown template key(s) {sorted(template)} (known: method, parameters, timeout, retry)"
            )
        if method.startswith("llm/"):
            if prompt is not None or not any(k in params for k in ("messages", "prompt")):
                text = prompt or DEFAULT_BATCH_PROMPT
                if method == "llm/generate":
                    params["prompt"] = text
                else:
                    params["messages"] = [{"role": "user", "content": text}]
            params["model"] = await backend.resolve_model(str(params.get("model") or model))
        schema = accepted_keys(method)
        unknown = [k for k in kwargs if schema and k not in schema]
        if unknown:
            raise ValidationError(
                f"unknown batch option(s) {unknown} for {method} (options: {', '.join(sorted(schema))}; "
                f"batch settings: {', '.join(_BATCH_FIELDS)})"
            )
        params.update({k: v for k, v in kwargs.items() if v is not None})
        try:
            return BatchInput(
                directory=directory,
                pattern=pattern,
                method=method,
                parameters=params,
                max_concurrent=max_concurrent,
                output_dir=output_dir,
                **fields,
            )
        except ValueError as exc:
            raise ValidationError(f"invalid batch: {exc}") from None

    async def start_batch(
        self,
        directory: str,
        pattern: str = "*",
        prompt: str | None = None,
        model: str = DEFAULT_CHAT_MODEL,
        max_concurrent: int = 5,
        output_dir: str | None = None,
        template: dict[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
        **kwargs: Any,
    ) -> WorkflowRun:
        """Start a durable batch (same arguments as ``batch_process``) and return its handle."""
        backend = await self._backend()
        inp = await self._batch_input(
            backend, directory, pattern, prompt, model, max_concurrent, output_dir, template, kwargs
        )
        return await backend.start_batch(inp, workflow_id=workflow_id)

    async def batch_process(
        self,
        directory: str,
        pattern: str = "*",
        prompt: str | None = None,
        model: str = DEFAULT_CHAT_MODEL,
        max_concurrent: int = 5,
        output_dir: str | None = None,
        template: dict[str, Any] | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        **kwargs: Any,
    ) -> BatchResults:
        """Run ``prompt`` (or ``template``, a task's method and parameters) over every file of
        ``directory`` matching ``pattern``; returns ``{file name: result text}``.

        Durable: a crash halfway loses nothing, the batch resumes where it was (one Temporal workflow,
        ``max_concurrent`` files at a time). With ``output_dir`` each file's result is also written to
        ``<output_dir>/<file>.json``. Files that failed after their retries are not in the dict but in
        its ``.errors``; ``.workflow_id`` names the run. ``**kwargs`` are model options
        (``temperature``, ``max_tokens`` ...) or batch settings (``timeout``, ``max_attempts``, ``name``).
        """
        run = await self.start_batch(
            directory, pattern, prompt, model, max_concurrent, output_dir, template, **kwargs
        )
        execution = await run.result(on_progress=on_progress)
        backend = await self._backend()
        results = await backend.batch_results(execution)
        errors = {name: r.error or "failed" for name, r in execution.results.items() if r.error}
        return BatchResults(results, errors=errors, execution=execution)

    # -- single tasks ------------------------------------------------------------------------------

    async def execute_task(self, task: Task | dict[str, Any]) -> TaskResult:
        """Run one task (the YAML task shape) durably; ``result.response`` is its main value.

        A failing task raises ``TaskExecutionError`` unless it says ``on_error: continue`` (then the
        ``TaskResult`` has ``status == "failed"`` and ``error``).
        """
        return await (await self._backend()).execute_task(task)

    async def execute_python_script(
        self,
        script: str,
        args: dict[str, Any] | None = None,
        timeout: int | float = 30,
        *,
        outputs_dir: ScriptOutputsDir = None,
    ) -> Any:
        """Run a Python script durably (Docker sandbox, or the local executor) with ``args`` as its JSON
        context; returns its JSON result. A failing script raises ``ScriptError``.

        The script may write files in ``outputs_dir`` (also its working directory and
        ``GLEITZEIT_OUTPUTS_DIR``), owned by the worker's user: by default the script's own directory,
        so ``open("report.json", "w")`` lands next to it; a path for another directory (inside the
        file roots); ``False`` for none (everything read-only).
        """
        return await (await self._backend()).execute_python_script(script, args, timeout, outputs_dir)

    # -- files -------------------------------------------------------------------------------------

    async def upload_files(
        self, paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
    ) -> list[UploadedFile]:
        """Store local files where the server's pipelines can read them; one ``UploadedFile`` each.

        Pass ``uploaded.path`` as a workflow input (``inputs={"doc": uploaded.path}``). Api mode
        sends them in one multipart ``POST /v1/files`` (limits: ``GLEITZEIT_UPLOAD_MAX_FILE_BYTES``,
        ``GLEITZEIT_UPLOAD_MAX_REQUEST_BYTES``, else ``PayloadTooLargeError``); native mode copies them
        into ``<data_dir>/uploads``. Content-addressed: the same bytes are stored once. All or none:
        a refused file stores none of them.
        """
        many = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        return await (await self._backend()).upload_files(many)

    async def get_uploaded_file(self, file_id: str) -> list[UploadedFile]:
        """What is stored under an upload's id (its SHA-256): one entry per name it was sent as."""
        return await (await self._backend()).uploaded_file(file_id)

    async def list_run_files(self, workflow_id: str) -> RunFiles:
        """The files a run wrote to its outputs directories (python tasks' ``outputs_dir``, a batch's
        ``output_dir``), each with its path relative to its directory."""
        return await (await self._backend()).run_files(workflow_id)

    async def download(
        self,
        workflow_id: str,
        path: str,
        dest: str | os.PathLike[str] | None = None,
        *,
        task: str | None = None,
    ) -> Path:
        """Save the file ``path`` (relative to the run's outputs directory, as ``list_run_files`` shows
        it) to ``dest`` (a file, or a directory to put it in; default: the current directory); returns
        where it went. ``task`` picks the directory when several tasks have one. A path leaving the
        directory raises ``PermissionDeniedError``, a missing one ``NotFoundError``.
        """
        return await (await self._backend()).download(workflow_id, path, dest, task=task)

    # -- status ------------------------------------------------------------------------------------

    async def get_status(self) -> dict[str, Any]:
        """``{"mode", "temporal", "workers", "ollama", "docker"}`` (api mode adds ``"api"``); each part
        has ``available`` and details, e.g. ``status["ollama"]["available"]``."""
        return await (await self._backend()).get_status()

    async def worker_health(self, urls: Sequence[str]) -> list[dict[str, Any]]:
        """The health reports of the workers serving ``/healthz`` at ``urls`` (``gleitzeit worker
        --metrics-port``): ``healthy``, ``polling``, ``slots`` per worker type, ``loop_lag_seconds``;
        a worker that does not answer comes back with ``healthy: False`` and ``error``."""
        from gleitzeit.worker.health import fetch_worker_health

        return await fetch_worker_health(urls)
