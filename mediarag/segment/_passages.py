"""Building a passage from consecutive sentences: shared by every segmenter."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from ..schema import Segment
from ..sentences import join_texts


def majority_language(sentences: Iterable[Segment]) -> str | None:
    """The most common language among ``sentences`` (the first seen on a tie), else ``None``."""
    counts = Counter(s.language for s in sentences if s.language)
    return counts.most_common(1)[0][0] if counts else None


def joined_original(sentences: Sequence[Segment]) -> str | None:
    """Joined ``original_text`` if any sentence has one (others give their ``text``), else None."""
    if not any(s.original_text is not None for s in sentences):
        return None
    return join_texts(s.original_text if s.original_text is not None else s.text for s in sentences)


def passage_from(sentences: Sequence[Segment]) -> Segment:
    """One passage from consecutive sentences: their span, joined text, majority language."""
    if not sentences:
        raise ValueError("cannot merge an empty list of sentences")
    return Segment(
        start=min(s.start for s in sentences),
        end=max(s.end for s in sentences),
        text=join_texts(s.text for s in sentences),
        language=majority_language(sentences),
        original_text=joined_original(sentences),
    )
