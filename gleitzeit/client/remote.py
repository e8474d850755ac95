"""Api mode: the client's methods over the REST API (httpx, bearer token).

Answers are the same models as in native mode; failures come back as the same
``gleitzeit.core.errors`` classes (the server sends them as ``{"error": {...}}``, see ``wire``).
Without such an envelope the status decides: 401 ``AuthenticationError``, 403
``PermissionDeniedError``, 404 ``NotFoundError``, 413 ``PayloadTooLargeError``, 422
``ValidationError``, 502/503/504 ``ServiceUnavailableError``, anything else ``APIError``.
Long waits are long polls of at most 30 s each, so no single request outlives a proxy's timeout.

Over ~400 lines because it is one class with one short method per client method, as ``native.py``
is; the two read side by side.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from gleitzeit.client.handles import Progress, WorkflowRun
from gleitzeit.client.models import ModelInfo
from gleitzeit.client.specs import DEFAULT_CHAT_MODEL, ScriptOutputsDir
from gleitzeit.client.wire import error_from_dict
from gleitzeit.config import Settings
from gleitzeit.contracts.batch import BatchInput, BatchOptions, BatchProgress
from gleitzeit.contracts.dag import WorkflowProgress
from gleitzeit.core.errors import (
    APIError,
    AuthenticationError,
    GleitzeitError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ServiceUnavailableError,
    ValidationError,
)
from gleitzeit.core.models import (
    LogEvent,
    ResumePlan,
    RunFiles,
    Task,
    TaskResult,
    UploadedFile,
    WorkflowExecution,
    WorkflowStatus,
    WorkflowSummary,
)

__all__ = ["RemoteBackend", "RemoteRun", "error_for_response", "pipeline_body"]

CONNECT_TIMEOUT = 10.0
# The server answers a long poll within 30 s; leave room for a slow network.
POLL_SLACK = 30.0


def error_for_response(response: httpx.Response) -> GleitzeitError:
    """The Gleitzeit error an unsuccessful answer stands for."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return error_from_dict(body["error"], status_code=status)
    text = response.text[:500] if body is None else json.dumps(body)[:500]
    where = f"{response.request.method} {response.request.url.path}"
    if status == 401:
        return AuthenticationError(f"{where}: the API refused the token ({text})")
    if status == 403:
        return PermissionDeniedError(f"{where}: refused ({text})")
    if status == 404:
        return NotFoundError(f"{where}: not found ({text})")
    if status == 413:
        return PayloadTooLargeError(f"{where}: too large ({text})")
    if status == 422:
        return ValidationError(f"{where}: invalid request ({text})")
    if status in (502, 503, 504):
        return ServiceUnavailableError(f"{where}: the API answered {status} ({text})")
    return APIError(f"{where}: the API answered {status} ({text})", status_code=status, body=body)


def _local_path(path: str | os.PathLike[str]) -> str:
    """An absolute path when the file exists here (the usual case: the server is on this machine)."""
    p = Path(os.fspath(path)).expanduser()
    return str(p.resolve()) if p.exists() else os.fspath(path)


def _looks_like_path(source: str) -> bool:
    if "\n" in source:
        return False
    return source.strip().lower().endswith((".yaml", ".yml", ".json")) or os.path.isfile(source)


