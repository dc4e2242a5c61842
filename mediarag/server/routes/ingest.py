"""``POST /v1/ingest`` (uploads or a URL; answers at once with a job) and ``GET /v1/jobs``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ...errors import ConfigError
from ..errors import NotFound
from ..uploads import UploadReceiver
from .common import config_of, service_of

router = APIRouter(tags=["ingest"])


class UrlIngest(BaseModel):
    """Ingest from a URL (when the server allows it)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="An s3:// object or prefix, or an https:// media file.")


@router.post(
    "/v1/ingest",
    status_code=202,
    summary="Add files to the index (in the background)",
    description="A `multipart/form-data` body with one or more files (any field name; audio and video "
    "extensions only; each at most the server's --max-upload-mb), or a JSON body `{\"url\": ...}` when the "
    "server allows URL ingest. Answers 202 at once with the job (`GET /v1/jobs/{id}` follows it). Files are "
    "stored under generated names; a name given by the client never becomes a path.",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}
                },
                "application/json": {"schema": UrlIngest.model_json_schema()},
            }
        }
    },
)
async def ingest(request: Request) -> JSONResponse:
    service, config = service_of(request), config_of(request)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = UrlIngest.model_validate_json(await request.body())
        except ValueError as exc:
            raise ConfigError(f"the body is not {{\"url\": ...}}: {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}") from None
        job = service.submit_url(body.url)
    elif content_type.startswith("multipart/form-data"):
        receiver = UploadReceiver(config.library_dir, max_bytes=config.max_upload_bytes, max_files=config.max_files_per_upload)
        chunks = request.stream().__aiter__()
        try:
            stored = await receiver.receive(content_type, chunks)
        except Exception:
            await _drain(chunks)  # read the rest, so the client gets the answer rather than a reset
            raise
        job = service.submit_files([s.name for s in stored], [s.path for s in stored])
    else:
        raise ConfigError('send files as multipart/form-data, or a URL as JSON {"url": ...}')
    return JSONResponse(job.public(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


async def _drain(chunks: Any) -> None:
    try:
        async for _ in chunks:
            pass
    except Exception:  # noqa: BLE001, S110 - over the body limit: stop reading
        pass


@router.get("/v1/jobs", summary="Every ingest job, newest first")
def jobs(request: Request) -> dict[str, list[dict[str, Any]]]:
    return {"jobs": [j.public() for j in service_of(request).jobs.all()]}


@router.get("/v1/jobs/{job_id}", summary="An ingest job's state and progress")
def job(request: Request, job_id: str = Path(pattern=r"^[0-9a-f]{16}$")) -> dict[str, Any]:
    """``state`` is queued, running, done or failed; ``progress`` has the files done, the file
    being transcribed and its seconds; ``report`` (once finished) is what `mediarag ingest
    --json` prints."""
    found = service_of(request).jobs.get(job_id)
    if found is None:
        raise NotFound(f"no job {job_id}")
    return found.public()
