"""One rule for the times of a transcriber's output, whichever backend made it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..schema import Segment, Word

#: The shortest a recognised word lasts: a word timestamped at one instant (Whisper does this
#: at window edges) gets this much, within the audio.
MIN_WORD_SECONDS = 0.02


@dataclass(frozen=True)
class TimedPiece:
    """Text a backend returned with its times (absolute, in seconds; None when it gave none)."""

    start: float | None
    end: float | None
    text: str
    words: Sequence[Word] = ()
    language: str | None = None


def timed_segments(
    pieces: Sequence[TimedPiece], *, stop: float, start: float = 0.0, language: str | None = None
) -> list[Segment]:
    """``pieces`` as segments that keep a transcript's rules.

    Blank pieces are dropped. A missing start is the previous piece's end (or ``start``); a
    missing end is the next piece's start (or ``stop``). Times are clamped into
    ``[start, stop]``, starts never decrease, and an end before its start moves to the next
    piece's start (or the start itself). Words are clamped the same way inside the file, each
    lasts at least `MIN_WORD_SECONDS` where there is room, and a segment spans its words.
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
        words = _timed_words(piece.words, start, stop)
        if words:
            a, b = min(a, words[0].start), max(b, words[-1].end)
        segments.append(Segment(start=a, end=b, text=piece.text.strip(), language=piece.language or language, words=words))
        floor, previous_end = a, b
    return segments


def _timed_words(words: Sequence[Word], start: float, stop: float) -> tuple[Word, ...]:
    out: list[Word] = []
    last = start
    for i, word in enumerate(words):
        a = max(min(max(word.start, start), stop), last)
        b = min(max(word.end, a), stop)
        if b - a < MIN_WORD_SECONDS:
            nxt = words[i + 1].start if i + 1 < len(words) else stop
            b = min(a + MIN_WORD_SECONDS, max(min(nxt, stop), a))
        out.append(word.model_copy(update={"start": a, "end": b}))
        last = a
    return tuple(out)