class RemoteBackend:
    """The client's methods against ``base_url``; ``start()`` opens the HTTP client."""

    mode = "api"

    def __init__(
        self, settings: Settings, base_url: str, token: str | None, *, timeout: float | None = None
    ) -> None:
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self.token = token
        read = timeout if timeout is not None else max(settings.llm_timeout, settings.script_timeout) + 60.0
        self._timeout = httpx.Timeout(read, connect=CONNECT_TIMEOUT)
        self._http: httpx.AsyncClient | None = None
        self._models: tuple[list[str], str] | None = None

    async def start(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=self._timeout)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            raise ServiceUnavailableError("the client is closed (use `async with GleitzeitClient(...)`)")
        return self._http

    async def request(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 202), **kwargs: Any
    ) -> httpx.Response:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            from gleitzeit.core.errors import TimeoutError

            raise TimeoutError(f"{method} {self.base_url}{path} timed out: {exc!r}") from None
        except httpx.TransportError as exc:
            raise ServiceUnavailableError(
                f"the Gleitzeit API at {self.base_url} does not answer ({exc}); start it with `gleitzeit serve`"
            ) from None
        if response.status_code not in ok:
            raise error_for_response(response)
        return response

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        return (await self.request("GET", path, **kwargs)).json()

    async def post_json(self, path: str, body: Any, **kwargs: Any) -> Any:
        return (await self.request("POST", path, json=body, **kwargs)).json()

    # -- workflows ---------------------------------------------------------------------------------

    def _run(self, info: Mapping[str, Any]) -> RemoteRun:
        return RemoteRun(
            self,
            str(info["workflow_id"]),
            info.get("run_id"),
            info.get("web_url"),
            info.get("kind", "workflow"),
        )

    async def start_workflow(
        self,
        workflow: str | os.PathLike[str] | Mapping[str, Any],
        inputs: Mapping[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
    ) -> RemoteRun:
        body: dict[str, Any] = {"inputs": dict(inputs or {}), "workflow_id": workflow_id}
        body.update(pipeline_body(workflow))
        return self._run(await self.post_json("/v1/workflows", body))

    async def resume(
        self,
        workflow_id: str,
        pipeline: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        from_tasks: Sequence[str] | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        dry_run: bool = False,
    ) -> tuple[ResumePlan, RemoteRun | None]:
        """POST /v1/workflows/{id}/resume (the pipeline sent as start_workflow sends one)."""
        body: dict[str, Any] = {
            "inputs": dict(inputs or {}),
            "from_tasks": list(from_tasks or []),
            "dry_run": dry_run,
        }
        if isinstance(pipeline, Mapping):
            body.update(spec=dict(pipeline), base_dir=os.getcwd())
        elif isinstance(pipeline, os.PathLike) or (isinstance(pipeline, str) and _looks_like_path(pipeline)):
            body["path"] = _local_path(pipeline)
        elif isinstance(pipeline, str):
            body.update(yaml=pipeline, base_dir=os.getcwd())
        answer = await self.post_json(f"/v1/workflows/{quote(workflow_id)}/resume", body)
        plan = ResumePlan.model_validate(answer["plan"])
        if answer.get("run") is None:
            return plan, None
        run = self._run(answer["run"])
        run.resume_plan = plan
        return plan, run

    async def get_workflow(self, workflow_id: str) -> RemoteRun:
        return self._run(await self.get_json(f"/v1/workflows/{workflow_id}"))

    async def list_workflows(self, limit: int = 20, query: str | None = None) -> list[WorkflowSummary]:
        params: dict[str, Any] = {"limit": limit}
        if query:
            params["query"] = query
        return [
            WorkflowSummary.model_validate(x) for x in await self.get_json("/v1/workflows", params=params)
        ]

    # -- one-task methods --------------------------------------------------------------------------

    async def _model_list(self) -> tuple[list[str], str]:
        if self._models is None:
            answer = await self.get_json("/v1/models")
            # OpenAI's list shape: {"object": "list", "data": [{"id": ...}], "default_model": ...}
            self._models = ([str(m["id"]) for m in answer["data"]], str(answer["default_model"]))
        return self._models

    async def resolve_model(self, model: str | None) -> str:
        from gleitzeit.client.native import normalise_model_name

        if model and model != DEFAULT_CHAT_MODEL:
            return model
        try:
            names, default = await self._model_list()
        except GleitzeitError:
            return model or self.settings.default_model
        if model and any(normalise_model_name(n) == normalise_model_name(model) for n in names):
            return model
        return default

    def _chat_body(self, messages: Any, model: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"messages": messages, "model": model, "temperature": None, "options": dict(options)}

    async def chat(self, messages: Any, model: str | None, options: Mapping[str, Any]) -> str:
        answer = await self.post_json("/v1/chat", self._chat_body(messages, model, options))
        return str(answer["response"])

    async def chat_stream(
        self, messages: Any, model: str | None, options: Mapping[str, Any]
    ) -> AsyncIterator[str]:
        body = self._chat_body(messages, model, options)
        try:
            async with self.http.stream("POST", "/v1/chat/stream", json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise error_for_response(response)
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    if "chunk" in item:
                        yield str(item["chunk"])
                    elif "error" in item:
                        raise error_from_dict(item["error"])
                    elif item.get("done"):
                        return
        except httpx.TransportError as exc:
            raise ServiceUnavailableError(
                f"the Gleitzeit API at {self.base_url} dropped the stream: {exc}"
            ) from None

    async def execute_task(self, task: Task | Mapping[str, Any]) -> TaskResult:
        raw = task.model_dump(mode="json", exclude_none=True) if isinstance(task, Task) else dict(task)
        return TaskResult.model_validate(await self.post_json("/v1/tasks", {"task": raw}))

    async def execute_python_script(
        self,
        script: str | os.PathLike[str],
        args: Mapping[str, Any] | None = None,
        timeout: float = 30,
        outputs_dir: ScriptOutputsDir = None,
    ) -> Any:
        body: dict[str, Any] = {
            "script": _local_path(script),
            "args": dict(args) if args is not None else None,
            "timeout": timeout,
        }
        if outputs_dir is False:
            body["outputs_dir"] = False
        elif outputs_dir is not None:  # None: the server takes the script's directory
            body["outputs_dir"] = str(Path(outputs_dir).expanduser().resolve())
        return (await self.post_json("/v1/scripts", body))["result"]

    # -- batch -------------------------------------------------------------------------------------

    async def start_batch(self, inp: BatchInput, *, workflow_id: str | None = None) -> RemoteRun:
        # The REST API's BatchRequest is BatchOptions plus the workflow id.
        body = {
            **inp.model_dump(include=set(BatchOptions.model_fields)),
            "directory": _local_path(inp.directory),
            "output_dir": str(Path(inp.output_dir).expanduser().resolve()) if inp.output_dir else None,
            "workflow_id": workflow_id,
        }
        return self._run(await self.post_json("/v1/batch", body))

    async def batch_results(self, execution: WorkflowExecution) -> dict[str, Any]:
        from gleitzeit.batch.results import read_batch_results

        inline = read_batch_results(
            execution.model_copy(update={"details": {**execution.details, "output_dir": None}})
        )
        if len(inline) >= int(execution.details.get("completed") or 0):
            return inline
        answer = await self.get_json(f"/v1/batch/{execution.workflow_id}/results")
        return dict(answer["results"])

    # -- files -------------------------------------------------------------------------------------

    async def upload_files(self, paths: Sequence[str | os.PathLike[str]]) -> list[UploadedFile]:
        """POST /v1/files, all files in one multipart request (httpx reads each file in chunks)."""
        with contextlib.ExitStack() as stack:
            parts = []
            for raw in paths:
                source = Path(os.fspath(raw)).expanduser()
                if not source.is_file():
                    raise NotFoundError(f"file to upload '{os.fspath(raw)}' not found (or not a file)")
                handle = stack.enter_context(source.open("rb"))
                parts.append(("files", (source.name, handle, "application/octet-stream")))
            if not parts:
                return []
            answer = (await self.request("POST", "/v1/files", files=parts)).json()
        return [UploadedFile.model_validate(x) for x in answer]

    async def uploaded_file(self, file_id: str) -> list[UploadedFile]:
        return [UploadedFile.model_validate(x) for x in await self.get_json(f"/v1/files/{quote(file_id)}")]

    async def run_files(self, workflow_id: str) -> RunFiles:
        return RunFiles.model_validate(await self.get_json(f"/v1/workflows/{quote(workflow_id)}/files"))

    async def download(
        self,
        workflow_id: str,
        path: str,
        dest: str | os.PathLike[str] | None = None,
        *,
        task: str | None = None,
    ) -> Path:
        """GET /v1/workflows/{id}/files/{path}, streamed to ``dest`` (through a ``.part`` file)."""
        from gleitzeit.client.outputs import download_target, relative_path

        # Checked here too: an HTTP client folds '..' out of a URL before the server could refuse it.
        url = f"/v1/workflows/{quote(workflow_id)}/files/{quote(relative_path(path).as_posix())}"
        params = {"task": task} if task else None
        target = download_target(dest, path)
        part = target.with_name(target.name + ".part")
        try:
            async with self.http.stream("GET", url, params=params) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise error_for_response(response)
                with part.open("wb") as out:
                    async for chunk in response.aiter_bytes():
                        out.write(chunk)
        except httpx.TransportError as exc:
            part.unlink(missing_ok=True)
            raise ServiceUnavailableError(f"the download from {self.base_url}{url} failed: {exc}") from None
        os.replace(part, target)
        return target

    # -- utilities ---------------------------------------------------------------------------------

    async def list_models(self) -> list[str]:
        self._models = None
        return (await self._model_list())[0]

    async def describe_models(self) -> list[ModelInfo]:
        answer = await self.get_json("/v1/models?details=true")
        return [ModelInfo.model_validate(m) for m in answer.get("details") or []]

    async def get_status(self) -> dict[str, Any]:
        try:
            answer = dict(await self.get_json("/v1/status"))
        except (ServiceUnavailableError, APIError, AuthenticationError) as exc:
            unavailable = {"available": False, "error": f"the API could not be asked: {exc}"}
            return {
                "mode": self.mode,
                "api": {"available": False, "url": self.base_url, "error": str(exc)},
                "temporal": dict(unavailable),
                "workers": dict(unavailable),
                "ollama": dict(unavailable),
                "docker": dict(unavailable),
            }
        answer["mode"] = self.mode
        answer.setdefault("api", {})["url"] = self.base_url
        return answer


def pipeline_body(workflow: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A pipeline in a request body: ``path`` (a file the server reads), ``yaml`` or ``spec``."""
    if isinstance(workflow, Mapping):
        return {"spec": dict(workflow), "base_dir": os.getcwd()}
    if isinstance(workflow, os.PathLike) or (isinstance(workflow, str) and _looks_like_path(workflow)):
        return {"path": _local_path(workflow)}
    if isinstance(workflow, str):
        return {"yaml": workflow, "base_dir": os.getcwd()}
    raise ValidationError(
        f"in api mode a workflow is a file path, YAML text or a dict, not {type(workflow).__name__}"
    )


class RemoteRun(WorkflowRun):
    """A run handle over the REST API."""

    def __init__(
        self,
        backend: RemoteBackend,
        workflow_id: str,
        run_id: str | None = None,
        web_url: str | None = None,
        kind: str = "workflow",
    ) -> None:
        super().__init__(workflow_id, run_id, web_url)
        self.backend = backend
        self.kind = kind

    async def status(self) -> WorkflowStatus:
        info = await self.backend.get_json(f"/v1/workflows/{self.workflow_id}")
        return WorkflowStatus(info["status"])

    async def waiting_for_worker(self) -> str | None:
        info = await self.backend.get_json(f"/v1/workflows/{self.workflow_id}")
        return str(info.get("message") or "waiting for a worker") if info.get("waiting_for_worker") else None

    async def progress(self) -> Progress:
        answer = await self.backend.get_json(f"/v1/workflows/{self.workflow_id}/progress")
        if answer.get("kind") == "batch":
            return BatchProgress.model_validate(answer["progress"])
        return WorkflowProgress.model_validate(answer["progress"])

    async def logs(self, limit: int = 2000) -> list[LogEvent]:
        answer = await self.backend.get_json(
            f"/v1/workflows/{self.workflow_id}/logs", params={"limit": limit}
        )
        return [LogEvent.model_validate(x) for x in answer]

    async def cancel(self) -> None:
        await self.backend.request("POST", f"/v1/workflows/{self.workflow_id}/cancel")

    async def approve(
        self,
        task_id: str,
        approved: bool = True,
        data: Any = None,
        reason: str | None = None,
        by: str | None = None,
    ) -> dict[str, Any]:
        body = {"approved": approved, "data": data, "reason": reason, "by": by}
        answer = await self.backend.post_json(
            f"/v1/workflows/{self.workflow_id}/tasks/{quote(task_id, safe='')}/approval", body
        )
        return dict(answer)

    async def _wait_result(self, wait: float) -> WorkflowExecution | None:
        response = await self.backend.request(
            "GET",
            f"/v1/workflows/{self.workflow_id}/result",
            params={"wait": round(wait, 3)},
            timeout=httpx.Timeout(wait + POLL_SLACK, connect=CONNECT_TIMEOUT),
        )
        if response.status_code == 202:
            return None
        return WorkflowExecution.model_validate(response.json())
