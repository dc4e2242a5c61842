"""Rebuilding whole sentences, with their times, from a transcriber's fragments.

Whisper cuts its output where its 30 s windows and timestamp tokens fall, not where sentences end.
`merge_sentences` joins the fragments and cuts them again at sentence ends. Compared with the
AWS sample this started from: a trailing fragment without a final period is kept; ``! ? …`` and
the CJK and Arabic full stops end sentences; abbreviations ("Dr.", "e.g.") and decimals ("3.5")
do not; with word timestamps a sentence's times are those of its first and last words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .schema import Segment, Word

_TERMINALS = (".", "!", "?", "…", "。", "！", "？", "؟", "।")
_CLOSERS = "\"'”’»)]}）」』"
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st vs etc e.g i.e a.m p.m u.s u.k no vol fig approx dept inc ltd
    co corp mt ft jan feb mar apr jun jul aug sep sept oct nov dec sra sres dra av ca bzw z.b usw
    d.h mme mlle""".split()
)
_CJK_STOP = re.compile(r"(?<=[。！？])")  # CJK sentences follow each other without spaces

#: Shorter than this, a word or a sentence has no length (a timestamp collapsed onto another).
MIN_SECONDS = 0.01
#: About how long a spoken letter lasts, to give a word with no length of its own one.
SECONDS_PER_LETTER = 0.07

#: A sentence that runs longer than this without punctuation is cut at the next pause.
MAX_SENTENCE_SECONDS = 30.0
#: A silence at least this long between words ends a sentence even without punctuation.
PAUSE_SECONDS = 2.0


def ends_sentence(token: str, following: str | None = None) -> bool:
    """Whether a word (with its punctuation) ends a sentence.

    ``following`` is the next word, if known: a lower-case continuation after "." means the
    period did not end the sentence.
    """
    word = token.strip().rstrip(_CLOSERS)
    if not word:
        return False
    if word[-1] in "。！？؟!?…":
        return True
    if not word.endswith("."):
        return False
    if word.endswith("..."):
        return True
    stem = word[:-1].lower().lstrip("¿¡\"'“‘«([")
    if stem in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha()):
        return False
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", stem):  # u.s.a.
        return False
    if following is not None:
        nxt = following.strip()
        if nxt[:1].isdigit() and stem[-1:].isdigit():  # "3." + "5" split across tokens
            return False
        if nxt[:1].islower():
            return False
    return True


# Scripts written without spaces between words: Han, kana, bopomofo, CJK punctuation and
# full-width forms. Hangul is left out on purpose: Korean separates words with spaces.
_CJK = re.compile(
    "[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff\u3200-\u9fff"
    "\uf900-\ufaff\uff00-\uff9f\U00020000-\U0003134f]"
)


def is_cjk(char: str) -> bool:
    """Whether ``char`` belongs to a script written without spaces between words."""
    return bool(_CJK.match(char))


def joiner(left: str, right: str) -> str:
    """The separator between two stripped, non-empty texts: none next to CJK, else one space."""
    return "" if is_cjk(left[-1]) or is_cjk(right[0]) else " "


