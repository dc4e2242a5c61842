"""`ServerConfig`: what one ``mediarag serve`` process serves, to whom, and within which limits."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ..errors import ConfigError
from ..generate.config import Backend
from ..settings import Settings

#: The shortest token accepted: a guessable token is no protection.
MIN_TOKEN_CHARS = 16


class ServerConfig(BaseModel):
    """The HTTP server's configuration; ``mediarag serve`` builds it from its command line.

    The security rules: the server listens on 127.0.0.1 unless told otherwise; any other
    address needs a ``token`` (every request but ``/health`` must then carry it as
    ``Authorization: Bearer <token>``), and `check` refuses to start without one. Request bodies
    are capped (``max_request_kb`` for JSON, ``max_upload_mb`` per uploaded file), cross-origin
    requests are refused unless their origin is in ``cors_origins``, and ingest from URLs is off
    unless ``allow_url_ingest``.
    """

    model_config = ConfigDict(extra="forbid")

    settings: Settings = Field(default_factory=Settings, description="The index, models and default generator.")
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, ge=1, le=65535)
    token: SecretStr | None = Field(None, description="Bearer token every request but /health must carry.")
    data_dir: Path = Field(
        Path("mediarag-server"),
        description="Uploaded files (library/), downloads and the job table (jobs.json).",
    )
    max_upload_mb: int = Field(200, ge=1, description="Largest uploaded file, in MB.")
    max_files_per_upload: int = Field(20, ge=1, description="Most files in one upload request.")
    max_request_kb: int = Field(1024, ge=1, description="Largest JSON request body, in kB.")
    allow_url_ingest: bool = Field(
        False,
        description="Accept s3:// and https:// URLs in POST /v1/ingest (the server then fetches what a "
        "client names: allow it only for trusted clients).",
    )
    generators: list[Backend] = Field(
        default_factory=list,
        description="Generators a request may choose besides the settings' own (built from the "
        "settings: a client never passes a model path, an endpoint or a key).",
    )
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed to call from a browser page.")
    public_url: str | None = Field(
        None, description="The server's address as clients reach it (for media links); default: the request's."
    )
    model_name: str = Field("mediarag", description="The model name of the OpenAI-compatible API.")
    refresh_seconds: float = Field(
        2.0, gt=0, description="How often the index is checked for what other processes committed."
    )
    shutdown_seconds: float = Field(10.0, ge=0, description="How long a stop waits for the file being ingested.")
    parallel_answers: int | None = Field(
        None,
        ge=1,
        description="Answers and searches computed at once (others wait their turn); None: twice the "
        "CPU cores. More only makes threads fight over the cores; answers from a remote generator "
        "(openai, sagemaker) do not count.",
    )

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def library_dir(self) -> Path:
        """Where uploaded and downloaded files are kept (they are the indexed sources)."""
        return self.data_dir / "library"

    @property
    def jobs_file(self) -> Path:
        return self.data_dir / "jobs.json"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb << 20

    @property
    def answer_slots(self) -> int:
        """How many answers and searches run at once (`parallel_answers`, or twice the cores)."""
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return self.parallel_answers or 2 * cores

    @property
    def allowed_generators(self) -> list[str]:
        """The settings' generator first, then the others a request may choose."""
        default = self.settings.generation.backend
        return [default] + [g for g in dict.fromkeys(self.generators) if g != default]

    def check(self) -> None:
        """`ConfigError` when the server must not start: a non-loopback address without a
        token, or a token shorter than `MIN_TOKEN_CHARS`."""
        if self.token is not None and len(self.token.get_secret_value()) < MIN_TOKEN_CHARS:
            raise ConfigError(f"the token is too short: use at least {MIN_TOKEN_CHARS} characters")
        if self.token is None and not is_loopback(self.host):
            raise ConfigError(
                f"refusing to listen on {self.host} without a token: anyone who can reach it could read and "
                "change the index. Give --token-file FILE (a file holding a long random token), or listen "
                "on 127.0.0.1"
            )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token(path: str | os.PathLike[str]) -> SecretStr:
    """The token in ``path`` (surrounding whitespace removed); `ConfigError` naming the file when
    it cannot be read or is empty."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read the token file {path}: {reason}") from exc
    if not text:
        raise ConfigError(f"the token file {path} is empty")
    return SecretStr(text)
