#!/usr/bin/env python
"""Transcription accuracy benchmark: WER/CER per language and backend, and long-form handling.

    python benchmarks/asr.py [--quick] [--out benchmarks/results] [--data DIR] [--cache FILE]
                             [--torch-threads N] [--backends KEY,...] [--rescore]

Data: ``/work/shared/data/speech`` (``$MEDIARAG_SPEECH_DATA`` or ``--data``): ``manifest.jsonl``
(real utterances with human references) and ``long/segments.jsonl`` (files built by concatenating
those utterances, with the true time span of each).

1. Short clips, per language (en, de, es, fr, pt) and backend: faster-whisper ``base`` with the
   language given and with it detected, faster-whisper ``tiny.en`` (English only), and the
   transformers pipeline over ``base`` with the language given (``chunk_length_s=20``,
   ``stride_length_s=5``, as in the AWS sample); also, beyond that list, the same transformers
   backend with ``chunk_length_s=0`` (Whisper's own sequential long-form decoding instead of the
   pipeline's chunk merging), to tell the two apart. Corpus-level WER and CER (sum of edits / sum of
   reference words or characters), language-ID accuracy of the detecting mode, and the real-time
   factor (transcription wall time / audio duration, model loading and one warm-up clip not
   counted). Rows without a reference, or whose ``reference_quality`` is weak, are skipped and
   listed.
2. Long form: every ``long/*concat*`` file transcribed whole by each backend, scored against (a)
   the concatenated references and (b) the same clips transcribed one by one by the same backend:
   substitutions, deletions and insertions separately, repeated 3-grams (3-grams of the reference
   that the hypothesis holds more often than the reference does), and per-clip recall: the share
   of a clip's reference words found among the hypothesis words timed inside that clip's span
   +-0.5 s (a word's time is the middle of its word timestamps; a backend that gives only segment
   times has its words spread over the segment in proportion to their character offsets).

Scoring normalizer (`normalize`): Unicode NFKC, lower case, English ordinals ("20th") to words,
thousands separators dropped ("1,000" in English, "1.000" in de/es/fr/pt), "%" to the language's
word, apostrophes removed ("don't" -> "dont", "l'accident" -> "laccident"), every other
punctuation or symbol character (Unicode categories P* and S*: . , ; : ! ? - « » ¿ ¡ " ...) turned
into a space, digits split from letters, and every run of at most 4 digits written out as
words in the utterance's language ("25" -> "twenty five", "veinticinco", "fünfundzwanzig", ...).
Numbers are mapped digits -> words (never words -> digits) on both reference and hypothesis, as
cardinals: "1963" reads "one thousand nine hundred sixty three", not as a year; a decimal point
is just a word break; runs of 5 or more digits stay digits. Accents and "ß" are kept.

``--quick``: en and es, faster-whisper base only (language given and detected), 3 clips each and
one long file (librivox_en_concat.wav, 30 s); 1-2.5 minutes on 2 cores. The full run takes
about an hour on 2 shared cores, most of it the transformers backends.

``--torch-threads N`` sets torch.set_num_threads for the transformers backends and first times
one clip with torch's default and with N threads. With another process busy on one of 2 cores,
torch's default of 2 threads ran 3-7x slower than 1 thread (its threads wait on each other), so
on a shared machine use ``--torch-threads 1``.

Results: ``<out>/asr.md`` and ``<out>/asr.json`` (rewritten after each stage, so a partial run
leaves partial results). Progress goes to standard error. ``--cache FILE`` keeps every raw
transcription in FILE (saved after each file) and reuses it on the next run, with the timings
and machine load of the run that made it; ``--rescore`` only re-scores what the cache holds.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import unicodedata  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import CpuMonitor, describe_git, describe_machine, git_info, machine_info, versions  # noqa: E402

VERSIONS = ("mediarag", "faster-whisper", "ctranslate2", "transformers", "torch", "av", "numpy")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MEDIARAG_SPEECH_DATA", "/work/shared/data/speech"))
LANGUAGES = ("en", "de", "es", "fr", "pt")
#: Seconds added on each side of a clip's span when collecting the hypothesis words timed in it.
SPAN_SLACK = 0.5
#: A clip whose per-clip recall falls below this counts as lost in long-form transcription.
LOST_RECALL = 0.5

_START = time.perf_counter()


def log(message: str) -> None:
    """A progress line on standard error, stamped with the seconds since the start."""
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


# ============================================================================================
# Numbers to words, 0-9999, for en / es / de / fr / pt
# ============================================================================================

_EN_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _en(n: int) -> list[str]:
    if n < 20:
        return [_EN_ONES[n]]
    if n < 100:
        return [_EN_TENS[n // 10]] + (_en(n % 10) if n % 10 else [])
    if n < 1000:
        return _en(n // 100) + ["hundred"] + (_en(n % 100) if n % 100 else [])
    return _en(n // 1000) + ["thousand"] + (_en(n % 1000) if n % 1000 else [])


_ES_ONES = (
    "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
    "dieciséis diecisiete dieciocho diecinueve veinte veintiuno veintidós veintitrés veinticuatro "
    "veinticinco veintiséis veintisiete veintiocho veintinueve"
).split()
_ES_TENS = "_ _ _ treinta cuarenta cincuenta sesenta setenta ochenta noventa".split()
_ES_HUNDREDS = (
    "_ ciento doscientos trescientos cuatrocientos quinientos seiscientos setecientos "
    "ochocientos novecientos"
).split()


def _es(n: int) -> list[str]:
    if n < 30:
        return [_ES_ONES[n]]
    if n < 100:
        return [_ES_TENS[n // 10]] + (["y"] + _es(n % 10) if n % 10 else [])
    if n == 100:
        return ["cien"]
    if n < 1000:
        return [_ES_HUNDREDS[n // 100]] + (_es(n % 100) if n % 100 else [])
    head = ["mil"] if n // 1000 == 1 else _es(n // 1000) + ["mil"]
    return head + (_es(n % 1000) if n % 1000 else [])


_PT_ONES = (
    "zero um dois três quatro cinco seis sete oito nove dez onze doze treze catorze quinze "
    "dezesseis dezessete dezoito dezenove"
).split()
_PT_TENS = "_ _ vinte trinta quarenta cinquenta sessenta setenta oitenta noventa".split()
_PT_HUNDREDS = (
    "_ cento duzentos trezentos quatrocentos quinhentos seiscentos setecentos oitocentos "
    "novecentos"
).split()


def _pt(n: int) -> list[str]:
    if n < 20:
        return [_PT_ONES[n]]
    if n < 100:
        return [_PT_TENS[n // 10]] + (["e"] + _pt(n % 10) if n % 10 else [])
    if n == 100:
        return ["cem"]
    if n < 1000:
        return [_PT_HUNDREDS[n // 100]] + (["e"] + _pt(n % 100) if n % 100 else [])
    head = ["mil"] if n // 1000 == 1 else _pt(n // 1000) + ["mil"]
    rest = n % 1000
    if not rest:
        return head
    # "mil e quinhentos", "dois mil e dois", but "mil novecentos e sessenta e três"
    joiner = ["e"] if rest < 100 or rest % 100 == 0 else []
    return head + joiner + _pt(rest)


_FR_ONES = (
    "zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze "
    "seize dix-sept dix-huit dix-neuf"
).split()
_FR_TENS = "_ _ vingt trente quarante cinquante soixante".split()


def _fr(n: int) -> list[str]:
    if n < 20:
        return _FR_ONES[n].split("-")
    if n < 70:
        tens, unit = divmod(n, 10)
        if unit == 0:
            return [_FR_TENS[tens]]
        return [_FR_TENS[tens]] + (["et", "un"] if unit == 1 else _fr(unit))
    if n < 80:  # soixante-dix .. soixante-dix-neuf, "soixante et onze"
        return ["soixante"] + (["et", "onze"] if n == 71 else _fr(n - 60))
    if n < 100:  # quatre-vingts, quatre-vingt-un, quatre-vingt-dix ..
        if n == 80:
            return ["quatre", "vingts"]
        return ["quatre", "vingt"] + _fr(n - 80)
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = ["cent"] if hundreds == 1 else _fr(hundreds) + ["cent" if rest else "cents"]
        return head + (_fr(rest) if rest else [])
    thousands, rest = divmod(n, 1000)
    head = ["mille"] if thousands == 1 else _fr(thousands) + ["mille"]
    return head + (_fr(rest) if rest else [])


_DE_ONES = (
    "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn "
    "fünfzehn sechzehn siebzehn achtzehn neunzehn"
).split()
_DE_TENS = "_ _ zwanzig dreißig vierzig fünfzig sechzig siebzig achtzig neunzig".split()


def _de_below_100(n: int) -> str:
    if n < 20:
        return _DE_ONES[n]
    tens, unit = divmod(n, 10)
    if not unit:
        return _DE_TENS[tens]
    return ("ein" if unit == 1 else _DE_ONES[unit]) + "und" + _DE_TENS[tens]


def _de(n: int) -> list[str]:
    """German numbers are one word: 1963 -> "eintausendneunhundertdreiundsechzig"."""
    if n == 0:
        return ["null"]
    word = ""
    thousands, rest = divmod(n, 1000)
    hundreds, rest = divmod(rest, 100)
    if thousands:
        word += ("ein" if thousands == 1 else _DE_ONES[thousands]) + "tausend"
    if hundreds:
        word += ("ein" if hundreds == 1 else _DE_ONES[hundreds]) + "hundert"
    if rest:
        word += _de_below_100(rest)
    return [word]


_NUMBER_WORDS: dict[str, Callable[[int], list[str]]] = {
    "en": _en, "es": _es, "pt": _pt, "fr": _fr, "de": _de,
}  # fmt: skip


def number_to_words(n: int, language: str) -> str:
    """``n`` (0-9999) written out as a cardinal in ``language`` (en, es, de, fr, pt); words are
    separated by single spaces (French hyphens become spaces too)."""
    if not 0 <= n <= 9999:
        raise ValueError(f"number_to_words covers 0-9999, got {n}")
    try:
        convert = _NUMBER_WORDS[language]
    except KeyError:
        raise ValueError(f"no number words for language {language!r}") from None
    return " ".join(convert(n))


_EN_ORDINAL_IRREGULAR = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip


def english_ordinal(n: int) -> str:
    """``n`` (0-9999) as an English ordinal: 20 -> "twentieth", 21 -> "twenty first"."""
    words = number_to_words(n, "en").split()
    last = words[-1]
    if last in _EN_ORDINAL_IRREGULAR:
        last = _EN_ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join(words[:-1] + [last])


# ============================================================================================
# Normalizer
# ============================================================================================

_PERCENT = {"en": "percent", "es": "por ciento", "pt": "por cento", "fr": "pour cent", "de": "prozent"}
_APOSTROPHES = "'\u2019\u2018\u02bc\u00b4`"
_EN_ORDINAL = re.compile(r"\b(\d{1,4})(st|nd|rd|th)\b")
_EN_THOUSANDS = re.compile(r"\b\d{1,3}(?:,\d{3})+\b")
_EU_THOUSANDS = re.compile(r"\b\d{1,3}(?:[.\u00a0\u202f]\d{3})+\b(?![.,]\d)")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)")
_DIGITS = re.compile(r"\d+")


def normalize(text: str | None, language: str = "en") -> str:
    """Text for scoring: see the module docstring for the rules, applied in this order."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).lower()
    if language == "en":
        text = _EN_ORDINAL.sub(lambda m: f" {english_ordinal(int(m.group(1)))} ", text)
        text = _EN_THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    else:
        text = _EU_THOUSANDS.sub(lambda m: re.sub(r"\D", "", m.group(0)), text)
    if language in _PERCENT:
        text = text.replace("%", f" {_PERCENT[language]} ")
    for mark in _APOSTROPHES:
        text = text.replace(mark, "")
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    text = _DIGIT_LETTER.sub(" ", text)
    if language in _NUMBER_WORDS:

        def spell(m: re.Match[str]) -> str:
            digits = m.group(0)
            return f" {number_to_words(int(digits), language)} " if len(digits) <= 4 else digits

        text = _DIGITS.sub(spell, text)
    return " ".join(text.split())


