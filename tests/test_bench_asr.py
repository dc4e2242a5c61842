"""Fast checks of the ASR benchmark's scoring (no models, no audio): the transcript normalizer,
number words and WER/CER of benchmarks/core, and the helpers of benchmarks/asr_*.py."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))  # benchmarks/ is not a package: its modules import each other by name

import asr_data  # noqa: E402
import asr_scoring  # noqa: E402
from core import numbers, wer  # noqa: E402
from core.text import normalize_transcript as normalize  # noqa: E402


# ------------------------------------------------------------------ normalizer


def test_punctuation_and_case():
    assert normalize("And so, my fellow Americans: ask NOT!", "en") == "and so my fellow americans ask not"
    assert normalize("¿Cierto? ¡Sí!", "es") == "cierto sí"
    assert normalize("il a ajouté qu’« on ne devrait »", "fr") == "il a ajouté qu on ne devrait"
    assert normalize("«puede empoderar» — (oravec)", "es") == "puede empoderar oravec"
    assert normalize("Tie-break; états-unis...", "fr") == "tie break états unis"
    assert normalize("  many   people\tdon't\nthink ", "en") == "many people dont think"
    assert normalize("l'accident", "fr") == normalize("l’accident", "fr") == "laccident"
    assert normalize("", "en") == "" and normalize(None, "en") == ""


def test_accents_and_unicode_kept():
    assert normalize("Über die Unabhängigkeitserklärung, gleichermaßen", "de") == (
        "über die unabhängigkeitserklärung gleichermaßen"
    )
    assert normalize("Construída pelos egípcios", "pt") == "construída pelos egípcios"
    # NFKC: a decomposed é equals the composed one; the ligature ﬁ becomes "fi"
    assert normalize("cafe\u0301 ﬁn", "fr") == "café fin"


def test_numbers_digits_to_words_both_forms():
    # digits and words end up the same on both sides
    assert normalize("25 to 30 years", "en") == normalize("twenty-five to thirty years", "en")
    assert normalize("25 to 30 years", "en") == "twenty five to thirty years"
    assert normalize("tuant ainsi 17 personnes", "fr") == normalize("tuant ainsi dix-sept personnes", "fr")
    assert normalize("cent pour cent", "fr") == normalize("100 %", "fr")
    assert normalize("100%", "en") == "one hundred percent"
    assert normalize("mais de 70 dentes", "pt") == "mais de setenta dentes"
    assert normalize("1963", "de") == "eintausendneunhundertdreiundsechzig"
    assert normalize("20th century", "en") == normalize("twentieth century", "en")
    assert normalize("3:2", "en") == "three two"
    assert normalize("1,000 people", "en") == normalize("1000 people", "en") == "one thousand people"
    assert normalize("2.500 personas", "es") == "dos mil quinientos personas"
    assert normalize("mp3 2002)", "en") == "mp three two thousand two"
    assert normalize("123456", "en") == "123456"  # past 9999 digits stay digits


@pytest.mark.parametrize(
    ("n", "lang", "words"),
    [
        (0, "en", "zero"), (13, "en", "thirteen"), (42, "en", "forty two"),
        (105, "en", "one hundred five"), (2002, "en", "two thousand two"),
        (9999, "en", "nine thousand nine hundred ninety nine"),
        (16, "es", "dieciséis"), (21, "es", "veintiuno"), (31, "es", "treinta y uno"),
        (100, "es", "cien"), (101, "es", "ciento uno"), (500, "es", "quinientos"),
        (1000, "es", "mil"), (2002, "es", "dos mil dos"),
        (16, "pt", "dezesseis"), (21, "pt", "vinte e um"), (100, "pt", "cem"),
        (205, "pt", "duzentos e cinco"), (1500, "pt", "mil e quinhentos"),
        (1963, "pt", "mil novecentos e sessenta e três"), (2002, "pt", "dois mil e dois"),
        (17, "fr", "dix sept"), (21, "fr", "vingt et un"), (71, "fr", "soixante et onze"),
        (80, "fr", "quatre vingts"), (81, "fr", "quatre vingt un"), (99, "fr", "quatre vingt dix neuf"),
        (200, "fr", "deux cents"), (201, "fr", "deux cent un"), (1001, "fr", "mille un"),
        (1, "de", "eins"), (17, "de", "siebzehn"), (21, "de", "einundzwanzig"),
        (101, "de", "einhunderteins"), (2025, "de", "zweitausendfünfundzwanzig"),
    ],
)  # fmt: skip
def test_number_to_words(n, lang, words):
    assert numbers.number_to_words(n, lang) == words


def test_number_to_words_range():
    for lang in ("en", "es", "de", "fr", "pt"):
        for n in range(10000):
            assert numbers.number_to_words(n, lang)
    with pytest.raises(ValueError):
        numbers.number_to_words(10000, "en")
    with pytest.raises(ValueError):
        numbers.number_to_words(5, "zh")


def test_english_ordinals():
    assert numbers.english_ordinal(1) == "first"
    assert numbers.english_ordinal(20) == "twentieth"
    assert numbers.english_ordinal(23) == "twenty third"
    assert numbers.english_ordinal(12) == "twelfth"


# ------------------------------------------------------------------ WER / CER


def test_wer_identical_is_zero():
    assert wer.word_error_rate("the cat sat", "The cat, sat.") == 0.0
    assert wer.char_error_rate("the cat sat", "the cat sat") == 0.0


def test_wer_one_substitution():
    assert wer.word_error_rate("the cat sat on the mat", "the cat sat on the hat") == pytest.approx(1 / 6)
    e = wer.word_edits("the cat sat on the mat", "the cat sat on the hat", "en")
    assert (e.sub, e.dele, e.ins, e.ref) == (1, 0, 0, 6)
    # CER: one character of 22
    assert wer.char_error_rate("the cat sat on the mat", "the cat sat on the hat") == pytest.approx(1 / 22)


def test_wer_insertions_can_exceed_one():
    e = wer.word_edits("hello", "hello hello hello world", "en")
    assert (e.sub, e.dele, e.ins, e.ref) == (0, 0, 3, 1)
    assert wer.word_error_rate("hello", "hello hello hello world") == 3.0


def test_wer_empty_hypothesis():
    e = wer.word_edits("one two three", "", "en")
    assert (e.sub, e.dele, e.ins) == (0, 3, 0)
    assert wer.word_error_rate("one two three", "") == 1.0
    assert wer.char_error_rate("abc", "") == 1.0
    assert wer.word_error_rate("", "") == 0.0
    assert wer.word_error_rate("", "two words") == 2.0  # no reference: the number of insertions


def test_sub_del_ins_counts():
    ref = "a b c d e f".split()
    hyp = "a x c e f g h".split()  # b->x (S), d deleted (D), g h inserted (I)
    e = wer.edit_counts(ref, hyp)
    assert (e.sub, e.dele, e.ins, e.ref, e.hits) == (1, 1, 2, 6, 4)
    assert e.rate == pytest.approx(4 / 6)
    ops = wer.align(ref, hyp)
    assert [o for o, _, _ in ops] == ["=", "S", "=", "D", "=", "=", "I", "I"]
    total = wer.Edits(1, 2, 3, 10) + wer.Edits(1, 0, 0, 5)
    assert (total.sub, total.dele, total.ins, total.ref, total.errors) == (2, 2, 3, 15, 7)


def test_repeated_words_are_insertions():
    ref = "he was not an ill disposed young man".split()
    hyp = "he was not an ill disposed young man ill disposed young man".split()
    e = wer.edit_counts(ref, hyp)
    assert (e.sub, e.dele, e.ins) == (0, 0, 4)
    assert asr_scoring.repeated_ngrams(ref, hyp, 3) == 2  # "ill disposed young", "disposed young man"
    assert asr_scoring.repeated_ngrams(ref, ref, 3) == 0
    assert asr_scoring.repeated_ngrams(ref, "he was not a nice man".split(), 3) == 0


def test_numpy_edit_distance_matches_alignment():
    rng = random.Random(7)
    for _ in range(200):
        a = [rng.choice("abcd ") for _ in range(rng.randint(0, 15))]
        b = [rng.choice("abcd ") for _ in range(rng.randint(0, 15))]
        assert wer.edit_distance(a, b) == wer.edit_counts(a, b).errors
    assert wer.edit_distance("kitten", "sitting") == 3
    assert wer.edit_distance("", "abc") == 3


def test_bag_recall():
    assert asr_scoring.bag_recall("a b b c".split(), "b a x".split()) == pytest.approx(0.5)
    assert asr_scoring.bag_recall([], ["a"]) is None


def test_timed_words_and_spans():
    segs = [
        {"start": 0.0, "end": 2.0, "text": "Hello 25", "words": [
            {"start": 0.0, "end": 0.4, "text": " Hello"}, {"start": 0.5, "end": 1.0, "text": " 25,"}]},
        {"start": 10.0, "end": 12.0, "text": "ab cd"},  # no words: interpolated by characters
    ]  # fmt: skip
    tw = asr_scoring.timed_words(segs, "en")
    assert [w for _, w in tw] == ["hello", "twenty", "five", "ab", "cd"]
    assert tw[0][0] == pytest.approx(0.2) and tw[1][0] == pytest.approx(0.75)
    assert tw[3][0] == pytest.approx(10.0 + 2.0 * 1.0 / 5) and tw[4][0] == pytest.approx(10.0 + 2.0 * 4.0 / 5)
    assert asr_scoring.words_in_span(tw, 0.6, 1.0) == ["hello", "twenty", "five"]  # 0.5 s slack
    assert asr_scoring.words_in_span(tw, 11.5, 13.0) == ["cd"]


def test_score_long_on_fake_transcripts():
    lf = asr_data.LongFile("long/x.ogg", "en", 10.0, spans=[
        {"segment": 0, "start_s": 0.5, "end_s": 3.0, "source_file": "a.ogg", "reference_text": "one fine day"},
        {"segment": 1, "start_s": 4.0, "end_s": 7.0, "source_file": "b.ogg", "reference_text": "we went out"},
    ])  # fmt: skip
    clip_recs = {
        "a.ogg": {"text": "One fine day.", "seconds": 1.0, "duration": 2.5},
        "b.ogg": {"text": "We went out.", "seconds": 1.0, "duration": 3.0},
    }
    long_rec = {"text": "One fine day. One fine day.", "seconds": 2.0, "duration": 10.0, "language": "en",
                "segments": [{"start": 0.5, "end": 3.0, "text": "One fine day."},
                             {"start": 4.0, "end": 7.0, "text": "One fine day."}]}  # fmt: skip
    r = asr_scoring.score_long(lf, long_rec, clip_recs)
    assert r["long_vs_ref"]["sub"] == 3 and r["long_vs_ref"]["del"] == 0 and r["long_vs_ref"]["ins"] == 0
    assert r["clips_vs_ref"]["rate"] == 0.0
    assert r["per_clip"][0]["recall_long"] == 1.0 and r["per_clip"][1]["recall_long"] == 0.0
    assert r["clips_lost"] == 1 and r["repeated_3grams_long"] == 1
    assert r["word_times"].startswith("segment times")
    json.dumps(r)  # serializable


def test_load_clips_skips_weak_and_missing(tmp_path):
    rows = [
        {"file": "en/a.wav", "language": "en", "reference_text": "hi there", "duration_s": 1.0},
        {"file": "en/b.wav", "language": "en", "reference_text": "one two", "duration_s": 1.0,
         "reference_quality": "weak: ASR expected output"},
        {"file": "fr/c.wav", "language": "fr", "reference_text": None, "duration_s": 1.0},
        {"file": "zh/d.flac", "language": "zh", "reference_text": "x", "duration_s": 1.0},
    ]  # fmt: skip
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    clips, skipped = asr_data.load_clips(tmp_path)
    assert [c.file for c in clips] == ["en/a.wav"]
    assert {s["file"] for s in skipped} == {"en/b.wav", "fr/c.wav", "zh/d.flac"}


def test_other_language_segments():
    segs = [
        {"start": 0.0, "end": 1.0, "text": "Hallo", "language": "de"},
        {"start": 1.0, "end": 2.0, "text": "С вами.", "language": "ru"},
    ]
    assert asr_scoring.other_language_segments(segs, "de") == [{"start": 1.0, "end": 2.0, "language": "ru", "text": "С вами."}]
    assert asr_scoring.other_language_segments([{"start": 0.0, "end": 1.0, "text": "x"}], "de") is None
