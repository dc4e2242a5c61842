"""Giving each transcribed word the speaker of the turn it falls in.

A word gets the speaker whose turns overlap it the longest (in overlapped speech: the turn
that covers it best); a tie goes to the turn whose middle is nearest the word's. A word no turn
overlaps (the VAD and Whisper disagree about where speech is) gets the speaker of the nearest
turn. No word is ever dropped: there is one label per word, in order; with no turns at all,
every label is None.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class TurnLike(Protocol):
    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class _Index:
    """Turns sorted by start, with what the search needs."""

    turns: list[TurnLike]
    starts: list[float]
    longest: float
    #: ``latest_end[i]``: the position of the turn ending last among ``turns[: i + 1]``.
    latest_end: list[int]

    @classmethod
    def build(cls, turns: Sequence[TurnLike]) -> _Index:
        ordered = sorted(turns, key=lambda t: (t.start, t.end))
        latest: list[int] = []
        for i, turn in enumerate(ordered):
            latest.append(i if not latest or turn.end > ordered[latest[-1]].end else latest[-1])
        return cls(ordered, [t.start for t in ordered], max(t.end - t.start for t in ordered), latest)


def assign_speakers(spans: Sequence[tuple[float, float]], turns: Sequence[TurnLike]) -> list[str | None]:
    """One speaker label per ``(start, end)`` span of a word (see the module docstring)."""
    if not turns:
        return [None] * len(spans)
    index = _Index.build(turns)
    return [_speaker_of(float(start), float(end), index) for start, end in spans]


def _speaker_of(start: float, end: float, index: _Index) -> str:
    end = max(end, start)
    middle = (start + end) / 2
    first = bisect.bisect_left(index.starts, start - index.longest)  # no earlier turn reaches start
    last = bisect.bisect_right(index.starts, end)
    overlap: dict[str, float] = {}
    closeness: dict[str, float] = {}
    for turn in index.turns[first:last]:
        shared = min(end, turn.end) - max(start, turn.start)
        inside = end == start and turn.start <= start <= turn.end  # a word of no length
        if shared > 0 or inside:
            overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + max(shared, 0.0)
            distance = abs((turn.start + turn.end) / 2 - middle)
            closeness[turn.speaker] = min(closeness.get(turn.speaker, float("inf")), distance)
    if overlap:
        return max(overlap, key=lambda s: (overlap[s], -closeness[s]))
    return _nearest(start, end, index)


def _nearest(start: float, end: float, index: _Index) -> str:
    """The speaker of the turn with the smallest gap to ``[start, end]``: the first turn
    starting after it, or the turn ending last before it."""
    after = bisect.bisect_left(index.starts, end)
    candidates = []
    if after < len(index.turns):
        turn = index.turns[after]
        candidates.append((turn.start - end, 1, turn.speaker))
    if after > 0:
        turn = index.turns[index.latest_end[after - 1]]
        candidates.append((start - turn.end, 0, turn.speaker))
    return min(candidates)[2]
