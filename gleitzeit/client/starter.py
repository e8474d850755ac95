"""Start a pipeline on Temporal and wait for it: ids, summaries, search attributes, error translation."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from gleitzeit.client.failures import translate_workflow_failure
from gleitzeit.client.resume_plan import RESUMED_FROM_MEMO, task_fingerprints
from gleitzeit.config import Settings
from gleitzeit.contracts.dag import DagInput, DagResult
from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import Problem, TemporalUnavailableError, ValidationError, WorkflowExecutionError
from gleitzeit.workflows.dag import DagWorkflow

__all__ = [
    "MAX_INPUT_BYTES",
    "PIPELINE_ATTRIBUTE",
    "RESUMED_FROM_ATTRIBUTE",
    "check_input_size",
    "dag_input_for",
    "new_workflow_id",
    "pipeline_search_attributes",
    "registered_search_attributes",
    "start_pipeline",
    "start_summary",
    "wait_result",
    "web_url",
]

PIPELINE_ATTRIBUTE = SearchAttributeKey.for_keyword("GleitzeitPipeline")
FILE_ATTRIBUTE = SearchAttributeKey.for_keyword("GleitzeitFile")
# A resumed run names the run it resumes (memo and, where registered, this search attribute), so the
# web UI finds either from the other: `GleitzeitResumedFrom = 'ID'` lists the runs resuming ID.
RESUMED_FROM_ATTRIBUTE = SearchAttributeKey.for_keyword(RESUMED_FROM_MEMO)
# Beyond the workflow's own timeout, how long Temporal waits before it ends a run that never answered.
EXECUTION_TIMEOUT_GRACE = 300.0
# Temporal refuses a workflow input over its blob size limit (2 MiB by default) with an RPC error that
# names neither the file nor what to do. A pipeline's input is its whole spec: ~420 bytes per task of
# an expanded batch form, so a batch of ~5,000 files gets there. Checked here first, with headroom.
MAX_INPUT_BYTES = 2_000_000


def new_workflow_id(name: str) -> str:
    """A readable, unique id: the pipeline name as a slug plus a short random part."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48] or "workflow"
    return f"{slug}-{uuid.uuid4().hex[:8]}"


def web_url(settings: Settings, workflow_id: str, run_id: str | None = None) -> str:
    base = f"http://localhost:{settings.ui_port}/namespaces/{settings.namespace}/workflows/{workflow_id}"
    return f"{base}/{run_id}/history" if run_id else base


# Custom search attributes rarely change; asking once a minute keeps an RPC off every start.
_ATTRIBUTES_TTL = 60.0
_attributes_cache: dict[tuple[int, str], tuple[float, set[str]]] = {}


async def registered_search_attributes(client: Client, namespace: str) -> set[str]:
    key = (id(client), namespace)
    cached = _attributes_cache.get(key)
    now = time.monotonic()
    if cached is not None and now - cached[0] < _ATTRIBUTES_TTL:
        return cached[1]
    found = await _list_search_attributes(client, namespace)
    _attributes_cache[key] = (now, found)
    return found


async def _list_search_attributes(client: Client, namespace: str) -> set[str]:
    try:
        answer = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
    except Exception:  # an old or restricted server: run without custom attributes
        return set()
    return set(answer.custom_attributes)


def _static_details(spec: WorkflowSpec, inputs: dict[str, Any], resumed_from: str | None = None) -> str:
    lines = [f"**Pipeline**: {spec.name}"]
    if resumed_from:
        lines.append(f"**Resumed from**: `{resumed_from}`")
    if spec.description:
        lines.append(spec.description)
    if spec.source_file:
        lines.append(f"**File**: `{spec.source_file}`")
    lines.append(
        f"**Tasks**: {len(spec.tasks)} ({', '.join(t.id for t in spec.tasks[:15])}"
        f"{' ...' if len(spec.tasks) > 15 else ''})"
    )
    if inputs:
        lines.append(f"**Inputs**: `{json.dumps(inputs, default=str)[:1000]}`")
    return "\n\n".join(lines)


def dag_input_for(
    spec: WorkflowSpec,
    inputs: dict[str, Any],
    settings: Settings,
    *,
    carried: dict[str, Any] | None = None,
    resumed_from: str | None = None,
    file_roots: Sequence[str] | None = None,
) -> DagInput:
    """The workflow input of a run of ``spec`` (size checked); a run and a schedule's runs alike."""
    dag_input = DagInput(
        spec=spec,
        inputs=inputs,
        default_max_parallel=settings.max_parallel,
        carried=carried or {},
        resumed_from=resumed_from,
        # What produced each task's result, for a later resume to compare (gleitzeit.client.resume_plan).
        fingerprints=task_fingerprints(spec, inputs),
        file_roots=list(file_roots) if file_roots is not None else None,
    )
    check_input_size(dag_input)
    return dag_input


def start_summary(spec: WorkflowSpec, inputs: dict[str, Any]) -> tuple[str, str]:
    """The web UI's summary and details of a (not resumed) run of ``spec``."""
    return f"{spec.name} ({len(spec.tasks)} tasks)"[:400], _static_details(spec, inputs)


