"""Generators: write an answer from retrieved passages.

`ExtractiveGenerator` needs no model. The LLM generators, `LlamaCppGenerator` (local GGUF
models) and `OpenAICompatibleGenerator` (any ``/v1/chat/completions`` endpoint), share
`ChatGenerator` and the prompt functions of `mediarag.generate.prompt`; they load on first use.
So does `mediarag.generate.sagemaker.SageMakerGenerator`, for an LLM on a SageMaker endpoint
(the ``aws`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Generation, GenerationStream, Generator, QuestionRewriter, StreamingGenerator
from .config import GenerationConfig
from .extractive import ExtractiveGenerator

if TYPE_CHECKING:
    from ..aws.clients import AwsConfig
    from .chat import ChatGenerator
    from .llama_cpp import LlamaCppGenerator
    from .openai import OpenAICompatibleGenerator

_LAZY = {
    "ChatGenerator": "chat",
    "LlamaCppGenerator": "llama_cpp",
    "OpenAICompatibleGenerator": "openai",
}

__all__ = [
    "ChatGenerator",
    "ExtractiveGenerator",
    "Generation",
    "GenerationConfig",
    "GenerationStream",
    "Generator",
    "LlamaCppGenerator",
    "OpenAICompatibleGenerator",
    "QuestionRewriter",
    "StreamingGenerator",
    "make_generator",
]


def make_generator(config: GenerationConfig | None = None, aws: AwsConfig | None = None) -> Generator:
    """The generator ``config`` describes (a model loads in ``warm_up`` or on first use)."""
    config = config or GenerationConfig()
    if config.backend == "local":
        from .llama_cpp import LlamaCppGenerator

        return LlamaCppGenerator.from_config(config)
    if config.backend == "openai":
        from .openai import OpenAICompatibleGenerator

        return OpenAICompatibleGenerator.from_config(config)
    if config.backend == "sagemaker":
        from .sagemaker import SageMakerGenerator

        return SageMakerGenerator.from_config(config, aws)
    return ExtractiveGenerator()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
