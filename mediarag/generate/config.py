"""`GenerationConfig`: who writes the answers, and their limits (the ``generation`` settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Backend = Literal["extractive", "local", "openai", "sagemaker"]


class GenerationConfig(BaseModel):
    """The answer generator and its options (`mediarag.generate.make_generator`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    backend: Backend = Field(
        "extractive",
        description="'extractive' (sentences of the passages, no model), 'local' (a GGUF model "
        "through llama-cpp-python, needs the llm extra), 'openai' (an OpenAI-compatible "
        "endpoint) or 'sagemaker'.",
    )
    model: str | None = Field(
        None,
        description="local: 'qwen2.5-1.5b' (default, packaged), 'qwen2.5-0.5b' (packaged, faster), 'smollm2-135m', a "
        ".gguf file or a hub repository; openai: the endpoint's model name (default $OPENAI_MODEL).",
    )
    context_window: int = Field(4096, ge=256, description="Tokens of prompt and answer together.")
    max_tokens: int = Field(256, ge=1, description="Longest answer, in tokens.")
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    stop: list[str] = Field(default_factory=list, description="Extra stop sequences.")
    timeout: float = Field(120.0, gt=0, description="Seconds one answer may take, model load and prompt included.")
    moment_sentences: int | None = Field(
        3, ge=1, description="LLMs read only this many best-matching sentences of the passages (None: whole passages)."
    )
    threads: int | None = Field(None, ge=1, description="local: CPU threads (default: all).")
    openai_base_url: str | None = Field(
        None, description="openai: API root such as http://localhost:11434/v1 (default $OPENAI_BASE_URL)."
    )
    openai_api_key: SecretStr | None = Field(None, description="openai: default $OPENAI_API_KEY.")
    endpoint: str | None = Field(None, description="sagemaker: LLM endpoint; else $falcon_ep_name.")
