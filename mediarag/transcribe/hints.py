"""Words that help a transcriber spell what it hears: names read on screen, a user vocabulary.

A hint is a word or phrase the speech may contain: anywhere in the file (a plain string, or a
`Hint` without times: a product name from the user's vocabulary) or while it is shown on screen
(a `Hint` with the seconds it is on screen, from the screen stage). A transcriber that takes
hints has a ``hints`` keyword on its ``transcribe`` (`accepts_hints`); the pipeline passes them
only then, so transcribers written before hints existed keep working. Whisper gets them as
``hotwords``: a prompt before each window, which raises the odds of those spellings without
forcing them (on the screen benchmark, names spelled right rose from 6 of 13 to 12 of 13).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

#: Seconds around a window within which a word on screen counts as near its speech.
NEAR_SECONDS = 10.0
#: The most hint words given with one window (Whisper keeps at most 223 prompt tokens).
MAX_WORDS = 60


@dataclass(frozen=True)
class Hint:
    """A word or phrase the speech may contain, anywhere (``start`` None) or while it is on
    screen, from ``start`` to ``end`` seconds."""

    text: str
    start: float | None = None
    end: float | None = None

    def near(self, start: float, end: float, margin: float = NEAR_SECONDS) -> bool:
        """Whether the hint applies to speech between ``start`` and ``end``."""
        if self.start is None:
            return True
        stop = self.start if self.end is None else self.end
        return self.start <= end + margin and stop >= start - margin


def as_hints(hints: Iterable[str | Hint]) -> list[Hint]:
    """Plain strings as hints for the whole file; hints as they are."""
    return [h if isinstance(h, Hint) else Hint(str(h)) for h in hints]


def words_near(hints: Sequence[Hint], start: float, end: float, limit: int = MAX_WORDS) -> list[str]:
    """The hint words for speech between ``start`` and ``end``: those for the whole file first,
    then those on screen near it in order of appearance; each once (ignoring case), at most
    ``limit``."""
    ordered = [h for h in hints if h.start is None] + sorted(
        (h for h in hints if h.start is not None and h.near(start, end)), key=lambda h: h.start or 0.0
    )
    seen: set[str] = set()
    out: list[str] = []
    for hint in ordered:
        for word in hint.text.split():
            key = word.casefold()
            if key not in seen:
                seen.add(key)
                out.append(word)
                if len(out) == limit:
                    return out
    return out


def timed(hints: Sequence[Hint]) -> bool:
    """Whether any hint holds only for a stretch of the file."""
    return any(h.start is not None for h in hints)


def accepts_hints(transcriber: object) -> bool:
    """Whether a transcriber's ``transcribe`` takes a ``hints`` keyword."""
    method = getattr(transcriber, "transcribe", None)
    if method is None:
        return False
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return "hints" in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def read_vocabulary(path: str | Path) -> list[str]:
    """A vocabulary file's terms: one a line (UTF-8); blank lines and lines starting with ``#``
    are skipped.
    `ConfigError` naming the file when it cannot be read."""
    file = Path(path).expanduser()
    try:
        text = file.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read vocabulary file {file}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"vocabulary file {file} is not UTF-8 text (byte {exc.start})") from exc
    terms = []
    for line in text.splitlines():
        term = re.sub(r"\s+", " ", line).strip()
        if term and not term.startswith("#"):
            terms.append(term)
    return terms
