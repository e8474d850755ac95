"""``NativeRun``: a run handle talking to Temporal directly (native mode, and the REST server)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from gleitzeit.client.convert import (
    events_from_history,
    execution_from_batch,
    execution_from_dag,
    status_from_temporal,
)
from gleitzeit.client.failures import translate_workflow_failure
from gleitzeit.client.handles import Progress, WorkflowRun
from gleitzeit.contracts.batch import BatchInput, BatchResult
from gleitzeit.contracts.dag import ApprovalAnswer, DagInput, DagResult, WorkflowProgress
from gleitzeit.core.errors import (
    ConflictError,
    GleitzeitError,
    TemporalUnavailableError,
    WorkflowExecutionError,
    WorkflowNotFoundError,
)
from gleitzeit.core.models import LogEvent, WorkflowExecution, WorkflowStatus

__all__ = ["DEFAULT_LOG_LIMIT", "NativeRun", "rpc_error"]

# Log events returned by logs(): the last ones (a batch of 100,000 files has ~400,000 events).
DEFAULT_LOG_LIMIT = 2000


def rpc_error(exc: RPCError, workflow_id: str) -> GleitzeitError:
    """A Temporal RPC failure in Gleitzeit's tree."""
    if exc.status == RPCStatusCode.NOT_FOUND:
        return WorkflowNotFoundError(f"no workflow with id '{workflow_id}' ({exc.message})")
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return TemporalUnavailableError(f"Temporal did not answer about '{workflow_id}': {exc.message}")
    return WorkflowExecutionError(
        f"Temporal refused a request about '{workflow_id}': {exc.message}", workflow_id=workflow_id
    )


