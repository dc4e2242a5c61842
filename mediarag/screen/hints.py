"""Words read on screen that help the transcriber spell the speech around them.

Names, product names and terms on a slide are what Whisper most often misspells when it hears
them ("the Lonely Warsaw" for Polonia Warsaw). The words kept are the ones that look like
names: capitalised (not sentence-opening function words), all capitals, or letters mixed with
digits (EC2, Q3); each with the seconds it is on screen (`mediarag.transcribe.hints.Hint`), so
the transcriber gives each stretch of speech the words shown around it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..generate.extractive import content_words
from ..schema import Segment
from ..transcribe.hints import Hint

_TOKEN = re.compile(r"[^\W_][\w'’.-]*[^\W_]|[^\W_]", re.UNICODE)


def name_like(word: str) -> bool:
    """Whether a word read on screen looks like a name or a term worth a hint."""
    if len(word) < 3 or word.isdigit() or not content_words(word):
        return False
    letters = [c for c in word if c.isalpha()]
    if not letters:
        return False
    capitalised = letters[0].isupper() and len(letters) >= 4
    acronym = len(letters) >= 2 and all(c.isupper() for c in letters)
    mixed = any(c.isdigit() for c in word)
    return capitalised or acronym or mixed


def screen_hints(segments: Sequence[Segment]) -> list[Hint]:
    """One hint per screen segment that shows name-like words: those words (each once), for the
    seconds the segment is on screen."""
    hints = []
    for segment in segments:
        seen: set[str] = set()
        words = []
        for word in _TOKEN.findall(segment.text):
            if name_like(word) and word.casefold() not in seen:
                seen.add(word.casefold())
                words.append(word)
        if words:
            hints.append(Hint(" ".join(words), segment.start, segment.end))
    return hints