async def pipeline_search_attributes(
    client: Client, spec: WorkflowSpec, settings: Settings
) -> TypedSearchAttributes:
    """``GleitzeitPipeline`` and ``GleitzeitFile`` of a run of ``spec``, those the server has registered."""
    attributes = await registered_search_attributes(client, settings.namespace)
    pairs: list[SearchAttributePair[Any]] = []
    if PIPELINE_ATTRIBUTE.name in attributes:
        pairs.append(SearchAttributePair(PIPELINE_ATTRIBUTE, spec.name))
    if FILE_ATTRIBUTE.name in attributes and spec.source_file:
        pairs.append(SearchAttributePair(FILE_ATTRIBUTE, spec.source_file))
    return TypedSearchAttributes(pairs)


async def start_pipeline(
    client: Client,
    spec: WorkflowSpec,
    inputs: dict[str, Any],
    settings: Settings,
    *,
    workflow_id: str | None = None,
    task_queue: str | None = None,
    request_eager_start: bool = False,
    carried: dict[str, Any] | None = None,
    resumed_from: str | None = None,
    attach_existing: bool = False,
    file_roots: Sequence[str] | None = None,
) -> WorkflowHandle[Any, DagResult]:
    """Start ``spec`` with bound ``inputs``; ``carried`` and ``resumed_from`` make it a resumed run
    (see gleitzeit.client.resume). ``attach_existing``: when a run with ``workflow_id`` is running or
    has completed, return its handle instead of starting another (an idempotency key); a failed,
    cancelled or terminated one is started afresh. ``file_roots``: the roots every file its tasks open
    must lie in (the REST API passes its own; None leaves it to the workers' configured roots)."""
    wid = workflow_id or spec.id and f"{spec.id}-{uuid.uuid4().hex[:8]}" or new_workflow_id(spec.name)
    dag_input = dag_input_for(
        spec, inputs, settings, carried=carried, resumed_from=resumed_from, file_roots=file_roots
    )
    memo: dict[str, Any] = {}
    summary = f"{spec.name} ({len(spec.tasks)} tasks)"
    if resumed_from:
        memo[RESUMED_FROM_MEMO] = resumed_from
        summary = f"{summary}, resumed from {resumed_from} ({len(carried or {})} carried)"
    pairs = list((await pipeline_search_attributes(client, spec, settings)).search_attributes)
    if resumed_from and RESUMED_FROM_ATTRIBUTE.name in await registered_search_attributes(
        client, settings.namespace
    ):
        pairs.append(SearchAttributePair(RESUMED_FROM_ATTRIBUTE, resumed_from))
    execution_timeout = timedelta(seconds=spec.timeout + EXECUTION_TIMEOUT_GRACE) if spec.timeout else None
    try:
        return await client.start_workflow(
            DagWorkflow.run,
            dag_input,
            id=wid,
            task_queue=task_queue or settings.task_queue,
            execution_timeout=execution_timeout,
            search_attributes=TypedSearchAttributes(pairs) if pairs else None,
            static_summary=summary[:400],
            static_details=_static_details(spec, inputs, resumed_from),
            memo=memo or None,
            request_eager_start=request_eager_start,
            # The SDK's defaults unless attaching: a closed id may be reused, a running one is an error.
            id_conflict_policy=(
                WorkflowIDConflictPolicy.USE_EXISTING
                if attach_existing
                else WorkflowIDConflictPolicy.UNSPECIFIED
            ),
            id_reuse_policy=(
                WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
                if attach_existing
                else WorkflowIDReusePolicy.ALLOW_DUPLICATE
            ),
        )
    except WorkflowAlreadyStartedError as exc:
        if attach_existing:  # it completed: its answer is the answer
            return client.get_workflow_handle(wid, result_type=DagResult)
        raise ValidationError(f"a workflow with id '{wid}' is already running; choose another id") from exc
    except RPCError as exc:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise TemporalUnavailableError(
                f"Temporal at {settings.temporal_address} could not start the workflow: {exc.message}"
            ) from exc
        raise WorkflowExecutionError(f"Temporal refused to start the workflow: {exc.message}") from exc


def check_input_size(dag_input: DagInput) -> None:
    """Raise ValidationError when Temporal would refuse ``dag_input`` as too large, saying what to do."""
    size = len(dag_input.model_dump_json())
    if size <= MAX_INPUT_BYTES:
        return
    spec = dag_input.spec
    batch = spec.metadata.get("batch")
    if isinstance(batch, dict):  # an expanded batch form (see gleitzeit.dsl.batch.expand_batch)
        count = batch.get("file_count", len(spec.tasks))
        problem = Problem(
            f"the batch '{spec.name}' has {count} files: as one task per file its input comes to "
            f"{size:,} bytes, over the {MAX_INPUT_BYTES:,} Temporal accepts",
            file=spec.source_file,
            key="batch",
            code="too-large",
            hint="run it as a durable batch, which lists the files on the worker and goes through them "
            "in pages: `gleitzeit run FILE`, POST /v1/batch, or GleitzeitClient.batch_process",
        )
    else:
        problem = Problem(
            f"the workflow '{spec.name}' ({len(spec.tasks)} tasks, inputs included) comes to {size:,} "
            f"bytes as Temporal input, over the {MAX_INPUT_BYTES:,} it accepts",
            file=spec.source_file,
            code="too-large",
            hint="pass large data through files (file_path, files, a script's context) instead of "
            "inline parameters or inputs, or split the pipeline",
        )
    raise ValidationError(problems=[problem])


async def wait_result(handle: WorkflowHandle[Any, DagResult]) -> DagResult:
    """The run's result; failures come back as gleitzeit.core.errors exceptions."""
    try:
        return await handle.result()
    except WorkflowFailureError as exc:
        raise translate_workflow_failure(exc, handle.id) from None
