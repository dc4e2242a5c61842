"""Links that open a media file at a moment (W3C Media Fragments: ``#t=start,end``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

_REMOTE_SCHEMES = ("http", "https", "s3", "gs", "file")

#: Extensions of text documents a conversation can hold (`mediarag.Conversation.add_file`).
TEXT_EXTENSIONS = frozenset({".txt", ".text", ".md", ".markdown", ".rst"})


def is_url(source: str) -> bool:
    """Whether a source is a URL (http, https, s3, gs, file) rather than a local path."""
    scheme = urlsplit(source).scheme.lower()
    return scheme in _REMOTE_SCHEMES


def is_s3_url(value: object) -> bool:
    """Whether a value is an ``s3://`` URL."""
    return isinstance(value, str) and value.lower().startswith("s3://")


def check_s3_url(value: str | None) -> str | None:
    """``value`` when it is ``None`` or an ``s3://bucket/prefix`` URL; else ``ValueError``."""
    if value is not None and not is_s3_url(value):
        raise ValueError(f"expected an s3://bucket/prefix URL, got {value!r}")
    return value


def is_text_source(source: str) -> bool:
    """Whether a source is a text document (by extension) rather than audio or video."""
    return Path(urlsplit(source).path if is_url(source) else source).suffix.lower() in TEXT_EXTENSIONS


def media_link(source: str, start: float, end: float | None = None) -> str:
    """A link that plays ``source`` from ``start`` (to ``end``) seconds.

    Local paths become absolute ``file://`` URIs; URLs keep their form. Any fragment the source
    already has is replaced. A text document (`is_text_source`) has no time: its link is the
    document itself.
    """
    base = source if is_url(source) else Path(source).expanduser().resolve().as_uri()
    base = base.split("#", 1)[0]
    if is_text_source(source):
        return base
    fragment = f"t={_seconds(start)}" + (f",{_seconds(end)}" if end is not None else "")
    return f"{base}#{fragment}"


def _seconds(value: float) -> str:
    text = f"{max(value, 0.0):.1f}"
    return text


def clock(seconds: float) -> str:
    """``mm:ss`` (or ``h:mm:ss`` past an hour) for display."""
    total = int(max(seconds, 0.0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
