"""The offline default generator: answers with the most relevant sentences of the passages."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from ..schema import Hit, Message, Segment
from ..sentences import merge_sentences
from .base import Generation

_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    """a an the and or but of to in on at by for with from as is are was were be been being it its
    this that these those what which who whom whose when where why how do does did done can could
    would should will shall may might must have has had not no yes i you he she we they me him her
    us them my your his our their there here about into over than then so such very just also
    el la los las un una y o de del en que por para con se es son fue al lo como más
    der die das ein eine und oder von zu im ist sind war mit auf für den dem des nicht
    le les des et ou du est sont au aux pour avec pas qui""".split()
)


def content_words(text: str) -> list[str]:
    """Lower-cased words of a text without common function words."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and (len(w) > 1 or w.isdigit())]


def _sentence_key(text: str) -> str:
    """A sentence's words, lower-cased, without punctuation: equal for the same sentence."""
    return " ".join(_WORD.findall(text.lower())) or text.strip()


class ExtractiveGenerator:
    """Answers with up to ``max_sentences`` sentences taken word for word from the passages.

    Each sentence of each passage is scored by the question's words it contains (weighted by
    how rare they are among the candidates) plus the passage's retrieval score; the best
    sentences are returned in the order they are spoken, each once (two copies of a file hold the
    same sentences; the best-scored copy is quoted). No model is needed, so it is fast and
    never says anything the media does not.
    """

    def __init__(self, max_sentences: int = 2, relative_cutoff: float = 0.6) -> None:
        self.max_sentences = max_sentences
        self.relative_cutoff = relative_cutoff

    def warm_up(self) -> None:
        """Nothing to load."""

    def generate(
        self, question: str, passages: Sequence[Hit], history: Sequence[Message] = ()
    ) -> Generation:
        candidates: list[tuple[int, Segment]] = []
        for index, hit in enumerate(passages):
            chunk = hit.chunk
            whole = Segment(start=chunk.start, end=chunk.end, text=chunk.text, language=chunk.language)
            candidates.extend((index, s) for s in merge_sentences([whole]))
        if not candidates:
            return Generation(text="", used=[])
        question_words = set(content_words(question))
        bags = [Counter(content_words(s.text)) for _, s in candidates]
        frequency = Counter(w for bag in bags for w in bag)
        n = len(candidates)

        def score(position: int) -> float:
            index, _ = candidates[position]
            bag = bags[position]
            overlap = sum(math.log(1 + n / frequency[w]) for w in question_words if w in bag)
            return overlap / math.sqrt(1 + len(bag)) + passages[index].score

        ranked = sorted(range(n), key=score, reverse=True)
        best = score(ranked[0])
        chosen: list[int] = []
        said: set[str] = set()  # a sentence is said once, even when two files hold it
        for p in ranked:
            if len(chosen) == self.max_sentences or (chosen and score(p) < self.relative_cutoff * best):
                break
            key = _sentence_key(candidates[p][1].text)
            if key not in said:
                said.add(key)
                chosen.append(p)
        chosen.sort(key=lambda p: (candidates[p][0], candidates[p][1].start))
        text = " ".join(candidates[p][1].text for p in chosen)
        used = sorted({candidates[p][0] for p in chosen})
        return Generation(text=text, used=used)