def words_of(text: str | None, language: str = "en") -> list[str]:
    return normalize(text, language).split()


# ============================================================================================
# Edit distance: WER / CER with substitution, deletion and insertion counts
# ============================================================================================


@dataclass
class Edits:
    """Alignment counts of a hypothesis against a reference (``ref`` = reference length)."""

    sub: int = 0
    dele: int = 0
    ins: int = 0
    ref: int = 0

    @property
    def hits(self) -> int:
        return self.ref - self.sub - self.dele

    @property
    def errors(self) -> int:
        return self.sub + self.dele + self.ins

    @property
    def rate(self) -> float | None:
        """Errors per reference unit; None for an empty reference."""
        return self.errors / self.ref if self.ref else None

    def __add__(self, other: Edits) -> Edits:
        return Edits(self.sub + other.sub, self.dele + other.dele, self.ins + other.ins, self.ref + other.ref)

    def as_dict(self) -> dict[str, Any]:
        return {"sub": self.sub, "del": self.dele, "ins": self.ins, "ref": self.ref, "rate": self.rate}


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[tuple[str, str | None, str | None]]:
    """A minimum-edit alignment (Levenshtein, unit costs) as a list of
    ``(op, ref_token, hyp_token)`` with op ``=`` (match), ``S``, ``D`` (ref token missing from
    the hypothesis) or ``I`` (hypothesis token not in the reference). Ties prefer a match or
    substitution, then a deletion."""
    n, m = len(ref), len(hyp)
    cost = [list(range(m + 1))]
    for i in range(1, n + 1):
        prev = cost[-1]
        row = [i] + [0] * m
        r = ref[i - 1]
        for j in range(1, m + 1):
            diag = prev[j - 1] + (r != hyp[j - 1])
            up = prev[j] + 1
            left = row[j - 1] + 1
            row[j] = diag if diag <= up and diag <= left else (up if up <= left else left)
        cost.append(row)
    ops: list[tuple[str, str | None, str | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            ops.append(("=" if ref[i - 1] == hyp[j - 1] else "S", ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            ops.append(("D", ref[i - 1], None))
            i -= 1
        else:
            ops.append(("I", None, hyp[j - 1]))
            j -= 1
    ops.reverse()
    return ops


def edit_counts(ref: Sequence[str], hyp: Sequence[str]) -> Edits:
    """Substitutions, deletions and insertions of the minimum-edit alignment."""
    counts = Counter(op for op, _, _ in align(ref, hyp))
    return Edits(sub=counts["S"], dele=counts["D"], ins=counts["I"], ref=len(ref))


def edit_distance(ref: Sequence[Any], hyp: Sequence[Any]) -> int:
    """Levenshtein distance (unit costs), one numpy row at a time: the insertion recurrence
    ``d[j] = min(t[j], d[j-1] + 1)`` is ``j + cummin(t[k] - k)``. For long character strings."""
    if not ref:
        return len(hyp)
    if not hyp:
        return len(ref)
    vocab: dict[Any, int] = {}
    r = np.array([vocab.setdefault(x, len(vocab)) for x in ref], dtype=np.int64)
    h = np.array([vocab.setdefault(x, len(vocab)) for x in hyp], dtype=np.int64)
    idx = np.arange(len(h) + 1, dtype=np.int64)
    prev = idx.copy()
    row = np.empty_like(prev)
    for i, code in enumerate(r, start=1):
        row[0] = i
        np.minimum(prev[:-1] + (h != code), prev[1:] + 1, out=row[1:])
        prev = np.minimum.accumulate(row - idx) + idx
    return int(prev[-1])


def word_edits(reference: str | None, hypothesis: str | None, language: str) -> Edits:
    return edit_counts(words_of(reference, language), words_of(hypothesis, language))


def char_edits(reference: str | None, hypothesis: str | None, language: str) -> tuple[int, int]:
    """(edit distance, reference length) on the normalized strings, single spaces counted."""
    ref, hyp = normalize(reference, language), normalize(hypothesis, language)
    return edit_distance(ref, hyp), len(ref)


def wer(reference: str | None, hypothesis: str | None, language: str = "en") -> float:
    """Word error rate of one pair. With an empty reference the rate is undefined; the number
    of inserted words is returned instead (0 when both are empty)."""
    e = word_edits(reference, hypothesis, language)
    return e.errors / e.ref if e.ref else float(e.ins)


def cer(reference: str | None, hypothesis: str | None, language: str = "en") -> float:
    dist, n = char_edits(reference, hypothesis, language)
    return dist / n if n else float(dist)


def bag_recall(ref: Sequence[str], hyp: Iterable[str]) -> float | None:
    """Share of reference tokens found in ``hyp`` (multiset intersection, order ignored)."""
    if not ref:
        return None
    have = Counter(hyp)
    return sum(min(c, have[w]) for w, c in Counter(ref).items()) / len(ref)


def ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def repeated_ngrams(ref: Sequence[str], hyp: Sequence[str], n: int = 3) -> int:
    """How many times the hypothesis holds an n-gram of the reference more often than the
    reference does: a repeated stretch of correct text (substitutions make new n-grams, which
    are not counted)."""
    have, want = ngrams(hyp, n), ngrams(ref, n)
    return sum(max(0, have[g] - c) for g, c in want.items())


# ============================================================================================
# Timed hypothesis words
# ============================================================================================


def timed_words(segments: Sequence[dict[str, Any]], language: str) -> list[tuple[float, str]]:
    """(time, normalized token) for every hypothesis token. A word's time is the middle of its
    word timestamps; a segment without words has its words placed by character offset between
    its start and end. ``segments`` are dicts with start, end, text and optional words
    (dicts with start, end, text)."""
    out: list[tuple[float, str]] = []
    for seg in segments:
        words = seg.get("words") or []
        if words:
            for w in words:
                mid = (float(w["start"]) + float(w["end"])) / 2
                out += [(mid, tok) for tok in words_of(w["text"], language)]
            continue
        text = str(seg.get("text") or "")
        start, end = float(seg["start"]), float(seg["end"])
        for m in re.finditer(r"\S+", text):
            frac = (m.start() + m.end()) / 2 / max(len(text), 1)
            out += [(start + frac * (end - start), tok) for tok in words_of(m.group(0), language)]
    return out


def words_in_span(words: Sequence[tuple[float, str]], start: float, end: float, slack: float = SPAN_SLACK) -> list[str]:
    return [w for t, w in words if start - slack <= t <= end + slack]


# ============================================================================================
# Data
# ============================================================================================


@dataclass
class Clip:
    file: str
    language: str
    reference: str
    duration: float


def load_clips(data: Path, languages: Sequence[str] = LANGUAGES) -> tuple[list[Clip], list[dict[str, Any]]]:
    """Usable rows of manifest.jsonl for ``languages`` and the skipped ones with the reason."""
    clips, skipped = [], []
    for line in (data / "manifest.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        why = None
        if row.get("language") not in languages:
            why = f"language {row.get('language')!r} not benchmarked"
        elif not row.get("reference_text"):
            why = "no reference transcript" + (f" ({row['reference_quality']})" if row.get("reference_quality") else "")
        elif str(row.get("reference_quality") or "").lower().startswith("weak"):
            why = f"reference_quality: {row['reference_quality']}"
        if why:
            skipped.append({"file": row["file"], "language": row.get("language"), "reason": why})
        else:
            clips.append(Clip(row["file"], row["language"], row["reference_text"], float(row["duration_s"])))
    return clips, skipped


@dataclass
class LongFile:
    file: str
    language: str
    duration: float
    spans: list[dict[str, Any]] = field(default_factory=list)  # start_s, end_s, source_file, reference_text

    @property
    def reference(self) -> str:
        return " ".join(s["reference_text"] for s in self.spans)


def load_long(data: Path) -> list[LongFile]:
    """The ``long/*concat*`` files of long/segments.jsonl with their clip spans, in order."""
    files: dict[str, LongFile] = {}
    for line in (data / "long" / "segments.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        name = row["file"]
        if not (name.startswith("long/") and "concat" in name):
            continue
        lf = files.setdefault(name, LongFile(name, row["language"], float(row.get("total_duration_s") or 0)))
        lf.spans.append(row)
    for lf in files.values():
        lf.spans.sort(key=lambda r: r["start_s"])
    return sorted(files.values(), key=lambda f: (f.file != "long/librivox_en_concat.wav", f.file))


# ============================================================================================
# Backends
# ============================================================================================


@dataclass
class Backend:
    key: str
    label: str
    kind: str  # faster-whisper | transformers
    model: str
    detect: bool  # language detected rather than given
    languages: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    torch_threads: int | None = None  # transformers only: torch.set_num_threads before running

    def make(self) -> Any:
        if self.kind == "faster-whisper":
            from mediarag.transcribe import FasterWhisperTranscriber

            return FasterWhisperTranscriber(self.model, **self.options)
        from mediarag.transcribe import TransformersTranscriber

        return TransformersTranscriber(self.model, **self.options)


#: Flaws of the references noticed while reading the alignments; left as they are (each costs
#: every backend about the same one or two word errors).
REFERENCE_NOTES = {
    "fleurs/fleurs-de-008.ogg": 'the reference ends in "deutet.x": the stray "x" is a word no backend can match',
    "fleurs/fleurs-fr-002.ogg": 'the reference writes "qu’« on" (normalized "qu on"), Whisper "qu\'on" ("quon")',
    "fleurs/fleurs-en-000.ogg": 'the reference says "25 to 30 year" where the speaker says "years"',
}


def backends(quick: bool) -> list[Backend]:
    fw = {"beam_size": 5}
    tf = {"chunk_length_s": 20.0, "stride_length_s": 5.0}
    out = [
        Backend("fw-base", "faster-whisper base, language given", "faster-whisper", "base", False, LANGUAGES, fw),
        Backend("fw-base-auto", "faster-whisper base, language detected", "faster-whisper", "base", True, LANGUAGES, fw),
        Backend("fw-tiny.en", "faster-whisper tiny.en", "faster-whisper", "tiny.en", False, ("en",), fw),
        Backend("tf-base", "transformers pipeline base, language given", "transformers", "base", False, LANGUAGES, tf),
        # Not in the brief's list: the same backend with the pipeline's chunking off (Whisper's
        # own sequential long-form decoding), to tell chunk merging apart from the model.
        Backend("tf-base-seq", "transformers pipeline base, language given, chunk_length_s=0", "transformers",
                "base", False, LANGUAGES, {"chunk_length_s": 0.0}),
    ]
    return out[:2] if quick else out


def transcript_record(tr: Any, seconds: float, duration: float) -> dict[str, Any]:
    """What is kept of a transcription: text, language, timing, and segment/word times."""
    segments = []
    for s in tr.segments:
        seg: dict[str, Any] = {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text, "language": s.language}
        if s.words:
            seg["words"] = [{"start": round(w.start, 3), "end": round(w.end, 3), "text": w.text} for w in s.words]
        segments.append(seg)
    return {
        "text": tr.text,
        "language": tr.language,
        "seconds": round(seconds, 3),
        "duration": round(duration, 3),
        "segments": segments,
    }


class Cache:
    """Raw transcriptions by backend and file, kept in a JSON file (or only in memory), and
    under ``_runs`` what the run that made them measured (model load time, machine load)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, dict[str, Any]] = {}
        if path and path.exists():
            self.data = json.loads(path.read_text())

    def get(self, backend: str, file: str) -> dict[str, Any] | None:
        return self.data.get(backend, {}).get(file)

    def run_info(self, stage: str) -> dict[str, Any] | None:
        return self.data.get("_runs", {}).get(stage)

    def put_run_info(self, stage: str, info: dict[str, Any]) -> None:
        self.data.setdefault("_runs", {})[stage] = info

    def put(self, backend: str, file: str, record: dict[str, Any]) -> None:
        self.data.setdefault(backend, {})[file] = record

    def save(self) -> None:
        if self.path:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, ensure_ascii=False))
            tmp.replace(self.path)


class Runner:
    """One backend's model, loaded on first use, transcribing files (through the cache)."""

    def __init__(self, backend: Backend, data: Path, cache: Cache, transcribe: bool = True) -> None:
        self.backend, self.data, self.cache = backend, data, cache
        self.may_transcribe = transcribe
        self.model: Any = None
        self.load_s: float | None = None
        self.fresh = 0  # transcriptions made (not taken from the cache)

    def _ensure(self, warm_file: Path, language: str) -> None:
        if self.model is not None:
            return
        from mediarag.media import decode_audio

        t0 = time.perf_counter()
        model = self.backend.make()
        model.warm_up()
        self.load_s = time.perf_counter() - t0
        audio = decode_audio(warm_file)
        model.transcribe(audio, language=None if self.backend.detect else language)  # warm-up, not timed
        self.model = model
        log(f"  {self.backend.key}: model loaded in {self.load_s:.1f} s and warmed up")

    def transcribe(self, rel: str, language: str, warm_file: Path) -> dict[str, Any]:
        cached = self.cache.get(self.backend.key, rel)
        if cached is not None:
            return cached
        if not self.may_transcribe:
            raise RuntimeError(f"{rel} is not in the cache for {self.backend.key}")
        from mediarag.media import decode_audio

        self._ensure(warm_file, language)
        audio = decode_audio(self.data / rel)
        t0 = time.perf_counter()
        tr = self.model.transcribe(audio, language=None if self.backend.detect else language)
        seconds = time.perf_counter() - t0
        record = transcript_record(tr, seconds, audio.duration)
        self.cache.put(self.backend.key, rel, record)
        self.cache.save()  # after every file: a killed run loses nothing
        self.fresh += 1
        return record

    def close(self) -> None:
        self.model = None
        gc.collect()


# ============================================================================================
# Scoring
# ============================================================================================


def score_clip(clip: Clip, rec: dict[str, Any]) -> dict[str, Any]:
    words = word_edits(clip.reference, rec["text"], clip.language)
    chars, nchars = char_edits(clip.reference, rec["text"], clip.language)
    return {
        "file": clip.file,
        "language": clip.language,
        "duration": clip.duration,
        "detected": rec.get("language"),
        "seconds": rec["seconds"],
        "words": words.as_dict(),
        "char_dist": chars,
        "char_ref": nchars,
        "reference": clip.reference,
        "hypothesis": rec["text"],
    }


def summarize_clips(rows: Sequence[dict[str, Any]], detect: bool) -> dict[str, Any]:
    """Corpus-level figures of scored clips: sum of edits over sum of reference units."""
    e = Edits()
    for r in rows:
        w = r["words"]
        e = e + Edits(w["sub"], w["del"], w["ins"], w["ref"])
    chars = sum(r["char_dist"] for r in rows)
    nchars = sum(r["char_ref"] for r in rows)
    audio = sum(r["duration"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    out = {
        "clips": len(rows),
        "audio_s": round(audio, 1),
        "words": e.as_dict(),
        "wer": e.rate,
        "cer": chars / nchars if nchars else None,
        "rtf": seconds / audio if audio else None,
        "seconds": round(seconds, 2),
    }
    if detect:
        right = sum(1 for r in rows if r["detected"] == r["language"])
        out["lid_correct"] = right
        out["lid_accuracy"] = right / len(rows) if rows else None
        out["lid_wrong"] = {r["file"]: r["detected"] for r in rows if r["detected"] != r["language"]}
    return out


def score_long(lf: LongFile, long_rec: dict[str, Any], clip_recs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Long-form transcription against the references and against clip-by-clip transcription."""
    lang = lf.language
    ref = words_of(lf.reference, lang)
    hyp_long = words_of(long_rec["text"], lang)
    hyp_clips = words_of(" ".join(clip_recs[s["source_file"]]["text"] for s in lf.spans), lang)
    timed = timed_words(long_rec["segments"], lang)
    has_word_times = any(seg.get("words") for seg in long_rec["segments"])

    per_clip = []
    for s in lf.spans:
        clip_ref = words_of(s["reference_text"], lang)
        inside = words_in_span(timed, s["start_s"], s["end_s"])
        per_clip.append(
            {
                "segment": s["segment"],
                "source_file": s["source_file"],
                "span": [s["start_s"], s["end_s"]],
                "ref_words": len(clip_ref),
                "long_words_in_span": len(inside),
                "recall_long": bag_recall(clip_ref, inside),
                "recall_clip": bag_recall(clip_ref, words_of(clip_recs[s["source_file"]]["text"], lang)),
            }
        )
    slack_spans = [(s["start_s"] - SPAN_SLACK, s["end_s"] + SPAN_SLACK) for s in lf.spans]
    outside = [w for t, w in timed if not any(a <= t <= b for a, b in slack_spans)]
    recalls_long = [c["recall_long"] for c in per_clip if c["recall_long"] is not None]
    recalls_clip = [c["recall_clip"] for c in per_clip if c["recall_clip"] is not None]

    vs_ref_long = edit_counts(ref, hyp_long)
    vs_ref_clips = edit_counts(ref, hyp_clips)
    long_vs_clips_ops = align(hyp_clips, hyp_long)
    long_vs_clips = Edits(
        sub=sum(1 for o in long_vs_clips_ops if o[0] == "S"),
        dele=sum(1 for o in long_vs_clips_ops if o[0] == "D"),
        ins=sum(1 for o in long_vs_clips_ops if o[0] == "I"),
        ref=len(hyp_clips),
    )
    clip_seconds = sum(clip_recs[s["source_file"]]["seconds"] for s in lf.spans)
    clip_audio = sum(clip_recs[s["source_file"]]["duration"] for s in lf.spans)
    return {
        "file": lf.file,
        "language": lang,
        "duration": long_rec["duration"],
        "detected": long_rec.get("language"),
        "seconds": long_rec["seconds"],
        "rtf": long_rec["seconds"] / long_rec["duration"] if long_rec["duration"] else None,
        "rtf_clips": clip_seconds / clip_audio if clip_audio else None,
        "ref_words": len(ref),
        "long_words": len(hyp_long),
        "clip_words": len(hyp_clips),
        "long_vs_ref": vs_ref_long.as_dict(),
        "clips_vs_ref": vs_ref_clips.as_dict(),
        "long_vs_clips": long_vs_clips.as_dict(),
        "long_vs_clips_runs": _edit_runs(long_vs_clips_ops),
        "cer_long": _ratio(edit_distance(normalize(lf.reference, lang), normalize(long_rec["text"], lang)), len(normalize(lf.reference, lang))),
        "repeated_3grams_long": repeated_ngrams(ref, hyp_long),
        "repeated_3grams_clips": repeated_ngrams(ref, hyp_clips),
        "word_times": "word timestamps" if has_word_times else "segment times, words interpolated",
        "mean_recall_long": sum(recalls_long) / len(recalls_long) if recalls_long else None,
        "mean_recall_clips": sum(recalls_clip) / len(recalls_clip) if recalls_clip else None,
        "min_recall_long": min(recalls_long) if recalls_long else None,
        "clips_lost": sum(1 for r in recalls_long if r < LOST_RECALL),
        "words_outside_spans": len(outside),
        "other_language_segments": _other_language(long_rec["segments"], lang),
        "per_clip": per_clip,
        "hypothesis": long_rec["text"],
    }


def _other_language(segments: Sequence[dict[str, Any]], language: str) -> list[dict[str, Any]] | None:
    """Segments tagged with another language than the file's (None when segments carry none)."""
    if not segments or any("language" not in seg for seg in segments):
        return None
    return [
        {"start": seg["start"], "end": seg["end"], "language": seg["language"], "text": seg["text"]}
        for seg in segments
        if seg["language"] not in (None, language)
    ]


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _edit_runs(ops: Sequence[tuple[str, str | None, str | None]], limit: int = 60) -> list[dict[str, Any]]:
    """Runs of consecutive non-matching alignment ops: the tokens on each side and ``net``, the
    number of tokens the second side has more (>0: words added, <0: words lost)."""
    runs: list[dict[str, Any]] = []
    cur: list[tuple[str, str | None, str | None]] = []
    for op in [*ops, ("=", None, None)]:
        if op[0] != "=":
            cur.append(op)
            continue
        if cur:
            dropped = [r for o, r, _ in cur if o in "SD" and r]
            added = [h for o, _, h in cur if o in "SI" and h]
            runs.append({"ref": " ".join(dropped), "hyp": " ".join(added), "net": len(added) - len(dropped)})
            cur = []
    return runs[:limit]


# ============================================================================================
# Report
# ============================================================================================


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f} %"


def num(x: float | None, fmt: str = "{:.3f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _clip_words(text: str, most: int = 14) -> str:
    words = text.split()
    if len(words) <= most:
        return text
    return " ".join(words[: most - 4]) + f" ... {' '.join(words[-3:])} ({len(words)} words)"


def render_markdown(res: dict[str, Any]) -> str:
    meta = res["meta"]
    m = meta["machine"]
    out = [
        "# mediarag transcription accuracy benchmark",
        "",
        f"Command: `{meta['command']}`  ",
        f"Mode: {meta['mode']}{' (partial: ' + meta['status'] + ')' if meta.get('status') != 'complete' else ''}  ",
        f"Date: {meta['date']} (total {meta['total_s']:.0f} s)  ",
        f"Machine: {describe_machine(m)}  ",
        f"Repository: {describe_git(meta['git'])}",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "",
        f"Data: `{meta['data']}` (see its README.md). Scoring normalizer: NFKC, lower case, punctuation "
        "and symbols (incl. « » ¿ ¡) removed, apostrophes dropped, digits 0-9999 written out as "
        "words in the clip's language on both sides (direction digits -> words), accents kept "
        "(details in the docstring of benchmarks/asr.py). WER and CER are corpus-level: sum of "
        "edits / sum of reference words (characters, spaces included). RTF = transcription wall "
        "time / audio duration, model load and one warm-up clip excluded.",
        "",
    ]
    cfg = [
        (b["label"], f"`{b['kind']}` `{b['model']}`", ", ".join(f"{k}={v}" for k, v in b["options"].items()) or "defaults",
         num(b.get("load_s"), "{:.1f} s"), b.get("error") or "ok")
        for b in res["backends"]
    ]
    out += ["## Backends", "", table(["backend", "model", "options", "load", "status"], cfg), ""]
    for key, tc in (res.get("threads_check") or {}).items():
        secs = tc["seconds"]
        out += [
            f"The transformers backends ran with torch.set_num_threads({tc['threads']}). Check before, on "
            f"`{tc['file']}` ({tc['duration']:.1f} s), two runs each: torch default "
            f"{tc['default_threads']} threads {', '.join(f'{x:.1f} s' for x in secs[str(tc['default_threads'])])}; "
            f"{tc['threads']} thread(s) {', '.join(f'{x:.1f} s' for x in secs[str(tc['threads'])])} "
            f"(other processes used {num(tc['cpu']['others_cores'], '{:.2f}')} cores meanwhile).",
            "",
        ]
    notes = res.get("notes") or []
    if notes:
        out += [f"- {n}" for n in notes] + [""]

    skipped = [s for s in res.get("skipped", []) if not s["reason"].startswith("language")]
    other = Counter(s["language"] for s in res.get("skipped", []) if s["reason"].startswith("language"))
    if skipped:
        out += ["Manifest rows skipped for want of a usable reference: "
                + "; ".join(f"`{s['file']}` ({s['reason']})" for s in skipped) + ".", ""]
    if other:
        out += ["Rows in languages not benchmarked in this mode: "
                + ", ".join(f"{lang} {n}" for lang, n in sorted(other.items())) + ".", ""]

    out += ["## 1. Short clips, per language", ""]
    rows = []
    for lang in res["languages"]:
        for b in res["backends"]:
            s = res["clips"].get(b["key"], {}).get("by_language", {}).get(lang)
            if not s:
                continue
            w = s["words"]
            lid = f"{s['lid_correct']}/{s['clips']}" if "lid_correct" in s else ""
            rows.append(
                (lang, b["label"], s["clips"], f"{s['audio_s']:.0f}", w["ref"], pct(s["wer"]), pct(s["cer"]),
                 f"{w['sub']}/{w['del']}/{w['ins']}", lid, num(s["rtf"]))
            )
    out += [
        table(["lang", "backend", "clips", "audio s", "ref words", "WER", "CER", "S/D/I", "lang ID", "RTF"], rows),
        "",
    ]
    overall = []
    for b in res["backends"]:
        s = res["clips"].get(b["key"], {}).get("all")
        if s:
            lid = f"{s['lid_correct']}/{s['clips']} ({pct(s['lid_accuracy'], 0)})" if "lid_correct" in s else ""
            overall.append((b["label"], ", ".join(s["languages"]), s["clips"], pct(s["wer"]), pct(s["cer"]), lid, num(s["rtf"]),
                            num(s["cpu"]["others_cores"], "{:.2f}")))
    out += [
        "All languages together:",
        "",
        table(["backend", "languages", "clips", "WER", "CER", "lang ID", "RTF", "other processes' cores"], overall),
        "",
    ]
    wrong = {b["key"]: res["clips"][b["key"]]["all"].get("lid_wrong") for b in res["backends"]
             if b["key"] in res["clips"] and res["clips"][b["key"]].get("all", {}).get("lid_wrong")}
    for key, w in wrong.items():
        out += [f"Language detected wrongly ({key}): " + ", ".join(f"`{f}` -> {l}" for f, l in w.items()), ""]

    out += [
        "## 2. Long form: whole concatenated file vs. the same clips one by one",
        "",
        "S/D/I against the concatenated references; `long vs clips` aligns the long-form words "
        "against the clip-by-clip words of the same backend (D = words clip-by-clip had that "
        "long-form lost, I = words long-form added). Repeated 3-grams: reference 3-grams the "
        f"hypothesis holds more often than the reference. Per-clip recall: reference words of each "
        f"clip found among the long-form words timed within its span ±{SPAN_SLACK} s "
        f"(clip-by-clip: among that clip's own transcript); a clip under {LOST_RECALL:.0%} recall counts as lost.",
        "",
    ]
    rows = []
    for b in res["backends"]:
        for r in res["long"].get(b["key"], []):
            lv, cv, lc = r["long_vs_ref"], r["clips_vs_ref"], r["long_vs_clips"]
            rows.append(
                (
                    Path(r["file"]).name, b["key"], f"{r['duration']:.0f}", r["ref_words"],
                    f"{pct(lv['rate'])} ({lv['sub']}/{lv['del']}/{lv['ins']})",
                    f"{pct(cv['rate'])} ({cv['sub']}/{cv['del']}/{cv['ins']})",
                    f"{pct(lc['rate'])} ({lc['sub']}/{lc['del']}/{lc['ins']})",
                    f"{r['repeated_3grams_long']} / {r['repeated_3grams_clips']}",
                    f"{pct(r['mean_recall_long'], 0)} / {pct(r['mean_recall_clips'], 0)}",
                    f"{pct(r['min_recall_long'], 0)}", r["clips_lost"], r["words_outside_spans"],
                    num(r["rtf"]), num(r["rtf_clips"]),
                )
            )
    out += [
        table(
            ["file", "backend", "s", "ref words", "long WER (S/D/I)", "clips WER (S/D/I)", "long vs clips (S/D/I)",
             "repeated 3-grams long / clips", "mean recall long / clips", "min recall long", "clips lost",
             "words outside spans", "RTF long", "RTF clips"],
            rows,
        ),
        "",
    ]
    totals = []
    for b in res["backends"]:
        t = res.get("long_totals", {}).get(b["key"])
        if t:
            totals.append(
                (b["label"], t["files"], f"{pct(t['long_vs_ref']['rate'])} ({t['long_vs_ref']['sub']}/{t['long_vs_ref']['del']}/{t['long_vs_ref']['ins']})",
                 f"{pct(t['clips_vs_ref']['rate'])} ({t['clips_vs_ref']['sub']}/{t['clips_vs_ref']['del']}/{t['clips_vs_ref']['ins']})",
                 f"{t['long_words']} / {t['clip_words']} / {t['ref_words']}",
                 f"{t['repeated_3grams_long']} / {t['repeated_3grams_clips']}", t["clips_lost"], num(t["rtf"]))
            )
    out += [
        "Totals over the long files each backend ran:",
        "",
        table(["backend", "files", "long WER (S/D/I)", "clips WER (S/D/I)", "words long / clips / ref",
               "repeated 3-grams long / clips", "clips lost", "RTF long"], totals),
        "",
    ]
    diffs = []
    for b in res["backends"]:
        for r in res["long"].get(b["key"], []):
            runs = [x for x in r["long_vs_clips_runs"] if x["net"]]
            if runs:
                shown = "; ".join(f"`[{_clip_words(x['ref'])}] -> [{_clip_words(x['hyp'])}]`" for x in runs[:8])
                more = f" (+{len(runs) - 8} more)" if len(runs) > 8 else ""
                diffs.append(f"- `{Path(r['file']).name}` {b['key']}: {shown}{more}")
    if diffs:
        out += ["Where long-form has more or fewer words than clip-by-clip (alignment runs whose word "
                "counts differ, `[clip-by-clip] -> [long-form]`; runs of plain substitutions left out):", ""]
        out += diffs + [""]
    foreign = []
    for b in res["backends"]:
        if not b.get("detect"):
            continue
        for r in res["long"].get(b["key"], []):
            segs = r.get("other_language_segments")
            if segs:
                foreign.append(f"- `{Path(r['file']).name}` {b['key']}: " + "; ".join(
                    f"{x['start']:.1f}-{x['end']:.1f} s tagged {x['language']}: \"{_clip_words(x['text'])}\"" for x in segs))
            elif segs is None:
                foreign.append(f"- `{Path(r['file']).name}` {b['key']}: segment languages not recorded")
    if foreign:
        out += ["Long-form segments that language detection tagged with another language than the file's "
                "(detecting backends; each window's language is detected on its own):", ""] + foreign + [""]
    low = []
    for b in res["backends"]:
        for r in res["long"].get(b["key"], []):
            for c in r["per_clip"]:
                rl, rc = c["recall_long"], c["recall_clip"]
                if rl is not None and (rl < LOST_RECALL or (rc is not None and rl < rc - 0.1)):
                    low.append(
                        (Path(r["file"]).name, b["key"], c["segment"], f"{c['span'][0]:.1f}-{c['span'][1]:.1f}",
                         c["ref_words"], c["long_words_in_span"], pct(c["recall_long"], 0), pct(c["recall_clip"], 0))
                    )
    if low:
        out += ["Clips whose long-form recall is under 50 % or more than 10 points below clip-by-clip:", "",
                table(["file", "backend", "clip", "span s", "ref words", "long words in span", "recall long", "recall clip"], low), ""]
    def made(v: dict[str, Any]) -> str:
        git = v.get("git") or {}
        commit = f", commit {git.get('commit')}{'+changes' if git.get('uncommitted_changes') else ''}" if git else ""
        return (v.get("date", "?") if v.get("from_cache") else "this run") + commit

    cpu = [(k, made(v), v["wall_s"], v["own_cores"], v["others_cores"], v["load_start"], v["load_end"])
           for k, v in res.get("cpu", {}).items()]
    if cpu:
        out += [
            "Machine load while each backend ran (other processes on the shared cores slow every "
            "RTF here down; accuracy is unaffected). Stages transcribed by an earlier run of this "
            "script (reused through `--cache`) show that run's date and figures:",
            "",
            table(["stage", "transcribed", "wall s", "benchmark cores", "other processes' cores", "load avg start",
                   "load avg end"], cpu),
            "",
        ]
    out += ["Per-clip hypotheses, per-clip recall and the long-form texts are in asr.json.", ""]
    return "\n".join(out)


# ============================================================================================
# Main
# ============================================================================================


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="en + es, faster-whisper base only, 3 clips each, one long file")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=None, help="JSON file of raw transcriptions to reuse and extend")
    parser.add_argument("--backends", default=None, help="comma-separated backend keys to run (default: all of the mode)")
    parser.add_argument(
        "--torch-threads", type=int, default=None,
        help="torch.set_num_threads for the transformers backend (default: torch's own choice)",
    )  # fmt: skip
    parser.add_argument(
        "--rescore", action="store_true",
        help="only re-score what --cache holds (no transcription); timings and load come from the cache",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.rescore and not (args.cache and args.cache.exists()):
        parser.error("--rescore needs an existing --cache file")

    data: Path = args.data
    languages = ("en", "es") if args.quick else LANGUAGES
    clips, skipped = load_clips(data, languages)
    if args.quick:
        clips = [c for lang in languages for c in [c for c in clips if c.language == lang and "fleurs" in c.file][:3]]
    long_files = [f for f in load_long(data) if f.language in languages]
    if args.quick:
        long_files = [f for f in long_files if f.file == "long/librivox_en_concat.wav"]
    chosen = backends(args.quick)
    if args.backends:
        keep = set(args.backends.split(","))
        chosen = [b for b in chosen if b.key in keep]
    cache = Cache(args.cache)
    warm = {lang: data / next(c.file for c in load_clips(data, (lang,))[0] if "fleurs" in c.file) for lang in languages}
    if args.torch_threads:
        for b in chosen:
            if b.kind == "transformers":
                b.torch_threads = args.torch_threads

    args.out.mkdir(parents=True, exist_ok=True)
    given = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(["python benchmarks/asr.py", shlex.join(given)]).strip()
    res: dict[str, Any] = {
        "meta": {
            "command": command,
            "mode": "quick" if args.quick else "full",
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "versions": versions(VERSIONS),
            "git": git_info(),
            "data": str(data),
            "status": "running",
            "total_s": 0.0,
            "torch_threads": args.torch_threads,
            "normalizer": "NFKC, lower, en ordinals, thousands separators, % -> word, apostrophes dropped, "
            "P*/S* -> space, digits split from letters, 0-9999 digits -> words (cardinal, per language)",
        },
        "languages": list(languages),
        "skipped": skipped,
        "backends": [],
        "clips": {},
        "long": {},
        "long_totals": {},
        "cpu": {},
        "threads_check": {},
        "notes": [],
    }
    res["notes"] += [f"Reference of `{f}`: {why}." for f, why in REFERENCE_NOTES.items() if any(c.file == f for c in clips)]
    log(f"{len(clips)} clips in {', '.join(languages)}; {len(skipped)} manifest rows skipped; "
        f"{len(long_files)} long files; backends: {', '.join(b.key for b in chosen)}")

    def write() -> None:
        res["meta"]["total_s"] = round(time.perf_counter() - _START, 1)
        (args.out / "asr.json").write_text(json.dumps(res, ensure_ascii=False, indent=1))
        (args.out / "asr.md").write_text(render_markdown(res))
        cache.save()

    def stage_info(runner: Runner, stage: str, mon: CpuMonitor, before: int) -> dict[str, Any]:
        """This stage's machine load, or, when all of it came from the cache, the cached run's."""
        if runner.fresh == before:
            old = cache.run_info(stage)
            if old:
                return {**old, "from_cache": True}
            return {**mon.as_dict(), "from_cache": True, "note": "no record of the run that transcribed it"}
        info = {**mon.as_dict(), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "load_s": runner.load_s, "torch_threads": runner.backend.torch_threads, "command": command,
                "git": res["meta"]["git"]}
        cache.put_run_info(stage, info)
        return info

    for b in chosen:
        info = {"key": b.key, "label": b.label, "kind": b.kind, "model": b.model, "detect": b.detect,
                "languages": list(b.languages), "options": dict(b.options)}
        if b.torch_threads:
            info["options"]["torch threads"] = b.torch_threads
        res["backends"].append(info)
        runner = Runner(b, data, cache, transcribe=not args.rescore)
        if b.torch_threads:
            check = cache.run_info("transformers threads") or cache.run_info(f"{b.key} threads")
            if check is None and not args.rescore:
                check = thread_check(runner, data / "fleurs/fleurs-es-003.ogg", "es", b.torch_threads, warm["es"] if "es" in warm else warm[languages[0]])
                cache.put_run_info("transformers threads", check)
            if check:
                res["threads_check"]["transformers"] = check
        if b.torch_threads and not args.rescore:
            import torch

            torch.set_num_threads(b.torch_threads)
        my_clips = [c for c in clips if c.language in b.languages]
        my_long = [f for f in long_files if f.language in b.languages]
        log(f"== {b.label}: {len(my_clips)} clips, {len(my_long)} long files")
        scored: list[dict[str, Any]] = []
        recs: dict[str, dict[str, Any]] = {}
        try:
            with CpuMonitor() as mon:
                for i, clip in enumerate(my_clips, 1):
                    rec = runner.transcribe(clip.file, clip.language, warm[clip.language])
                    recs[clip.file] = rec
                    row = score_clip(clip, rec)
                    scored.append(row)
                    log(f"  [{i}/{len(my_clips)}] {clip.file} {rec['duration']:.1f}s in {rec['seconds']:.1f}s "
                        f"lang={rec['language']} WER={pct(row['words']['rate'])}")
            cpu = stage_info(runner, f"{b.key} clips", mon, 0)
            summary = {lang: summarize_clips([r for r in scored if r["language"] == lang], b.detect)
                       for lang in b.languages if any(r["language"] == lang for r in scored)}
            overall = summarize_clips(scored, b.detect)
            overall["languages"] = list(summary)
            overall["cpu"] = cpu
            res["clips"][b.key] = {"by_language": summary, "all": overall, "rows": scored}
            res["cpu"][f"{b.key} clips"] = cpu
            info["load_s"] = runner.load_s if runner.load_s is not None else cpu.get("load_s")
            write()

            before = runner.fresh
            with CpuMonitor() as mon:
                results = []
                for lf in my_long:
                    for s in lf.spans:  # clip-by-clip transcripts of every clip in the file
                        if s["source_file"] not in recs:
                            recs[s["source_file"]] = runner.transcribe(s["source_file"], lf.language, warm[lf.language])
                    rec = runner.transcribe(lf.file, lf.language, warm[lf.language])
                    r = score_long(lf, rec, recs)
                    results.append(r)
                    log(f"  long {lf.file} {rec['duration']:.0f}s in {rec['seconds']:.1f}s: "
                        f"WER long {pct(r['long_vs_ref']['rate'])} vs clips {pct(r['clips_vs_ref']['rate'])}, "
                        f"clips lost {r['clips_lost']}")
                    res["long"][b.key] = results
                    write()
            res["cpu"][f"{b.key} long"] = stage_info(runner, f"{b.key} long", mon, before)
            if results:
                res["long_totals"][b.key] = long_totals(results)
        except Exception as exc:  # noqa: BLE001 - a broken backend is reported, the others still run
            info["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
            info["traceback"] = traceback.format_exc(limit=6)
            log(f"  {b.key} FAILED: {info['error']}")
        finally:
            runner.close()
        write()

    res["meta"]["status"] = "complete"
    write()
    log(f"wrote {args.out / 'asr.md'} and {args.out / 'asr.json'}")
    return 0


def thread_check(runner: Runner, path: Path, language: str, threads: int, warm_file: Path) -> dict[str, Any]:
    """Time one clip with torch's default thread count and with ``threads`` (twice each,
    alternating; the model loaded and warmed up first), with the machine load around it."""
    import torch

    from mediarag.media import decode_audio

    runner._ensure(warm_file, language)
    default = torch.get_num_threads()
    audio = decode_audio(path)
    times: dict[int, list[float]] = {default: [], threads: []}
    with CpuMonitor() as mon:
        for n in (default, threads, default, threads):
            torch.set_num_threads(n)
            t0 = time.perf_counter()
            runner.model.transcribe(audio, language=language)
            times[n].append(round(time.perf_counter() - t0, 2))
    torch.set_num_threads(default)
    log(f"  torch threads check on {path.name} ({audio.duration:.1f} s): {times}")
    return {
        "file": str(path.relative_to(runner.data)) if path.is_relative_to(runner.data) else str(path),
        "duration": round(audio.duration, 2),
        "default_threads": default,
        "threads": threads,
        "seconds": {str(k): v for k, v in times.items()},
        "cpu": mon.as_dict(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def long_totals(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def total(key: str) -> Edits:
        e = Edits()
        for r in results:
            d = r[key]
            e = e + Edits(d["sub"], d["del"], d["ins"], d["ref"])
        return e

    seconds = sum(r["seconds"] for r in results)
    audio = sum(r["duration"] for r in results)
    return {
        "files": len(results),
        "long_vs_ref": total("long_vs_ref").as_dict(),
        "clips_vs_ref": total("clips_vs_ref").as_dict(),
        "long_vs_clips": total("long_vs_clips").as_dict(),
        "ref_words": sum(r["ref_words"] for r in results),
        "long_words": sum(r["long_words"] for r in results),
        "clip_words": sum(r["clip_words"] for r in results),
        "repeated_3grams_long": sum(r["repeated_3grams_long"] for r in results),
        "repeated_3grams_clips": sum(r["repeated_3grams_clips"] for r in results),
        "clips_lost": sum(r["clips_lost"] for r in results),
        "rtf": seconds / audio if audio else None,
    }


if __name__ == "__main__":
    sys.exit(main())
