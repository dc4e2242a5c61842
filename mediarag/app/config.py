"""What one app process serves: the pipeline settings, where uploads go, and the upload limit."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConfigError
from ..settings import Settings

#: The environment variable through which `mediarag app` hands its configuration to the page.
CONFIG_ENV = "MEDIARAG_APP_CONFIG"


class AppConfig(BaseModel):
    """The chat app's configuration; `mediarag app` builds it from its command line."""

    model_config = ConfigDict(extra="forbid")

    settings: Settings = Field(default_factory=Settings, description="The pipeline (index, models, generator).")
    data_dir: Path = Field(
        Path("mediarag-app"),
        description="Uploads are stored here: conversation files under uploads/, library files under library/.",
    )
    max_upload_mb: int = Field(200, ge=1, description="Largest accepted upload, in MB.")

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def library_dir(self) -> Path:
        return self.data_dir / "library"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb << 20

    def to_env(self) -> dict[str, str]:
        """The environment entry that carries this configuration to the page. The OpenAI API key
        is left out: the generator reads it from ``$OPENAI_API_KEY``, or the user types it in."""
        resolved = self.model_copy(update={"data_dir": self.data_dir.resolve()})
        return {CONFIG_ENV: resolved.model_dump_json(exclude={"settings": {"generation": {"openai_api_key"}}})}

    @classmethod
    def from_env(cls) -> AppConfig:
        """The configuration `to_env` wrote, or the defaults when there is none."""
        raw = os.environ.get(CONFIG_ENV)
        if not raw:
            return cls()
        try:
            return cls.model_validate_json(raw)
        except ValueError as exc:
            raise ConfigError(f"${CONFIG_ENV} does not hold an app configuration: {exc}") from exc
