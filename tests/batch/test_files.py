"""The batch activities for real (listing, paging, process_file over the real LLM activity code against
OllamaDouble, python/execute with the local executor), run through BatchWorkflow on the time-skipping
server (or the server ``--workflow-environment`` names): result files, skip-existing on a rerun, partial files redone, listing exclusions."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from gleitzeit.batch.activities import BatchActivities
from gleitzeit.batch.store import read_listing, result_path
from gleitzeit.client.batch import start_batch, wait_batch
from gleitzeit.config import Settings
from gleitzeit.contracts.batch import BatchInput, BatchListInput, BatchResult
from gleitzeit.worker.build import build_worker
from tests.batch.harness import batch_settings, make_tree
from tests.doubles.ollama_double import OllamaDouble

pytestmark = pytest.mark.timeout(120)
PROMPT = "Summarize this document."


@pytest.fixture
async def double() -> Any:
    async with OllamaDouble() as d:
        yield d


async def run(env: WorkflowEnvironment, settings: Settings, **kw: Any) -> BatchResult:
    kw.setdefault("parameters", {"model": "smollm2:135m", "prompt": PROMPT})
    async with build_worker(env.client, settings):
        return await wait_batch(await start_batch(env.client, BatchInput(**kw), settings))


def expected_response(name: str) -> str:
    # llm/chat puts the file's text before the prompt; the double echoes the last user message.
    return f"echo: content of {name}\n\n{PROMPT}"


def per_file_requests(double: OllamaDouble, workflow_id: str) -> Counter[str]:
    prefix = f"{workflow_id}/"
    return Counter(
        r.request_id[len(prefix) :].rsplit("/", 1)[0]
        for r in double.calls("/api/chat")
        if r.request_id and r.request_id.startswith(prefix)
    )


async def test_each_result_is_written_and_a_rerun_redoes_nothing(
    workflow_env: WorkflowEnvironment, tmp_path: Path, double: OllamaDouble
) -> None:
    names = make_tree(tmp_path / "in", 20)
    out = tmp_path / "out"
    settings = batch_settings(tmp_path, ollama_host=double.url)
    first = await run(
        workflow_env, settings, directory=str(tmp_path / "in"), output_dir=str(out), max_concurrent=4
    )
    assert first.completed == 20 and first.skipped_existing == 0 and first.output_dir == str(out.resolve())
    assert per_file_requests(double, first.workflow_id) == {n: 1 for n in names}
    for name in names:
        doc = json.loads((out / f"{name}.json").read_text())
        assert doc["file"] == name and doc["method"] == "llm/chat"
        assert doc["result"]["response"] == expected_response(name)
    assert first.results == {n: expected_response(n) for n in names}
    assert sorted(p.name for p in out.iterdir()) == sorted([*(f"{n}.json" for n in names), ".gleitzeit"])

    # A half-written result (not ours: ours are renamed into place) is not taken as done.
    (out / f"{names[3]}.json").write_text('{"file": "f00003.txt", "res')
    before = len(double.requests)
    second = await run(workflow_env, settings, directory=str(tmp_path / "in"), output_dir=str(out))
    assert second.completed == 20 and second.skipped_existing == 19
    assert len(double.requests) == before + 1
    assert second.results == first.results


async def test_python_scripts_get_each_file_in_their_context(
    workflow_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = make_tree(tmp_path / "in" / "sub", 3)
    code = (
        "import json, sys\n"
        "ctx = json.load(sys.stdin)\n"
        "text = open(ctx['file_path']).read()\n"
        "print(json.dumps({'chars': len(text), 'tag': ctx['tag']}))\n"
    )
    settings = batch_settings(tmp_path, executor="local")
    result = await run(
        workflow_env,
        settings,
        directory="in",
        base_dir=str(tmp_path),
        pattern="**/*.txt",
        method="python",
        parameters={"code": code, "context": {"tag": "t"}},
        output_dir="out",
    )
    assert result.completed == 3, result.errors
    assert result.results == {f"sub/{n}": {"chars": len(f"content of {n}"), "tag": "t"} for n in names}
    doc = json.loads(result_path(tmp_path / "out", f"sub/{names[0]}").read_text())
    assert doc["result"]["exit_code"] == 0 and doc["method"] == "python/execute"


async def test_large_batch_without_output_dir_writes_under_data_dir(
    workflow_env: WorkflowEnvironment, tmp_path: Path, double: OllamaDouble
) -> None:
    names = make_tree(tmp_path / "in", 6)
    settings = batch_settings(tmp_path, ollama_host=double.url)
    result = await run(workflow_env, settings, directory=str(tmp_path / "in"), inline_results_limit=5)
    assert result.results == {} and result.output_dir is not None
    assert Path(result.output_dir).parent == settings.data_dir / "batches"
    for name in names:
        assert json.loads(result_path(result.output_dir, name).read_text())["result"]["response"] == (
            expected_response(name)
        )
    assert (settings.data_dir / "batches" / f"{result.workflow_id}.json").is_file()  # the listing


async def test_a_result_too_large_to_carry_inline_is_kept_on_disk(
    workflow_env: WorkflowEnvironment, tmp_path: Path, double: OllamaDouble
) -> None:
    make_tree(tmp_path / "in", 2)
    (tmp_path / "in" / "big.txt").write_text("x" * 1_200_000)
    settings = batch_settings(tmp_path, ollama_host=double.url)
    result = await run(workflow_env, settings, directory=str(tmp_path / "in"))
    assert result.completed == 3 and set(result.results) == {"f00000.txt", "f00001.txt"}
    assert result.output_dir is not None and any("too large" in w for w in result.warnings)
    spilled = json.loads(result_path(result.output_dir, "big.txt").read_text())
    assert spilled["result"]["response"].startswith("echo: xxx")


async def test_listing_leaves_out_the_output_folder_and_is_paged(tmp_path: Path) -> None:
    make_tree(tmp_path / "in", 3)
    make_tree(tmp_path / "in" / "out", 2)  # results of an earlier run inside the input folder
    acts = BatchActivities(batch_settings(tmp_path))
    listing = await acts.list_files(
        BatchListInput(
            workflow_id="wf/1", directory="in", base_dir=str(tmp_path), pattern="**/*", output_dir="in/out"
        )
    )
    assert listing.total == 3
    assert Path(listing.listing_id) == tmp_path / "in" / "out" / ".gleitzeit" / "wf_1.listing.json"
    assert read_listing(listing.listing_id) == ["f00000.txt", "f00001.txt", "f00002.txt"]
    from gleitzeit.contracts.batch import BatchPageInput

    assert await acts.page(BatchPageInput(listing_id=listing.listing_id, start=1, count=5)) == [
        "f00001.txt",
        "f00002.txt",
    ]


async def test_a_file_removed_after_listing_fails_for_good(tmp_path: Path) -> None:
    from temporalio.exceptions import ApplicationError

    from gleitzeit.contracts.batch import BatchFileInput

    acts = BatchActivities(batch_settings(tmp_path))
    inp = BatchFileInput(
        index=0, file="gone.txt", root=str(tmp_path), method="llm/chat", results_dir=str(tmp_path)
    )
    with pytest.raises(ApplicationError) as info:
        await acts.process_file(inp)
    assert info.value.type == "FileNotFound" and info.value.non_retryable


def test_input_checks_and_activity_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gleitzeit.batch.inputs import check_batch_input
    from gleitzeit.batch.plan import MAX_ACTIVITY_ID, file_activity_id
    from gleitzeit.core.errors import ValidationError

    monkeypatch.chdir(tmp_path)
    checked = check_batch_input(BatchInput(directory="d", method="chat"))
    assert checked.method == "llm/chat" and checked.base_dir == str(tmp_path)
    with pytest.raises(ValidationError, match="cannot use method 'shell'"):
        check_batch_input(BatchInput(directory="d", method="shell"))
    long = "a/" * 600 + "x.txt"
    assert len(file_activity_id(long)) <= MAX_ACTIVITY_ID and file_activity_id(long) != file_activity_id(
        long + "y"
    )
    assert file_activity_id("sub/x.txt") == "sub/x.txt"