class NativeRun(WorkflowRun):
    """A run started or found through a Temporal client; ``kind`` is ``workflow`` or ``batch``.

    ``client`` (the one that made ``handle``) lets ``waiting_for_worker`` look at the task queue.
    """

    def __init__(
        self,
        handle: WorkflowHandle[Any, Any],
        kind: str = "workflow",
        web_url: str | None = None,
        *,
        client: Client | None = None,
        data_dir: Path | None = None,
    ) -> None:
        super().__init__(handle.id, handle.result_run_id or handle.run_id, web_url)
        self.handle = handle
        self.kind = kind
        self.client = client
        # Where this client reads offloaded results (<data_dir>/results, shared with the workers).
        self.data_dir = data_dir
        self._fetch: asyncio.Task[WorkflowExecution] | None = None

    async def status(self) -> WorkflowStatus:
        try:
            description = await self.handle.describe()
        except RPCError as exc:
            raise rpc_error(exc, self.workflow_id) from None
        return status_from_temporal(description.status)

    async def waiting_for_worker(self) -> str | None:
        from gleitzeit.services.liveness import run_waiting_for_worker

        if self.client is None:
            return None
        try:
            description = await self.handle.describe()
        except RPCError as exc:
            raise rpc_error(exc, self.workflow_id) from None
        return await run_waiting_for_worker(self.client, description)

    async def progress(self) -> Progress:
        from gleitzeit.batch.workflow import BatchWorkflow
        from gleitzeit.workflows.dag import DagWorkflow

        try:
            if self.kind == "batch":
                return await self.handle.query(BatchWorkflow.progress)
            return await self.handle.query(DagWorkflow.progress)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise rpc_error(exc, self.workflow_id) from None
            failure = exc
        except Exception as exc:  # a query the worker could not answer
            failure = exc  # type: ignore[assignment]
        # A closed run whose worker is gone cannot answer queries; its result still tells everything.
        if self.kind != "batch" and await self.status() != WorkflowStatus.RUNNING:
            with contextlib.suppress(Exception):
                result = await self.handle.result()
                if isinstance(result, DagResult):
                    done = {
                        s: sum(1 for t in result.tasks if t.state == s)
                        for s in ("completed", "failed", "skipped")
                    }
                    return WorkflowProgress(
                        workflow_id=result.workflow_id,
                        name=result.name,
                        status=result.status,
                        total=len(result.tasks),
                        tasks=result.tasks,
                        **done,
                    )
        raise WorkflowExecutionError(
            f"cannot read the progress of '{self.workflow_id}' (no worker answered: {failure})",
            workflow_id=self.workflow_id,
        )

    async def logs(self, limit: int | None = DEFAULT_LOG_LIMIT) -> list[LogEvent]:
        try:
            history = [e async for e in self.handle.fetch_history_events()]
        except RPCError as exc:
            raise rpc_error(exc, self.workflow_id) from None
        progress: Any = None
        if self.kind != "batch":
            with contextlib.suppress(Exception):
                progress = await asyncio.wait_for(self.progress(), 5.0)
        return events_from_history(
            history, progress if isinstance(progress, WorkflowProgress) else None, limit
        )

    async def input(self) -> DagInput | BatchInput:
        """What the run was started with (its first history event): the spec and inputs, or the batch."""
        expected: type[DagInput | BatchInput] = BatchInput if self.kind == "batch" else DagInput
        try:
            async for event in self.handle.fetch_history_events():
                payloads = event.workflow_execution_started_event_attributes.input.payloads
                # The SDK exposes no public converter on a handle; this is the one the client was built with.
                converter = self.handle._client.data_converter
                [value] = await converter.decode(payloads, [expected])
                return value
        except RPCError as exc:
            raise rpc_error(exc, self.workflow_id) from None
        raise WorkflowNotFoundError(f"workflow '{self.workflow_id}' has no history")

    async def cancel(self) -> None:
        try:
            description = await self.handle.describe()
            if status_from_temporal(description.status) != WorkflowStatus.RUNNING:
                return  # already over: nothing to cancel
            await self.handle.cancel()
        except RPCError as exc:
            raise rpc_error(exc, self.workflow_id) from None

    async def approve(
        self,
        task_id: str,
        approved: bool = True,
        data: Any = None,
        reason: str | None = None,
        by: str | None = None,
    ) -> dict[str, Any]:
        from gleitzeit.client.approvals import send_approval

        if self.kind == "batch":
            raise ConflictError(f"'{self.workflow_id}' is a batch run: it has no approvals")
        answer = ApprovalAnswer(task_id=task_id, approved=approved, data=data, reason=reason, by=by)
        return await send_approval(self.handle, answer)

    async def _result_now(self) -> WorkflowExecution:
        try:
            result = await self.handle.result()
        except WorkflowFailureError as exc:
            if self.kind == "batch":
                from gleitzeit.client.batch import translate_batch_failure

                raise translate_batch_failure(exc, self.workflow_id) from None
            raise translate_workflow_failure(exc, self.workflow_id) from None
        except RPCError as exc:
            raise rpc_error(exc, self.workflow_id) from None
        if isinstance(result, BatchResult):
            return execution_from_batch(result, run_id=self.run_id, web_url=self.web_url)
        if isinstance(result, DagResult):
            return execution_from_dag(
                result, run_id=self.run_id, web_url=self.web_url, data_dir=self.data_dir
            )
        raise WorkflowExecutionError(
            f"workflow '{self.workflow_id}' is not a Gleitzeit pipeline (its result is {type(result).__name__})",
            workflow_id=self.workflow_id,
        )

    async def _wait_result(self, wait: float) -> WorkflowExecution | None:
        if self._fetch is None:
            self._fetch = asyncio.ensure_future(self._result_now())
        done, _ = await asyncio.wait({self._fetch}, timeout=wait)
        if not done:
            return None
        fetch, self._fetch = self._fetch, None  # a later result() asks again (cheap for a closed run)
        return fetch.result()

    def _abandon(self) -> None:
        if self._fetch is not None:
            self._fetch.cancel()
            self._fetch = None

    async def result(self, timeout: float | None = None, **kwargs: Any) -> WorkflowExecution:
        try:
            return await super().result(timeout, **kwargs)
        finally:
            self._abandon()
