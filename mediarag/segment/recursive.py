"""Character-count chunks in the manner of LangChain's RecursiveCharacterTextSplitter, with times.

The sentences are joined into one text; the text is split on the first separator that occurs
in it, pieces still too long are split recursively on the next separators, and neighbouring
pieces are merged back up to ``chunk_size`` characters with ``chunk_overlap`` characters shared
between consecutive chunks. Everything works on character offsets into the joined text, so each
chunk can be traced back to the sentences, and the seconds, it came from.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from typing import Literal

import numpy as np

from ..errors import ConfigError
from ..schema import Segment
from ..sentences import join_with_offsets
from ._passages import joined_original, majority_language

Span = tuple[int, int]


class RecursiveCharacterSegmenter:
    """Cuts the transcript into chunks of at most ``chunk_size`` characters, at natural breaks.

    The sentences are joined into one text (one space between them, none next to CJK text) and
    split recursively on ``separators`` in order of preference, LangChain-style. A chunk's start
    and end times come from its first and last characters: from the word holding that character
    when the sentence has word timings, otherwise interpolated linearly across the sentence.
    Its language is the most common among the sentences it touches, and its ``original_text``
    joins those sentences' original texts (when any has one).

    A piece that no separator can shorten (a very long word when ``""`` is not a separator) is
    kept whole, so it may exceed ``chunk_size``.

    Args:
        chunk_size: Largest chunk, in characters (> 0).
        chunk_overlap: Characters shared by consecutive chunks, at most (``0 <= overlap < size``).
        separators: Strings to split on, most preferred first; ``""`` splits between characters.
        keep_separator: Whether a separator stays at the ``"end"`` of the piece before it (so a
            sentence keeps its full stop) or at the ``"start"`` of the piece after it (LangChain's
            default).
    """

    def __init__(
        self,
        chunk_size: int = 500,
        chunk_overlap: int = 0,
        separators: Sequence[str] = ("\n\n", "\n", ". ", " ", ""),
        keep_separator: Literal["start", "end"] = "end",
    ) -> None:
        if chunk_size <= 0:
            raise ConfigError(f"chunk_size must be > 0, got {chunk_size!r}")
        if not 0 <= chunk_overlap < chunk_size:
            raise ConfigError(
                f"chunk_overlap must be >= 0 and < chunk_size ({chunk_size!r}), "
                f"got {chunk_overlap!r}"
            )
        if isinstance(separators, str) or not separators:
            raise ConfigError(
                f"separators must be a non-empty sequence of strings, got {separators!r}"
            )
        if keep_separator not in ("start", "end"):
            raise ConfigError(f"keep_separator must be 'start' or 'end', got {keep_separator!r}")
        self.chunk_size = int(chunk_size)
        self.chunk_overlap = int(chunk_overlap)
        self.separators = tuple(separators)
        self.keep_separator = keep_separator

    def warm_up(self) -> None:
        """Nothing to load."""

    # -- text ----------------------------------------------------------------------------------

    def split_text(self, text: str) -> list[str]:
        """The chunks of a plain text (what LangChain's ``split_text`` returns)."""
        return [text[a:b] for a, b in self.split_spans(text)]

    def split_spans(self, text: str) -> list[Span]:
        """Each chunk of ``text`` as ``(start, end)`` offsets, without surrounding whitespace."""
        spans = []
        for a, b in self._split(text, 0, len(text), self.separators):
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if b > a:
                spans.append((a, b))
        return spans

    def _split(self, text: str, lo: int, hi: int, separators: tuple[str, ...]) -> list[Span]:
        piece = text[lo:hi]
        separator, rest = separators[-1], ()
        for i, sep in enumerate(separators):
            if sep == "":
                separator = sep
                break
            if sep in piece:
                separator, rest = sep, separators[i + 1 :]
                break
        chunks: list[Span] = []
        good: list[Span] = []
        for a, b in self._pieces(text, lo, hi, separator):
            if b - a < self.chunk_size:
                good.append((a, b))
                continue
            if good:
                chunks.extend(self._merge(good))
                good = []
            chunks.extend(self._split(text, a, b, rest) if rest else [(a, b)])
        if good:
            chunks.extend(self._merge(good))
        return chunks

    def _pieces(self, text: str, lo: int, hi: int, separator: str) -> list[Span]:
        """Contiguous pieces of ``text[lo:hi]`` cut at each separator, which stays attached."""
        if separator == "":
            return [(k, k + 1) for k in range(lo, hi)]
        matches = re.finditer(re.escape(separator), text[lo:hi])
        cuts = [lo + (m.end() if self.keep_separator == "end" else m.start()) for m in matches]
        bounds = [lo, *cuts, hi]
        return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]

    def _merge(self, pieces: list[Span]) -> list[Span]:
        """Merge consecutive pieces into chunks of up to ``chunk_size``, sharing the overlap."""
        chunks: list[Span] = []
        current: deque[Span] = deque()
        total = 0
        for a, b in pieces:
            size = b - a
            if total + size > self.chunk_size and current:
                chunks.append((current[0][0], current[-1][1]))
                while total > self.chunk_overlap or (total + size > self.chunk_size and total > 0):
                    first = current.popleft()
                    total -= first[1] - first[0]
            current.append((a, b))
            total += size
        if current:
            chunks.append((current[0][0], current[-1][1]))
        return chunks

    # -- sentences -----------------------------------------------------------------------------

    def split(self, sentences: Sequence[Segment]) -> list[Segment]:
        if not sentences:
            return []
        text, spans = join_with_offsets(s.text for s in sentences)
        keep = [i for i, (a, b) in enumerate(spans) if b > a]
        if not keep:
            return []
        clock = _Clock([sentences[i] for i in keep], [spans[i] for i in keep])
        passages = []
        for a, b in self.split_spans(text):
            first, last = clock.sentence_at(a), clock.sentence_at(b - 1)
            start = clock.time(first, a, at_end=False)
            end = max(clock.time(last, b - 1, at_end=True), start)
            touched = clock.sentences[first : last + 1]
            passages.append(
                Segment(
                    start=start,
                    end=end,
                    text=text[a:b],
                    language=majority_language(touched),
                    original_text=joined_original(touched),
                )
            )
        return passages


