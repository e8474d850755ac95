"""``/v1/files`` (upload, look up) and ``/v1/workflows/{id}/files`` (what a run wrote, to download).

Uploads are stored content-addressed under ``<data_dir>/uploads`` (one of the roots the path guard
allows), so the ``path`` an upload answers is usable at once as a workflow input. A run's files come
from its outputs directories (``gleitzeit.client.outputs``); each must be inside the server's file
roots (403), and a requested path must stay inside its directory (403).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from gleitzeit.api.deps import backend_of, guard_of
from gleitzeit.api.errors import error_responses
from gleitzeit.api.uploads import receive_files
from gleitzeit.client.outputs import list_files, locate_file
from gleitzeit.client.uploads import find_upload
from gleitzeit.config import Settings
from gleitzeit.core.errors import NotFoundError
from gleitzeit.core.models import RunFiles, UploadedFile

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["files"])

_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["files"],
                "additionalProperties": False,
                "properties": {
                    "files": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string", "format": "binary"},
                        "description": "one part per file; its filename is the name it is stored under",
                    }
                },
            }
        }
    },
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post(
    "/files",
    status_code=201,
    response_model=list[UploadedFile],
    responses=error_responses(400, 413, 422),
    openapi_extra={"requestBody": _UPLOAD_BODY},
    summary="Upload files (multipart); each answer's `path` is usable as a workflow input",
)
async def upload_files(request: Request) -> list[UploadedFile]:
    settings = _settings(request)
    return await receive_files(
        request,
        settings.uploads_dir,
        max_file_bytes=settings.upload_max_file_bytes,
        max_request_bytes=settings.upload_max_request_bytes,
    )


@router.get(
    "/files/{file_id}",
    response_model=list[UploadedFile],
    responses=error_responses(404),
    summary="An upload by its id (SHA-256): one entry per name it was stored under",
)
async def get_upload(file_id: str, request: Request) -> list[UploadedFile]:
    return find_upload(_settings(request).uploads_dir, file_id)


@router.get(
    "/files/{file_id}/content",
    response_class=FileResponse,
    responses=error_responses(404),
    summary="An upload's bytes",
)
async def get_upload_content(
    file_id: str, request: Request, name: str | None = Query(None, description="which stored name")
) -> FileResponse:
    stored = find_upload(_settings(request).uploads_dir, file_id)
    chosen = next((f for f in stored if name is None or f.name == name), None)
    if chosen is None:
        raise NotFoundError(f"upload '{file_id}' has no file named '{name}'")
    return FileResponse(chosen.path, filename=chosen.name)


@router.get(
    "/workflows/{workflow_id}/files",
    response_model=RunFiles,
    responses=error_responses(403, 404),
    summary="The files a run wrote to its outputs directories",
)
async def list_run_files(workflow_id: str, request: Request) -> RunFiles:
    guard = guard_of(request)
    dirs = await backend_of(request).run_outputs(workflow_id, str(guard.base))
    for d in dirs:
        guard.check(d.path, f"outputs directory of task '{d.task_id}'")
    return await asyncio.to_thread(list_files, workflow_id, dirs)


@router.get(
    "/workflows/{workflow_id}/files/{path:path}",
    response_class=FileResponse,
    responses=error_responses(403, 404, 422),
    summary="Download one file a run wrote (`path` as the listing shows it)",
)
async def download_run_file(
    workflow_id: str,
    path: str,
    request: Request,
    task: str | None = Query(None, description="the task whose outputs directory to look in"),
) -> FileResponse:
    guard = guard_of(request)
    dirs = await backend_of(request).run_outputs(workflow_id, str(guard.base))
    full, directory = locate_file(workflow_id, dirs, path, task)
    guard.check(directory.path, f"outputs directory of task '{directory.task_id}'")
    guard.check(full, "file")
    return FileResponse(full, filename=full.name)
