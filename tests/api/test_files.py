"""File upload and download: ``POST /v1/files``, ``/v1/files/{id}``, ``/v1/workflows/{id}/files``, and
the client's ``upload_files`` / ``list_run_files`` / ``download`` in api and native mode.

All against the session stack (tests/fixtures/client.py): a real dev server, the REST API on
loopback, a worker with the local executor. The limit tests serve a second app with tiny limits on
the same backend (no second worker, no second Temporal connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from gleitzeit.api.app import create_app
from gleitzeit.client.native import NativeBackend
from gleitzeit.core.errors import (
    ExecutionError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ValidationError,
)
from gleitzeit.dsl import load_workflow
from tests.client.subprocesses import run_cli
from tests.fixtures.client import ClientStack
from tests.helpers import free_port, until

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(120)]

# Until python/execute takes `outputs_dir`, the task that declares it fails when it runs (an unknown
# key); the spec still carries it (injected past validation), and the task before it wrote the files.
WRITER = """
import os
import json, sys
d = json.load(sys.stdin)['dir']
os.makedirs(os.path.join(d, 'sub'), exist_ok=True)
open(os.path.join(d, 'report.txt'), 'w').write('the report')
open(os.path.join(d, 'sub', 'data.csv'), 'w').write('a,b\\n1,2\\n')
print(1)
"""


@pytest.fixture
async def http(client_stack: ClientStack) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {client_stack.token}"}
    async with httpx.AsyncClient(base_url=client_stack.api_url, headers=headers, timeout=60) as c:
        yield c


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert "error" in body, body
    return dict(body["error"])


def stored_files(stack: ClientStack) -> set[Path]:
    """Every file in the upload store, temporary ones included."""
    return {p for p in stack.settings.uploads_dir.rglob("*") if p.is_file()}


async def start_run(stack: ClientStack, outputs_dir: Path, *, write: bool = True) -> str:
    """A finished run whose spec declares ``outputs_dir``; with ``write`` a task of it wrote files there."""
    backend = stack.native.backend
    assert isinstance(backend, NativeBackend)
    tasks: list[dict[str, Any]] = []
    if write:
        tasks.append(
            {
                "id": "write",
                "method": "python/execute",
                "parameters": {"code": WRITER, "context": {"dir": str(outputs_dir)}},
            }
        )
    tasks.append(
        {
            "id": "publish",
            "method": "python/execute",
            "dependencies": ["write"] if write else [],
            "parameters": {"code": "print(2)"},
        }
    )
    spec = load_workflow({"name": "writes files", "tasks": tasks}, base_dir=str(stack.root))
    publish = spec.tasks[-1]
    params = {**publish.parameters, "outputs_dir": str(outputs_dir)}
    spec = spec.model_copy(
        update={"tasks": [*spec.tasks[:-1], publish.model_copy(update={"parameters": params})]}
    )
    run = await backend.start_spec(spec, workflow_id=f"files-{uuid.uuid4().hex[:8]}")
    # Whether the run succeeds does not matter here (see OUTPUTS_KNOWN); that it is over does.
    with contextlib.suppress(ExecutionError):
        await run.result(60)
    return run.workflow_id


@pytest.fixture(scope="module")
async def written(client_stack: ClientStack) -> tuple[str, Path]:
    outputs = client_stack.root / f"out-{uuid.uuid4().hex[:6]}"
    outputs.mkdir()
    (outputs / "escape").symlink_to("/etc/hostname")
    return await start_run(client_stack, outputs), outputs


# -- upload -------------------------------------------------------------------------------------------


async def test_upload_one_and_many_and_read_back(http: httpx.AsyncClient, client_stack: ClientStack) -> None:
    one = os.urandom(1000)
    response = await http.post("/v1/files", files={"files": ("one.bin", one)})
    assert response.status_code == 201, response.text
    [stored] = response.json()
    sha = hashlib.sha256(one).hexdigest()
    assert stored["id"] == stored["sha256"] == sha and stored["size"] == 1000 and stored["name"] == "one.bin"
    assert Path(stored["path"]) == client_stack.settings.uploads_dir.resolve() / sha / "one.bin"
    assert Path(stored["path"]).read_bytes() == one

    many = [("files", (f"f{i}.txt", f"file {i} {uuid.uuid4()}".encode())) for i in range(3)]
    response = await http.post("/v1/files", files=many)
    assert response.status_code == 201 and [f["name"] for f in response.json()] == [
        "f0.txt",
        "f1.txt",
        "f2.txt",
    ]

    meta = await http.get(f"/v1/files/{sha}")
    assert meta.status_code == 200 and meta.json()[0]["path"] == stored["path"]
    content = await http.get(f"/v1/files/{sha}/content")
    assert content.status_code == 200 and content.content == one
    assert (await http.get(f"/v1/files/{'0' * 64}")).status_code == 404
    assert (await http.get("/v1/files/not-a-hash")).status_code == 404


async def test_same_content_is_stored_once(http: httpx.AsyncClient) -> None:
    data = f"same {uuid.uuid4()}".encode()
    first = (await http.post("/v1/files", files={"files": ("a.txt", data)})).json()[0]
    again = (await http.post("/v1/files", files={"files": ("a.txt", data)})).json()[0]
    renamed = (await http.post("/v1/files", files={"files": ("b.txt", data)})).json()[0]
    assert first["id"] == again["id"] == renamed["id"]
    assert not first["duplicate"] and again["duplicate"] and renamed["duplicate"]
    assert again["path"] == first["path"]
    # Another name is a hard link to the same bytes, not a second copy.
    assert os.stat(renamed["path"]).st_ino == os.stat(first["path"]).st_ino


@pytest.mark.parametrize("name", ["../evil.txt", "dir/x.txt", "dir\\x.txt", "..", "bad\x01name", "  "])
async def test_bad_file_names_are_422_and_store_nothing(
    http: httpx.AsyncClient, client_stack: ClientStack, name: str
) -> None:
    before = stored_files(client_stack)
    # Written by hand: httpx would percent-encode the control character of the name.
    body = (
        f"--b\r\nContent-Disposition: form-data; name=files; filename=good.txt\r\n\r\n{uuid.uuid4()}\r\n"
        f'--b\r\nContent-Disposition: form-data; name=files; filename="{name}"\r\n\r\nx\r\n--b--\r\n'
    ).encode()
    response = await http.post(
        "/v1/files", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert (
        error["type"] == "ValidationError"
        and "part 2" in error["message"]
        and "file name" in error["message"]
    )
    assert stored_files(client_stack) == before


async def test_not_multipart_or_no_files_is_422(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/files", json={"files": []})
    assert response.status_code == 422 and "multipart/form-data" in error_of(response)["message"]
    response = await http.post("/v1/files", data={"field": "value"}, files={"other": ("", b"")})
    assert response.status_code == 422


async def test_an_uploaded_script_runs_as_a_workflow_file(http: httpx.AsyncClient) -> None:
    # The upload store is one of the API's roots: its paths pass the guard as workflow files.
    script = f"print({{'answer': 42, 'tag': '{uuid.uuid4().hex}'}}['answer'])".encode()
    [stored] = (await http.post("/v1/files", files={"files": ("answer.py", script)})).json()
    spec = {
        "name": "uses upload",
        "tasks": [{"id": "s", "method": "python/execute", "parameters": {"file": stored["path"]}}],
    }
    response = await http.post("/v1/workflows", json={"spec": spec, "wait": True, "timeout": 60})
    assert response.status_code == 200, response.text
    assert response.json()["results"]["s"]["result"]["result"] == 42


@pytest.fixture
async def tiny_api(client_stack: ClientStack) -> AsyncIterator[httpx.AsyncClient]:
    """The API with limits of 1,000 bytes per file and 2,500 per request, on the session's backend."""
    settings = client_stack.settings.model_copy(
        update={"upload_max_file_bytes": 1000, "upload_max_request_bytes": 2500, "api_token": None}
    )
    app = create_app(settings, backend=client_stack.native.backend)  # type: ignore[arg-type]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    await until(lambda: server.started or serving.done(), "the small API started")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            yield c
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)