def join_with_offsets(texts: Iterable[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join stripped texts as `join_texts` does and return each text's ``(start, end)``.

    An empty (or blank) text gets an empty span at the position where it would have been.
    """
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    last = ""
    for raw in texts:
        text = raw.strip()
        if text and last:
            sep = joiner(last, text)
            parts.append(sep)
            length += len(sep)
        spans.append((length, length + len(text)))
        if text:
            parts.append(text)
            length += len(text)
            last = text
    return "".join(parts), spans


def join_texts(texts: Iterable[str]) -> str:
    """Join texts with one space, or with nothing where either side of the join is CJK."""
    return join_with_offsets(texts)[0]


@dataclass
class _Token:
    text: str
    start: float
    end: float
    language: str | None


def spoken_seconds(text: str) -> float:
    """About how long a word takes to say: by its letters, between 0.1 and 1 s."""
    letters = sum(ch.isalnum() for ch in text)
    return min(max(SECONDS_PER_LETTER * letters, 0.1), 1.0)


def give_length(
    spans: Sequence[tuple[float, float]],
    texts: Sequence[str],
    limit: float = float("inf"),
    floor: float = 0.0,
) -> list[tuple[float, float]]:
    """The same spans (starts in order), where each of no length gets some: about the time its
    text takes to say (`spoken_seconds`).

    Spans of no length at one instant share, in this order of preference, the room after it (up
    to the next span's start and ``limit``), the room before it (back to the previous span's end,
    or the second half of the previous span when that reaches the instant, and ``floor``), or
    the first half of the next span, which then starts later: the first with at least
    `MIN_SECONDS`, else the largest. Starts stay in order and within ``[floor, limit]``; spans
    that did not overlap do not come to; the other spans keep their times.
    """
    out = [list(span) for span in spans]
    i = 0
    while i < len(out):
        t = out[i][0]
        if out[i][1] - t >= MIN_SECONDS:
            i += 1
            continue
        j = i + 1  # out[i:j]: the spans of no length at instant t
        while j < len(out) and out[j][1] - out[j][0] < MIN_SECONDS and out[j][0] - t < MIN_SECONDS:
            j += 1
        prev = out[i - 1] if i > 0 else None
        nxt = out[j] if j < len(out) else None
        if prev is None:
            before = t - min(floor, t)
        elif prev[1] < t:
            before = t - prev[1]
        else:
            before = (t - prev[0]) / 2
        rooms = {
            "after": min(nxt[0] if nxt else limit, limit) - t,
            "before": before,
            "next": (nxt[1] - t) / 2 if nxt is not None else 0.0,
        }
        enough = [k for k, room in rooms.items() if room >= MIN_SECONDS]
        kind = enough[0] if enough else max(rooms, key=rooms.__getitem__)
        weights = [spoken_seconds(text) for text in texts[i:j]]
        size = min(sum(weights), rooms[kind])
        if size > 0:
            if kind == "before":
                lo, hi = t - size, t
                if prev is not None and lo < prev[1] <= t + MIN_SECONDS:  # it ends where these begin
                    prev[1] = lo
            else:
                lo, hi = t, t + size
                if kind == "next":
                    nxt[0] = hi  # type: ignore[index]
            edge = lo
            for k, weight in zip(range(i, j), weights):
                out[k] = [edge, edge + size * weight / sum(weights)]
                edge = out[k][1]
            out[j - 1][1] = hi
        i = j
    return [(a, b) for a, b in out]


def merge_sentences(
    fragments: Sequence[Segment],
    *,
    max_seconds: float = MAX_SENTENCE_SECONDS,
    pause_seconds: float = PAUSE_SECONDS,
    duration: float | None = None,
) -> list[Segment]:
    """Merge timed fragments into sentences.

    Every word of the input appears in exactly one output sentence, in order, and sentence times
    never decrease. A sentence also ends where the language changes, at a pause of at least
    ``pause_seconds``, and at the next pause once it is longer than ``max_seconds``. Words of no
    length (their timestamps collapsed onto one instant) are given some (`give_length`) within
    ``duration``, the audio's length, when it is given, else within the fragments' span; so a
    sentence with words ends after it starts unless all of them are at the end of that.
    """
    tokens = list(_tokens(fragments))
    if duration is not None:
        floor, limit = 0.0, duration
    else:
        floor = min((f.start for f in fragments), default=0.0)
        limit = max((f.end for f in fragments), default=0.0)
    timed = give_length([(t.start, t.end) for t in tokens], [t.text for t in tokens], limit, floor)
    for tok, (start, end) in zip(tokens, timed):
        tok.start, tok.end = start, end
    sentences: list[Segment] = []
    current: list[_Token] = []

    def flush() -> None:
        if current:
            text = join_texts(t.text for t in current)
            language = current[0].language
            words = tuple(Word(start=t.start, end=t.end, text=t.text.strip()) for t in current)
            sentences.append(
                Segment(
                    start=current[0].start,
                    end=current[-1].end,
                    text=text,
                    language=language,
                    words=words,
                )
            )
            current.clear()

    for i, tok in enumerate(tokens):
        if current:
            prev = current[-1]
            gap = tok.start - prev.end
            too_long = tok.end - current[0].start > max_seconds and gap > 0.3
            if tok.language != prev.language or gap >= pause_seconds or too_long:
                flush()
        current.append(tok)
        following = tokens[i + 1].text if i + 1 < len(tokens) else None
        if ends_sentence(tok.text, following):
            flush()
    flush()
    return sentences


def _tokens(fragments: Sequence[Segment]) -> Iterable[_Token]:
    """Words with times: the transcriber's word timestamps, or, without them, each fragment's
    words with times spread over the fragment in proportion to their length."""
    last = 0.0
    for frag in fragments:
        if frag.words:
            pieces = [(w.text, w.start, w.end) for w in frag.words if w.text.strip()]
        else:
            pieces = _interpolate(frag)
        for text, start, end in pieces:
            start = max(start, last)
            end = max(end, start)
            last = start
            yield _Token(text=text, start=start, end=end, language=frag.language)


def _interpolate(frag: Segment) -> list[tuple[str, float, float]]:
    text = frag.text.strip()
    if not text:
        return []
    words = [piece for token in text.split() for piece in _CJK_STOP.split(token) if piece]
    total = sum(len(w) for w in words) or 1
    span = frag.end - frag.start
    out, offset = [], 0
    for w in words:
        start = frag.start + span * offset / total
        offset += len(w)
        out.append((w, start, frag.start + span * offset / total))
    return out