class _Clock:
    """Maps character offsets of the joined text to times."""

    def __init__(self, sentences: list[Segment], spans: list[Span]) -> None:
        self.sentences = sentences
        self.offsets = np.array([a for a, _ in spans], dtype=np.int64)
        self.lengths = np.array([b - a for a, b in spans], dtype=np.int64)
        self._word_maps: dict[int, np.ndarray | None] = {}

    def sentence_at(self, offset: int) -> int:
        """The sentence holding character ``offset`` (the one before it, for a joining space)."""
        return max(int(np.searchsorted(self.offsets, offset, side="right")) - 1, 0)

    def time(self, index: int, offset: int, *, at_end: bool) -> float:
        """Start (or, ``at_end``, end) time of the character at ``offset`` in sentence ``index``."""
        sentence = self.sentences[index]
        length = int(self.lengths[index])
        char = min(max(offset - int(self.offsets[index]), 0), length - 1)
        words = self._word_map(index)
        if words is not None:
            word = sentence.words[int(words[char])]
            return word.end if at_end else word.start
        fraction = (char + 1 if at_end else char) / length
        return sentence.start + (sentence.end - sentence.start) * fraction

    def _word_map(self, index: int) -> np.ndarray | None:
        """For each character of the stripped sentence text, the index of its word, if usable.

        Words are usable when their texts, concatenated, spell the sentence text (whitespace
        aside). A space maps to the word after it.
        """
        if index in self._word_maps:
            return self._word_maps[index]
        sentence = self.sentences[index]
        text = sentence.text.strip()
        mapping = None
        words = [re.sub(r"\s+", "", w.text) for w in sentence.words]
        if words and "".join(words) == re.sub(r"\s+", "", text):
            solid = np.array([not ch.isspace() for ch in text], dtype=bool)
            rank = np.cumsum(solid) - solid  # solid characters before each character
            owner = np.repeat(np.arange(len(words)), [len(w) for w in words])
            mapping = owner[np.minimum(rank, len(owner) - 1)]
        self._word_maps[index] = mapping
        return mapping
