"""One rule for the times of a transcriber's output, whichever backend made it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..schema import Segment, Word
from ..sentences import MIN_SECONDS, give_length


@dataclass(frozen=True)
class TimedPiece:
    """Text a backend returned with its times (absolute, in seconds; None when it gave none)."""

    start: float | None
    end: float | None
    text: str
    words: Sequence[Word] = ()
    language: str | None = None


def timed_segments(
    pieces: Sequence[TimedPiece],
    *,
    stop: float,
    start: float = 0.0,
    language: str | None = None,
    word_lengths: bool = True,
) -> list[Segment]:
    """``pieces`` as segments that keep a transcript's rules.

    Blank pieces are dropped. A missing start is the previous piece's end (or ``start``); a
    missing end is the next piece's start (or ``stop``). Times are clamped into
    ``[start, stop]``, starts never decrease, and an end before its start moves to the next
    piece's start (or the start itself). Words are clamped the same way, a word of no length
    gets about the time it takes to say (`with_word_lengths`; ``word_lengths=False`` leaves that
    for later), and a segment spans its words.
    """
    kept = [p for p in pieces if p.text.strip()]
    segments: list[Segment] = []
    floor = start
    previous_end = start
    for i, piece in enumerate(kept):
        following = kept[i + 1].start if i + 1 < len(kept) else None
        a = piece.start if piece.start is not None else previous_end
        a = min(max(a, floor, start), stop)
        b = piece.end if piece.end is not None else (following if following is not None else stop)
        if b < a:
            b = max(a, following) if following is not None else a
        b = min(max(b, start), stop)
        words = _clamped_words(piece.words, start, stop)
        if words:
            a, b = min(a, words[0].start), max(b, words[-1].end)
        segment = Segment(start=a, end=b, text=piece.text.strip(), language=piece.language or language, words=words)
        segments.append(with_word_lengths(segment, stop) if word_lengths else segment)
        floor, previous_end = a, b
    return segments


def with_word_lengths(segment: Segment, stop: float) -> Segment:
    """``segment`` with each word of no length (Whisper squeezes some onto one instant) given
    about its own length, within ``[0, stop]`` (`mediarag.sentences.give_length`)."""
    if all(w.end - w.start >= MIN_SECONDS for w in segment.words):
        return segment
    spans = give_length([(w.start, w.end) for w in segment.words], [w.text for w in segment.words], stop)
    words = tuple(w.model_copy(update={"start": a, "end": b}) for w, (a, b) in zip(segment.words, spans))
    start, end = min(segment.start, words[0].start), max(segment.end, max(w.end for w in words))
    return segment.model_copy(update={"start": start, "end": end, "words": words})


def _clamped_words(words: Sequence[Word], start: float, stop: float) -> tuple[Word, ...]:
    out: list[Word] = []
    last = start
    for word in words:
        a = max(min(max(word.start, start), stop), last)
        b = min(max(word.end, a), stop)
        out.append(word.model_copy(update={"start": a, "end": b}))
        last = a
    return tuple(out)