async def test_over_the_limits_is_413_and_leaves_nothing(
    tiny_api: httpx.AsyncClient, client_stack: ClientStack
) -> None:
    before = stored_files(client_stack)
    fits = ("files", ("fits.bin", os.urandom(900)))
    response = await tiny_api.post("/v1/files", files=[fits, ("files", ("big.bin", os.urandom(1001)))])
    assert response.status_code == 413, response.text
    error = error_of(response)
    assert error["type"] == "PayloadTooLargeError" and "big.bin" in error["message"]
    # Three files of 900 bytes: each fits, together they do not.
    response = await tiny_api.post(
        "/v1/files", files=[("files", (f"{i}.bin", os.urandom(900))) for i in range(3)]
    )
    assert response.status_code == 413 and "per request" in error_of(response)["message"]

    # A body far over the limit, declared and chunked: refused after at most the drain limit.
    async def chunks() -> AsyncIterator[bytes]:
        yield b"--b\r\nContent-Disposition: form-data; name=files; filename=huge.bin\r\n\r\n"
        for _ in range(64):
            yield os.urandom(16384)
        yield b"\r\n--b--\r\n"

    response = await tiny_api.post(
        "/v1/files", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 413
    response = await tiny_api.post(
        "/v1/files",
        content=b"x" * 2_000_000,
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413 and "over the 2,500" in error_of(response)["message"]
    assert stored_files(client_stack) == before
    response = await tiny_api.post("/v1/files", files=[fits])
    assert response.status_code == 201


async def test_openapi_lists_the_error_answers(http: httpx.AsyncClient) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    upload = paths["/v1/files"]["post"]
    assert {"413", "422"} <= set(upload["responses"]) and "multipart/form-data" in upload["requestBody"][
        "content"
    ]
    assert upload["responses"]["413"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    download = paths["/v1/workflows/{workflow_id}/files/{path}"]["get"]
    assert {"403", "404", "422"} <= set(download["responses"])
    assert {"403", "404"} <= set(paths["/v1/workflows/{workflow_id}/files"]["get"]["responses"])


# -- a run's files ------------------------------------------------------------------------------------


async def test_list_and_download_what_a_run_wrote(http: httpx.AsyncClient, written: tuple[str, Path]) -> None:
    wid, outputs = written
    listing = await http.get(f"/v1/workflows/{wid}/files")
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert body["directories"] == [{"task_id": "publish", "path": str(outputs.resolve()), "exists": True}]
    assert sorted(f["path"] for f in body["files"]) == ["report.txt", "sub/data.csv"]  # no escaping symlink
    response = await http.get(f"/v1/workflows/{wid}/files/sub/data.csv")
    assert response.status_code == 200 and response.content == b"a,b\n1,2\n"
    assert "data.csv" in response.headers["content-disposition"]
    response = await http.get(f"/v1/workflows/{wid}/files/report.txt", params={"task": "publish"})
    assert response.text == "the report"


async def test_download_refusals(http: httpx.AsyncClient, written: tuple[str, Path]) -> None:
    wid, _ = written
    for path, status in [
        ("escape", 403),  # a symlink leading out of the outputs directory
        ("%2E%2E/%2E%2E/etc/hostname", 403),
        ("sub/%2E%2E/%2E%2E/x", 403),
        ("missing.txt", 404),
    ]:
        response = await http.get(f"/v1/workflows/{wid}/files/{path}")
        assert response.status_code == status, (path, response.text)
        assert error_of(response)["message"]
    assert (
        await http.get(f"/v1/workflows/{wid}/files/report.txt", params={"task": "nope"})
    ).status_code == 404
    assert (await http.get("/v1/workflows/no-such-run/files")).status_code == 404
    assert (await http.get("/v1/workflows/no-such-run/files/report.txt")).status_code == 404


async def test_a_run_without_outputs_or_outside_the_roots(
    http: httpx.AsyncClient, client_stack: ClientStack, tmp_path: Path
) -> None:
    backend = client_stack.native.backend
    assert isinstance(backend, NativeBackend)
    plain = await backend.start_spec(
        load_workflow(
            {
                "name": "plain",
                "tasks": [{"id": "a", "method": "python/execute", "parameters": {"code": "print(1)"}}],
            }
        )
    )
    await plain.result(60)
    assert (await http.get(f"/v1/workflows/{plain.workflow_id}/files")).json()["files"] == []
    response = await http.get(f"/v1/workflows/{plain.workflow_id}/files/x.txt")
    assert response.status_code == 404 and "no outputs directory" in error_of(response)["message"]

    outside = tmp_path / "outside"  # not under the API's roots
    outside.mkdir()
    (outside / "secret.txt").write_text("s")
    wid = await start_run(client_stack, outside, write=False)
    for url in (f"/v1/workflows/{wid}/files", f"/v1/workflows/{wid}/files/secret.txt"):
        response = await http.get(url)
        assert response.status_code == 403 and "outside the directories" in error_of(response)["message"]


# -- the client, both modes ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["native", "api"])
async def test_client_upload_list_and_download(
    client_stack: ClientStack, written: tuple[str, Path], tmp_path: Path, mode: str
) -> None:
    client = client_stack.client(mode)
    local = tmp_path / "notes.md"
    local.write_text(f"# notes {uuid.uuid4()}")
    other = tmp_path / "two.txt"
    other.write_text("two")
    uploaded = await client.upload_files([local, str(other)])
    assert [u.name for u in uploaded] == ["notes.md", "two.txt"]
    assert Path(uploaded[0].path).read_text() == local.read_text()
    assert (await client.upload_files(local))[0].duplicate
    [meta] = await client.get_uploaded_file(uploaded[1].id)
    assert meta.path == uploaded[1].path and meta.size == 3
    with pytest.raises(NotFoundError):
        await client.upload_files([tmp_path / "missing.txt"])

    wid, _ = written
    listing = await client.list_run_files(wid)
    assert sorted(f.path for f in listing.files) == ["report.txt", "sub/data.csv"]
    saved = await client.download(wid, "sub/data.csv", tmp_path)
    assert saved == tmp_path / "data.csv" and saved.read_text() == "a,b\n1,2\n"
    renamed = await client.download(wid, "report.txt", tmp_path / "got" / "r.txt")
    assert renamed.read_text() == "the report"
    with pytest.raises(PermissionDeniedError):
        await client.download(wid, "escape", tmp_path)
    with pytest.raises(PermissionDeniedError):
        await client.download(wid, "../outside.txt", tmp_path)
    with pytest.raises(NotFoundError):
        await client.download(wid, "missing.txt", tmp_path)
    assert not list(tmp_path.glob("*.part"))


async def test_native_upload_of_a_bad_name_is_refused(client_stack: ClientStack, tmp_path: Path) -> None:
    odd = tmp_path / "line\nbreak.txt"
    odd.write_text("x")
    with pytest.raises(ValidationError, match="control characters"):
        await client_stack.native.upload_files([odd])
    assert issubclass(PayloadTooLargeError, ValidationError)


async def test_cli_files_upload_list_and_get(
    client_stack: ClientStack, written: tuple[str, Path], tmp_path: Path
) -> None:
    local = tmp_path / "cli.txt"
    local.write_text(f"cli {uuid.uuid4()}")
    done = await run_cli(client_stack, "api", "files", "upload", str(local), "--mode", "api", "--json")
    assert done.returncode == 0, done.stderr
    [stored] = json.loads(done.stdout)
    assert Path(stored["path"]).read_text() == local.read_text()
    wid, _ = written
    listed = await run_cli(client_stack, "native", "files", "list", wid, "--mode", "native")
    assert listed.returncode == 0 and "sub/data.csv" in listed.stdout, listed.stderr
    got = await run_cli(
        client_stack, "api", "files", "get", wid, "report.txt", "-o", str(tmp_path), "--mode", "api"
    )
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "report.txt").read_text() == "the report"


def test_outputs_dirs_of_a_batch_and_from_inputs(tmp_path: Path) -> None:
    from gleitzeit.client.outputs import has_task_references, outputs_dirs
    from gleitzeit.contracts.batch import BatchInput
    from gleitzeit.contracts.dag import DagInput

    batch = BatchInput(directory="docs", output_dir="results", base_dir=str(tmp_path), method="llm/chat")
    [d] = outputs_dirs(batch, None, "/elsewhere")
    assert (d.task_id, d.path, d.exists) == ("batch", str(tmp_path.resolve() / "results"), False)

    spec = load_workflow(
        {"name": "x", "tasks": [{"id": "a", "method": "python/execute", "parameters": {"code": "print(1)"}}]},
        base_dir=str(tmp_path),
    )
    task = spec.tasks[0]
    for value, results, expected in [
        ("${inputs.where}/out", None, tmp_path.resolve() / "in" / "out"),
        ("${prep.result.dir}", {"prep": {"result": {"dir": "late"}}}, tmp_path.resolve() / "late"),
        ("${prep.result.dir}", None, None),  # not resolvable before the run's results exist
    ]:
        params = {**task.parameters, "outputs_dir": value}
        dag = DagInput(
            spec=spec.model_copy(update={"tasks": [task.model_copy(update={"parameters": params})]}),
            inputs={"where": "in"},
        )
        assert has_task_references(dag) == value.startswith("${prep")
        found = outputs_dirs(dag, results, "/elsewhere")
        assert [Path(x.path) for x in found] == ([expected] if expected else [])
