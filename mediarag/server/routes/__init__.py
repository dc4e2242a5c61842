"""The API's routes, one module per concern."""

from . import answers, docs, health, ingest, library, media, openai

__all__ = ["answers", "docs", "health", "ingest", "library", "media", "openai"]
