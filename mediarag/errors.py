"""Exceptions raised by mediarag.

Every error a user can cause derives from `MediaRagError`, so callers can catch one type.
Errors about a file carry its path in ``.source`` and name it in the message.
"""

from __future__ import annotations


class MediaRagError(Exception):
    """Base class of every error mediarag raises on purpose."""


class ConfigError(MediaRagError, ValueError):
    """A setting or argument has a value mediarag cannot use; the message names it."""


class MediaError(MediaRagError):
    """A media file cannot be read: missing, empty, corrupt, or without an audio stream."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class ModelError(MediaRagError):
    """A model cannot be found, assembled or loaded."""


class IndexStoreError(MediaRagError):
    """An index directory cannot be read or written."""


class MissingDependencyError(MediaRagError, ImportError):
    """An optional dependency is not installed; the message says which extra provides it."""

    def __init__(self, package: str, extra: str | None = None, purpose: str = "", hint: str | None = None) -> None:
        hint = hint or (f"pip install 'mediarag[{extra}]'" if extra else f"pip install {package}")
        what = f" for {purpose}" if purpose else ""
        super().__init__(f"{package} is required{what}: {hint}")


class ServiceError(MediaRagError):
    """A remote service (an AWS endpoint, job, bucket or API) refused or failed a request.

    ``resource`` names what was called (an endpoint, a job, an ``s3://`` URL) and ``reason`` is
    one of ``not_found``, ``access_denied``, ``too_large``, ``throttled``, ``failed``,
    ``timeout`` or ``invalid``; the message carries both and the service's own words.
    """

    def __init__(self, resource: str, reason: str, detail: str = "") -> None:
        self.resource = resource
        self.reason = reason
        self.detail = detail
        text = f"{resource}: {reason.replace('_', ' ')}"
        super().__init__(f"{text} ({detail})" if detail else text)


class GeneratorError(MediaRagError):
    """A generator could not write an answer: an endpoint refused or failed, or it timed out."""


def exit_status(exc: MediaRagError) -> int:
    """A command's exit status for an error: 2 for a usage error (`ConfigError`), else 1."""
    return 2 if isinstance(exc, ConfigError) else 1
