"""What a question or search query may be: not empty, and not longer than `MAX_QUERY_CHARS`."""

from __future__ import annotations

from ..errors import ConfigError

#: The longest question or search query taken, in characters (about 400 words). Longer text
#: is not a question; embedding it would take minutes (a 1 MB question took 590 s).
MAX_QUERY_CHARS = 2000


def check_query(text: str, what: str = "question") -> str:
    """``text`` stripped; `ConfigError` when it is empty or over `MAX_QUERY_CHARS`."""
    if not isinstance(text, str):
        raise ConfigError(f"the {what} must be text, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ConfigError(f"the {what} is empty")
    if len(stripped) > MAX_QUERY_CHARS:
        raise ConfigError(
            f"the {what} is {len(stripped):,} characters long; the limit is {MAX_QUERY_CHARS:,} (ask a shorter question)"
        )
    return stripped
