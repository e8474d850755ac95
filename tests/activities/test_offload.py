"""Offloaded results (gleitzeit.activities.offload): the blob store, deferred references made by the
workflow's resolver and resolved on the activity side, and the client's loading. Pure and on disk."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from gleitzeit.activities.offload import ResultStore, load_offloaded, offload_result, resolve_deferred
from gleitzeit.client.convert import load_offloaded_result
from gleitzeit.config import Settings
from gleitzeit.contracts.dag import DagResult
from gleitzeit.contracts.tasks import PythonResult, TaskInput, has_deferred, offloaded_ref
from gleitzeit.core.errors import NotFoundError, ValidationError
from gleitzeit.dsl import conditions, references
from gleitzeit.workflows.outcome import MAX_RESULT_BYTES, fit_result, result_size

BIG: dict[str, Any] = {"rows": [{"i": i, "text": "x" * 40} for i in range(30_000)], "total": 30_000}


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, offload_threshold_bytes=100_000)


def offload(tmp_path: Path, value: Any = BIG, task_id: str = "big") -> dict[str, Any]:
    inp = TaskInput(task_id=task_id, method="python/execute")
    result = asyncio.run(offload_result(PythonResult(result=value), inp, settings(tmp_path)))
    assert isinstance(result, dict)
    return result


def test_a_small_result_passes_unchanged(tmp_path: Path) -> None:
    small = PythonResult(result={"ok": 1})
    inp = TaskInput(task_id="t", method="python/execute")
    assert asyncio.run(offload_result(small, inp, settings(tmp_path))) is small
    assert not (tmp_path / "results").exists()


def test_a_large_result_is_stored_once_by_content(tmp_path: Path) -> None:
    marker = offload(tmp_path)
    ref = offloaded_ref(marker)
    assert ref is not None and len(json.dumps(marker)) < 1000
    path = tmp_path / "results" / f"{ref.sha256}.json"
    assert json.loads(path.read_text())["result"] == BIG
    assert ref.size == path.stat().st_size and "result:" in ref.summary
    assert offload(tmp_path, task_id="again") == marker  # same content: same blob, no temp files left
    assert [p.name for p in (tmp_path / "results").iterdir()] == [path.name]


def test_references_into_an_offloaded_result_are_deferred_and_resolved(tmp_path: Path) -> None:
    results = {"big": offload(tmp_path), "small": {"result": {"n": 2}}}
    params = {
        "whole": "${big.result}",
        "field": "${big.result.total}",
        "item": "${big.result.rows[-1].i}",
        "text": "n=${small.result.n} total=${big.result.total} first=${big.result.rows[0]}",
        "plain": "${small.result.n}",
    }
    resolved = references.resolve(params, results, {}, primary_fields={"big": "result"}, defer=True)
    assert has_deferred(resolved) and resolved["plain"] == 2
    assert len(json.dumps(resolved)) < 5000  # what crosses Temporal stays small
    out = resolve_deferred(resolved, ResultStore(tmp_path))
    assert out["whole"] == BIG and out["field"] == 30_000 and out["item"] == 29_999
    assert out["text"] == 'n=2 total=30000 first={"i":0,"text":"' + "x" * 40 + '"}'
    # Without offloaded results nothing changes: the same values as before, no deferral.
    assert references.resolve("${small.result.n}", results, {}, defer=True) == 2


def test_a_bad_path_into_the_blob_names_the_reference(tmp_path: Path) -> None:
    resolved = references.resolve("${big.result.nope}", {"big": offload(tmp_path)}, {}, defer=True)
    with pytest.raises(ValidationError, match=r"\$\{big.result.nope\}.*no field 'nope'"):
        resolve_deferred(resolved, ResultStore(tmp_path))


def test_conditions_and_foreach_on_an_offloaded_result_say_what_to_do(tmp_path: Path) -> None:
    results = {"big": offload(tmp_path)}
    with pytest.raises(ValidationError, match=r"task 'big' \(.* MiB\) was offloaded.*when: condition"):
        conditions.evaluate("${big.result.total} > 3", results, {})
    with pytest.raises(ValidationError, match="GLEITZEIT_OFFLOAD_THRESHOLD_BYTES"):
        references.resolve("${big.result.rows}", results, {})


def test_the_client_loads_results_and_outputs_and_names_a_missing_blob(tmp_path: Path) -> None:
    marker = offload(tmp_path)
    outputs = references.resolve({"total": "${big.result.total}"}, {"big": marker}, {}, defer=True)
    run = DagResult(workflow_id="w", name="n", status="completed", results={"big": marker}, outputs=outputs)
    loaded = load_offloaded_result(run, tmp_path)
    assert loaded.results["big"]["result"] == BIG and loaded.outputs == {"total": 30_000}
    assert load_offloaded({"s": {"result": 1}}, ResultStore(tmp_path)) == {"s": {"result": 1}}
    elsewhere = tmp_path / "other-machine"
    with pytest.raises(NotFoundError, match=r"task 'big'.*other-machine/results/[0-9a-f]{64}\.json.*shared"):
        load_offloaded_result(run, elsewhere)


def test_a_marker_cannot_name_a_file_outside_the_store(tmp_path: Path) -> None:
    marker = {"$offloaded": {"sha256": "../../etc/passwd", "size": 1}}
    ref = offloaded_ref(marker)
    assert ref is not None
    with pytest.raises(NotFoundError, match="not a result blob"):
        ResultStore(tmp_path).load(ref, "t")


def test_the_run_result_of_a_large_fan_out_is_fitted_with_the_fewest_omissions() -> None:
    # 1,000 results of 10 KB (bench row 12): sizes are kept up to date, not the whole re-dumped per
    # omitted result (that was quadratic and blocked the workflow task for many seconds).
    results = {f"t{i:04}": {"result": "x" * 10_000, "output": ""} for i in range(1000)}
    fitted = fit_result(DagResult(workflow_id="w", name="n", status="completed", results=results))
    size = result_size(fitted.model_dump(mode="json"))
    omitted = [k for k, v in fitted.results.items() if "$omitted" in v]
    assert size <= MAX_RESULT_BYTES < size + 10_000  # one omission fewer would not fit
    assert len(fitted.warnings) == len(omitted) and omitted[0] == "t0000"


def test_a_foreach_items_offloaded_result_is_loaded_and_not_walked_into(tmp_path: Path) -> None:
    marker = offload(tmp_path)
    ref = offloaded_ref(marker)
    assert ref is not None
    picked = ref.model_copy(update={"pick": "result"}).marker()
    fan = {"result": [1, picked], "results": [{"result": 1}, marker], "errors": [], "count": 2}
    loaded = load_offloaded({"fan": fan}, ResultStore(tmp_path))["fan"]
    assert loaded["result"] == [1, BIG] and loaded["results"][1]["result"] == BIG
    with pytest.raises(ValidationError, match=r"result\[1\] was offloaded.*pass the whole list"):
        references.resolve("${fan.result[1].total}", {"fan": fan}, {}, defer=True)
