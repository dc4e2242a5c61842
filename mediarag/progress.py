"""Progress bars for long work: tqdm on standard error, silenced with ``MEDIARAG_PROGRESS=0``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

#: Called during ingest and `Conversation.add_file` with a file's source, the seconds of its
#: audio transcribed so far, and its duration in seconds (an app's progress bar, a log line).
FileProgress = Callable[[str, float, float], None]


def progress_enabled() -> bool:
    return os.environ.get("MEDIARAG_PROGRESS", "1").lower() not in {"0", "false", "no", "off"}


def progress_bar(**kwargs: Any):  # type: ignore[no-untyped-def]
    """A tqdm bar (disabled when ``MEDIARAG_PROGRESS=0``); use it as a context manager."""
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", not progress_enabled())
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(**kwargs)
