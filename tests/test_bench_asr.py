"""Fast checks of the scoring helpers in benchmarks/asr.py (no models, no audio)."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest

ASR = Path(__file__).resolve().parents[1] / "benchmarks" / "asr.py"


@pytest.fixture(scope="module")
def asr():
    spec = importlib.util.spec_from_file_location("bench_asr", ASR)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_asr"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ normalizer


def test_punctuation_and_case(asr):
    assert asr.normalize("And so, my fellow Americans: ask NOT!", "en") == "and so my fellow americans ask not"
    assert asr.normalize("¿Cierto? ¡Sí!", "es") == "cierto sí"
    assert asr.normalize("il a ajouté qu’« on ne devrait »", "fr") == "il a ajouté qu on ne devrait"
    assert asr.normalize("«puede empoderar» — (oravec)", "es") == "puede empoderar oravec"
    assert asr.normalize("Tie-break; états-unis...", "fr") == "tie break états unis"
    assert asr.normalize("  many   people\tdon't\nthink ", "en") == "many people dont think"
    assert asr.normalize("l'accident", "fr") == asr.normalize("l’accident", "fr") == "laccident"
    assert asr.normalize("", "en") == "" and asr.normalize(None, "en") == ""


def test_accents_and_unicode_kept(asr):
    assert asr.normalize("Über die Unabhängigkeitserklärung, gleichermaßen", "de") == (
        "über die unabhängigkeitserklärung gleichermaßen"
    )
    assert asr.normalize("Construída pelos egípcios", "pt") == "construída pelos egípcios"
    # NFKC: a decomposed é equals the composed one; the ligature ﬁ becomes "fi"
    assert asr.normalize("cafe\u0301 ﬁn", "fr") == "café fin"


def test_numbers_digits_to_words_both_forms(asr):
    # digits and words end up the same on both sides
    assert asr.normalize("25 to 30 years", "en") == asr.normalize("twenty-five to thirty years", "en")
    assert asr.normalize("25 to 30 years", "en") == "twenty five to thirty years"
    assert asr.normalize("tuant ainsi 17 personnes", "fr") == asr.normalize("tuant ainsi dix-sept personnes", "fr")
    assert asr.normalize("cent pour cent", "fr") == asr.normalize("100 %", "fr")
    assert asr.normalize("100%", "en") == "one hundred percent"
    assert asr.normalize("mais de 70 dentes", "pt") == "mais de setenta dentes"
    assert asr.normalize("1963", "de") == "eintausendneunhundertdreiundsechzig"
    assert asr.normalize("20th century", "en") == asr.normalize("twentieth century", "en")
    assert asr.normalize("3:2", "en") == "three two"
    assert asr.normalize("1,000 people", "en") == asr.normalize("1000 people", "en") == "one thousand people"
    assert asr.normalize("2.500 personas", "es") == "dos mil quinientos personas"
    assert asr.normalize("mp3 2002)", "en") == "mp three two thousand two"
    assert asr.normalize("123456", "en") == "123456"  # past 9999 digits stay digits


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
def test_number_to_words(asr, n, lang, words):
    assert asr.number_to_words(n, lang) == words


def test_number_to_words_range(asr):
    for lang in ("en", "es", "de", "fr", "pt"):
        for n in range(10000):
            assert asr.number_to_words(n, lang)
    with pytest.raises(ValueError):
        asr.number_to_words(10000, "en")
    with pytest.raises(ValueError):
        asr.number_to_words(5, "zh")


def test_english_ordinals(asr):
    assert asr.english_ordinal(1) == "first"
    assert asr.english_ordinal(20) == "twentieth"
    assert asr.english_ordinal(23) == "twenty third"
    assert asr.english_ordinal(12) == "twelfth"


# ------------------------------------------------------------------ WER / CER


def test_wer_identical_is_zero(asr):
    assert asr.wer("the cat sat", "The cat, sat.") == 0.0
    assert asr.cer("the cat sat", "the cat sat") == 0.0


def test_wer_one_substitution(asr):
    assert asr.wer("the cat sat on the mat", "the cat sat on the hat") == pytest.approx(1 / 6)
    e = asr.word_edits("the cat sat on the mat", "the cat sat on the hat", "en")
    assert (e.sub, e.dele, e.ins, e.ref) == (1, 0, 0, 6)
    # CER: one character of 22
    assert asr.cer("the cat sat on the mat", "the cat sat on the hat") == pytest.approx(1 / 22)


def test_wer_insertions_can_exceed_one(asr):
    e = asr.word_edits("hello", "hello hello hello world", "en")
    assert (e.sub, e.dele, e.ins, e.ref) == (0, 0, 3, 1)
    assert asr.wer("hello", "hello hello hello world") == 3.0


def test_wer_empty_hypothesis(asr):
    e = asr.word_edits("one two three", "", "en")
    assert (e.sub, e.dele, e.ins) == (0, 3, 0)
    assert asr.wer("one two three", "") == 1.0
    assert asr.cer("abc", "") == 1.0
    assert asr.wer("", "") == 0.0
    assert asr.wer("", "two words") == 2.0  # no reference: the number of insertions


def test_sub_del_ins_counts(asr):
    ref = "a b c d e f".split()
    hyp = "a x c e f g h".split()  # b->x (S), d deleted (D), g h inserted (I)
    e = asr.edit_counts(ref, hyp)
    assert (e.sub, e.dele, e.ins, e.ref, e.hits) == (1, 1, 2, 6, 4)
    assert e.rate == pytest.approx(4 / 6)
    ops = asr.align(ref, hyp)
    assert [o for o, _, _ in ops] == ["=", "S", "=", "D", "=", "=", "I", "I"]
    total = asr.Edits(1, 2, 3, 10) + asr.Edits(1, 0, 0, 5)
    assert (total.sub, total.dele, total.ins, total.ref, total.errors) == (2, 2, 3, 15, 7)


def test_repeated_words_are_insertions(asr):
    ref = "he was not an ill disposed young man".split()
    hyp = "he was not an ill disposed young man ill disposed young man".split()
    e = asr.edit_counts(ref, hyp)
    assert (e.sub, e.dele, e.ins) == (0, 0, 4)
    assert asr.repeated_ngrams(ref, hyp, 3) == 2  # "ill disposed young", "disposed young man"
    assert asr.repeated_ngrams(ref, ref, 3) == 0
    assert asr.repeated_ngrams(ref, "he was not a nice man".split(), 3) == 0


def test_numpy_edit_distance_matches_alignment(asr):
    rng = random.Random(7)
    for _ in range(200):
        a = [rng.choice("abcd ") for _ in range(rng.randint(0, 15))]
        b = [rng.choice("abcd ") for _ in range(rng.randint(0, 15))]
        assert asr.edit_distance(a, b) == asr.edit_counts(a, b).errors
    assert asr.edit_distance("kitten", "sitting") == 3
    assert asr.edit_distance("", "abc") == 3


def test_bag_recall(asr):
    assert asr.bag_recall("a b b c".split(), "b a x".split()) == pytest.approx(0.5)
    assert asr.bag_recall([], ["a"]) is None


def test_timed_words_and_spans(asr):
    segs = [
        {"start": 0.0, "end": 2.0, "text": "Hello 25", "words": [
            {"start": 0.0, "end": 0.4, "text": " Hello"}, {"start": 0.5, "end": 1.0, "text": " 25,"}]},
        {"start": 10.0, "end": 12.0, "text": "ab cd"},  # no words: interpolated by characters
    ]  # fmt: skip
    tw = asr.timed_words(segs, "en")
    assert [w for _, w in tw] == ["hello", "twenty", "five", "ab", "cd"]
    assert tw[0][0] == pytest.approx(0.2) and tw[1][0] == pytest.approx(0.75)
    assert tw[3][0] == pytest.approx(10.0 + 2.0 * 1.0 / 5) and tw[4][0] == pytest.approx(10.0 + 2.0 * 4.0 / 5)
    assert asr.words_in_span(tw, 0.6, 1.0) == ["hello", "twenty", "five"]  # 0.5 s slack
    assert asr.words_in_span(tw, 11.5, 13.0) == ["cd"]


def test_score_long_on_fake_transcripts(asr):
    lf = asr.LongFile("long/x.ogg", "en", 10.0, spans=[
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
    r = asr.score_long(lf, long_rec, clip_recs)
    assert r["long_vs_ref"]["sub"] == 3 and r["long_vs_ref"]["del"] == 0 and r["long_vs_ref"]["ins"] == 0
    assert r["clips_vs_ref"]["rate"] == 0.0
    assert r["per_clip"][0]["recall_long"] == 1.0 and r["per_clip"][1]["recall_long"] == 0.0
    assert r["clips_lost"] == 1 and r["repeated_3grams_long"] == 1
    assert r["word_times"].startswith("segment times")
    json.dumps(r)  # serializable


def test_load_clips_skips_weak_and_missing(asr, tmp_path):
    rows = [
        {"file": "en/a.wav", "language": "en", "reference_text": "hi there", "duration_s": 1.0},
        {"file": "en/b.wav", "language": "en", "reference_text": "one two", "duration_s": 1.0,
         "reference_quality": "weak: ASR expected output"},
        {"file": "fr/c.wav", "language": "fr", "reference_text": None, "duration_s": 1.0},
        {"file": "zh/d.flac", "language": "zh", "reference_text": "x", "duration_s": 1.0},
    ]  # fmt: skip
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    clips, skipped = asr.load_clips(tmp_path)
    assert [c.file for c in clips] == ["en/a.wav"]
    assert {s["file"] for s in skipped} == {"en/b.wav", "fr/c.wav", "zh/d.flac"}


def test_other_language_segments(asr):
    segs = [
        {"start": 0.0, "end": 1.0, "text": "Hallo", "language": "de"},
        {"start": 1.0, "end": 2.0, "text": "С вами.", "language": "ru"},
    ]
    assert asr._other_language(segs, "de") == [{"start": 1.0, "end": 2.0, "language": "ru", "text": "С вами."}]
    assert asr._other_language([{"start": 0.0, "end": 1.0, "text": "x"}], "de") is None
