"""The keyword index of the store: written with each segment, searched over exactly the passages
the generation serves (replace, remove, prune, merges), exact collection statistics, fuzzy names,
an index written before keyword data existed, and the retrievers and settings built on it."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from mediarag import MediaQA, Settings
from mediarag.retrieve import DenseRetriever, HybridRetriever, make_retriever
from mediarag.retrieve.hybrid import fuse
from mediarag.schema import Chunk, Hit, Segment, SourceInfo, Transcript
from mediarag.store import FaissStore
from mediarag.store.keywords import FuzzyMatch, KeywordIndex
from mediarag.store.layout import MERGE_FACTOR
from mediarag.store.terms import PassageTerms
from mediarag.testing import HashingEmbedder

DATA = Path(__file__).parent / "data"
EMBEDDER = HashingEmbedder(64)

LOG = {
    "maintenance.wav": ["Technician Lindquist serviced pump KX-4471 on March 3, 2021.", "The pressure was twenty seven bar."],
    "shipping.wav": ["Container BT-220 left the port with 480 pallets.", "Petrov signed it off on the 14th of July."],
    "hotel.wav": ["Guest Nakamura checked into room 512 and paid 340 euros.", "She left on the next morning."],
}


def add_text(store: FaissStore, name: str, lines: list[str], language: str = "en", embedder: HashingEmbedder = EMBEDDER) -> None:
    chunks = [
        Chunk(id=f"{name}#{i}", source=name, start=5.0 * i, end=5.0 * i + 4, text=t, language=language)
        for i, t in enumerate(lines)
    ]
    transcript = Transcript(source=name, language=language, duration=5.0 * len(lines),
                            segments=[Segment(start=c.start, end=c.end, text=c.text) for c in chunks])  # fmt: skip
    info = SourceInfo(source=name, sha256="0" * 64, duration=transcript.duration, language=language,
                      languages=[language], chunks=len(chunks))  # fmt: skip
    store.add_source(info, transcript, chunks, embedder.embed_passages(lines))


def top_source(store: FaissStore, question: str) -> str | None:
    hits = store.keyword_search(question, k=1)
    return hits[0].chunk.source if hits else None


def scores(store: FaissStore, question: str) -> dict[str, float]:
    return {h.chunk.id: round(h.score, 5) for h in store.keyword_search(question, k=100)}


@pytest.fixture
def log_store(tmp_path: Path) -> FaissStore:
    store = FaissStore(tmp_path / "idx", embedder_name=EMBEDDER.name)
    for name, lines in LOG.items():
        add_text(store, name, lines)
        store.commit()
    return store


def test_names_numbers_and_codes_find_their_passage(log_store: FaissStore) -> None:
    assert top_source(log_store, "Who serviced pump KX-4471?") == "maintenance.wav"
    assert top_source(log_store, "What happened to container BT 220?") == "shipping.wav"
    assert top_source(log_store, "Who paid three hundred and forty euros?") == "hotel.wav"  # spoken number
    assert top_source(log_store, "What was measured at 27 bar?") == "maintenance.wav"  # "twenty seven" indexed as 27
    assert log_store.keyword_search("nothing matches this xyzzy", k=3) == []
    hit = log_store.keyword_search("Nakamura room 512", k=1)[0]
    assert hit.chunk.id == "hotel.wav#0" and 0.5 < hit.score < 2.0  # relative to the question's weight


def test_misheard_names_match_fuzzily_and_can_be_switched_off(log_store: FaissStore) -> None:
    # Whisper wrote "Lindquist"; the user types the real name.
    assert top_source(log_store, "What did Lindqvist do?") == "maintenance.wav"
    assert top_source(log_store, "Who is Petrow?") == "shipping.wav"
    assert log_store.keyword_search("What did Lindqvist do?", k=3, fuzzy=FuzzyMatch(min_similarity=1.01)) == []
    index = log_store.keyword_index()
    assert [m for m, _ in index.similar("lindqvist")] == ["lindquist"]
    assert index.similar("pump") == []  # short words are never matched fuzzily


def test_every_segment_has_keyword_data_on_disk(log_store: FaissStore) -> None:
    index_dir = log_store.index_dir
    manifest = json.loads((index_dir / "manifest.json").read_bytes())
    for ref in manifest["segments"]:
        meta = json.loads((index_dir / "segments" / f"{ref['name']}.json").read_bytes())
        assert meta["keywords"] is not None
        terms = PassageTerms.read(index_dir / "segments" / f"{ref['name']}.terms.npz", ref["chunks"])
        assert len(terms) == ref["chunks"] and terms.vocab


def test_replace_remove_and_rollback_change_what_keyword_search_sees(log_store: FaissStore) -> None:
    index_dir = log_store.index_dir
    add_text(log_store, "hotel.wav", ["Guest Okonkwo checked into room 77."])  # replaced, not committed
    assert top_source(log_store, "Nakamura") is None and top_source(log_store, "Okonkwo") == "hotel.wav"
    log_store.rollback()
    assert top_source(log_store, "Nakamura") == "hotel.wav" and top_source(log_store, "Okonkwo") is None
    add_text(log_store, "hotel.wav", ["Guest Okonkwo checked into room 77."])
    log_store.commit()
    log_store.delete_source("shipping.wav")
    log_store.commit()
    reopened = FaissStore(index_dir)
    for store in (log_store, reopened):
        assert top_source(store, "Nakamura") is None and top_source(store, "Okonkwo") == "hotel.wav"
        assert top_source(store, "container BT-220 Petrov") is None
        assert top_source(store, "pump KX-4471") == "maintenance.wav"


def test_statistics_are_those_of_the_live_passages(tmp_path: Path, log_store: FaissStore) -> None:
    """After replacements, removals and merges, BM25 scores equal those of an index built from
    the live passages alone (tombstoned passages count in no statistic)."""
    for i in range(MERGE_FACTOR + 2):  # enough commits for a merge
        add_text(log_store, f"extra-{i}.wav", [f"Extra record {i}: pump {100 + i} checked by Lindquist."])
        log_store.commit()
        if i % 3 == 0:
            log_store.delete_source(f"extra-{i}.wav")
            log_store.commit()
    log_store.delete_source("hotel.wav")
    log_store.commit()
    fresh = FaissStore(tmp_path / "fresh", embedder_name=EMBEDDER.name)
    for source in log_store.sources():
        add_text(fresh, source, [c.text for c in log_store.chunks(source)])
    fresh.commit()
    assert log_store.segments < MERGE_FACTOR + 4  # merged
    for question in ("Who checked pump 105?", "Lindquist pump", "Nakamura", "container 480 pallets"):
        assert scores(log_store, question) == scores(fresh, question)
        assert scores(FaissStore(log_store.index_dir), question) == scores(fresh, question)


def test_prune_removes_missing_files_from_the_keyword_index(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    for name in ("a.wav", "b.wav"):
        shutil.copy(DATA / "jfk.flac", media / name)
    qa = MediaQA(tmp_path / "idx", embedder=EMBEDDER, settings=Settings(retrieval="keyword"))
    store = qa.store
    add_text(store, str(media / "a.wav"), ["Alpha record about Lindquist."])
    add_text(store, str(media / "b.wav"), ["Beta record about Nakamura."])
    store.commit()
    (media / "b.wav").unlink()
    assert qa.prune() == [str(media / "b.wav")]
    assert [c.source for c in qa.search("Nakamura")] == []
    assert [c.source for c in qa.search("Lindquist")] == [str(media / "a.wav")]
    assert qa.remove(media / "a.wav") == 1 and qa.search("Lindquist") == []


def test_an_index_without_keyword_data_opens_is_searched_and_back_filled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index_dir = tmp_path / "old"
    shutil.copytree(DATA / "index-v2-nokeywords", index_dir)
    with caplog.at_level(logging.WARNING, logger="mediarag.store"):
        store = FaissStore(index_dir)
    assert "3 of 3 index segments have no keyword data" in caplog.text
    assert not list(index_dir.rglob("*.terms.npz"))
    # Searched by keyword already (its passages analyzed in memory), without the removed file.
    assert top_source(store, "pump KX-4471") == "maintenance.wav"
    assert top_source(store, "Halvorsen ZZ-9999") is None
    before = {q: scores(store, q) for q in ("Petrov July", "room 512 Nakamura", "27 bar")}
    # The next commit writes the keyword data (no vectors are computed again).
    vectors = store.vectors("shipping.wav")
    add_text(store, "new.wav", ["A new record about Halvorsen."], embedder=HashingEmbedder(16))
    store.commit()
    assert len(list(index_dir.rglob("*.terms.npz"))) == store.segments
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mediarag.store"):
        reopened = FaissStore(index_dir)
    assert "no keyword data" not in caplog.text
    np.testing.assert_allclose(reopened.vectors("shipping.wav"), vectors)
    assert top_source(reopened, "Halvorsen") == "new.wav"
    reopened.delete_source("new.wav")
    for question, expected in before.items():
        assert scores(reopened, question) == expected


def test_a_format_1_index_is_searched_by_keyword(tmp_path: Path) -> None:
    index_dir = tmp_path / "v1"
    shutil.copytree(DATA / "index-v1", index_dir)
    store = FaissStore(index_dir)
    hits = store.keyword_search("ask not what your country can do for you", k=1)
    assert hits and hits[0].chunk.source.endswith("jfk.flac")


def test_lost_or_corrupt_keyword_data_is_analyzed_again(log_store: FaissStore, caplog: pytest.LogCaptureFixture) -> None:
    index_dir = log_store.index_dir
    files = sorted(index_dir.rglob("*.terms.npz"))
    files[0].unlink()
    files[1].write_bytes(b"not an npz file")
    with caplog.at_level(logging.WARNING, logger="mediarag.store"):
        store = FaissStore(index_dir)
    assert "keyword data" in caplog.text
    assert {top_source(store, q) for q in ("KX-4471", "BT-220", "Nakamura")} == set(LOG)
    add_text(store, "more.wav", ["One more."])
    store.commit()  # rewrites the two segments with their keyword data
    assert len(list(index_dir.rglob("*.terms.npz"))) == store.segments


def test_terms_of_translated_passages_include_the_spoken_words() -> None:
    chunk = Chunk(id="x", source="x", start=0, end=1, text="The bridge is closed.", language="es",
                  original_text="El puente está cerrado.")  # fmt: skip
    terms = PassageTerms.of_chunks([chunk], "es", task="translate")
    assert {"bridg", "close", "puent", "cerr"} <= set(terms.vocab)


def test_keyword_index_of_nothing_and_of_many_languages() -> None:
    empty = KeywordIndex([])
    assert empty.search("anything", 5) == [] and len(empty) == 0
    chunks = [Chunk(id="en", source="a", start=0, end=1, text="The running dogs", language="en"),
              Chunk(id="es", source="b", start=0, end=1, text="Los perros corriendo", language="es")]  # fmt: skip
    index = KeywordIndex([(PassageTerms.of_chunks(chunks, None), chunks)], languages=["en", "es"])
    assert index.search("dog that runs", 1)[0].chunk.id == "en"  # English stems
    assert index.search("perro", 1)[0].chunk.id == "es"  # Spanish stems


def test_fusion_ranks_passages_found_by_both_first() -> None:
    def hit(i: str, score: float) -> Hit:
        return Hit(chunk=Chunk(id=i, source=i, start=0, end=1, text=i), score=score)

    fused = fuse([hit("a", 0.9), hit("b", 0.8), hit("c", 0.7)], [hit("c", 2.0), hit("d", 1.0)], rrf_k=10)
    assert [c.chunk.id for c in fused] == ["c", "a", "b", "d"]
    assert fused[0].dense_rank == 3 and fused[0].keyword_rank == 1
    both = fuse([hit("a", 0.9)], [hit("a", 1.0)])
    assert both[0].fused == pytest.approx(1.0)
    assert fuse([], []) == []


def test_settings_name_the_retrieval_mode(tmp_path: Path) -> None:
    assert Settings().retrieval.mode == "hybrid"
    assert Settings(retrieval="keyword").retrieval.mode == "keyword"
    settings = Settings(retrieval={"mode": "dense", "k": 3})
    assert (settings.retrieval.mode, settings.k) == ("dense", 3)
    assert Settings(retrieval="dense", k=2).retrieval.k == 2  # with a flat name too
    settings.retrieval = "keyword"
    assert settings.retrieval.mode == "keyword"
    with pytest.raises(ValueError, match="hybrid"):
        Settings(retrieval="bm25")
    store = FaissStore(tmp_path / "idx")
    assert isinstance(make_retriever(Settings(retrieval="dense").retrieval, store, EMBEDDER), DenseRetriever)
    hybrid = MediaQA(tmp_path / "a", embedder=EMBEDDER).retriever
    assert isinstance(hybrid, HybridRetriever) and hybrid.mode == "hybrid"
    keyword = MediaQA(tmp_path / "b", embedder=EMBEDDER, settings=Settings(retrieval="keyword")).retriever
    assert isinstance(keyword, HybridRetriever) and keyword.mode == "keyword"


def test_hybrid_keeps_the_dense_meaning_of_min_score(log_store: FaissStore) -> None:
    retriever = HybridRetriever(log_store, EMBEDDER, k=2)
    hits = retriever.retrieve("Who serviced pump KX-4471?")
    assert hits and hits[0].chunk.id == "maintenance.wav#0" and hits[0].score > 0
    assert retriever.retrieve("Who serviced pump KX-4471?", min_score=0.999) == []  # no passage that close
    assert retriever.retrieve("Who serviced pump KX-4471?", min_score=-1.0)
    keyword = HybridRetriever(log_store, EMBEDDER, mode="keyword")
    assert [h.chunk.id for h in keyword.retrieve("Petrov", k=1)] == ["shipping.wav#1"]
    assert keyword.retrieve("zebra xylophone") == []


# Real speech: ten unrelated FLEURS sentences in one file, transcribed by Whisper tiny.en --------


@pytest.fixture(scope="module")
def fleurs_qa(tmp_path_factory: pytest.TempPathFactory, tiny_en, embedder) -> MediaQA:  # noqa: ANN001
    # Without the speaker stage: ten voices in one file split some sentences at a misheard turn
    # (tests/test_speakers.py covers passages at turns); these tests are about the words.
    index = tmp_path_factory.mktemp("fleurs")
    qa = MediaQA(index, transcriber=tiny_en, embedder=embedder, settings=Settings(index_dir=index, stages=[]))
    report = qa.ingest([DATA / "fleurs_en_concat.ogg"])
    assert report.ok and len(report.ingested) == 1
    return qa


def spans_of(clip_spans: dict, index: int) -> tuple[float, float]:
    span = clip_spans["fleurs_en_concat.ogg"][index]
    return span["start_s"], span["end_s"]


@pytest.mark.parametrize(
    ("question", "sentence", "fuzzy"),
    [
        ("Which town did Lord Byron make famous?", 2, False),  # names
        ("What lagged behind by twenty five to thirty years?", 0, False),  # spoken number, typed in words
        ("What about the Mariana?", 6, True),  # spelled otherwise: found by fuzzy matching only
    ],
)
def test_keyword_and_hybrid_retrieval_on_real_speech(fleurs_qa: MediaQA, clip_spans: dict, question: str,
                                                     sentence: int, fuzzy: bool) -> None:  # fmt: skip
    lo, hi = spans_of(clip_spans, sentence)
    keyword = HybridRetriever(fleurs_qa.store, fleurs_qa.embedder, mode="keyword")
    hybrid = HybridRetriever(fleurs_qa.store, fleurs_qa.embedder, min_score=-1.0)
    for retriever in (keyword, hybrid):
        top = retriever.retrieve(question, k=1)[0].chunk
        assert min(top.end, hi) > max(top.start, lo), (retriever.mode, top.text)
    exact = HybridRetriever(fleurs_qa.store, fleurs_qa.embedder, mode="keyword", fuzzy=FuzzyMatch(min_similarity=1.01))
    found = exact.retrieve(question, k=1)
    assert (not found or not min(found[0].chunk.end, hi) > max(found[0].chunk.start, lo)) == fuzzy


def test_default_settings_search_real_speech_by_words(fleurs_qa: MediaQA, clip_spans: dict) -> None:
    lo, hi = spans_of(clip_spans, 3)
    citations = MediaQA(fleurs_qa.settings.index_dir, embedder=fleurs_qa.embedder,
                        settings=Settings(index_dir=fleurs_qa.settings.index_dir, retrieval="keyword")).search("cabbage juice")
    assert citations and min(citations[0].end, hi) > max(citations[0].start, lo)


def test_evidence_figures_and_the_abstention_model() -> None:
    from mediarag.retrieve.hybrid import ABSTENTION, FEATURES, AbstentionModel, Evidence

    dense = [0.9] + [0.8] * 9 + [0.7] * 40
    evidence = Evidence.of([], dense, [1.2, 0.3], agree=True, missing=0.25)
    figures = dict(zip(FEATURES, evidence.features()))
    assert figures["top_dense"] == 0.9 and figures["background_gap"] == pytest.approx(0.2)
    assert figures["standout"] > 2 and figures["top_keyword"] == 1.2 and figures["agree"] == 1.0
    assert figures["missing"] == 0.25 and evidence.dense_count == 50
    assert figures["cross_language"] == 0.0 and figures["top_file_share"] == 0.0  # no files given
    files = ["/m/a.ogg", "/m/b.ogg", "/m/a.ogg", "/m/a.ogg", "/m/c.ogg", "/m/a.ogg"]  # the 6th is past the top 5
    crossed = Evidence.of([], dense, [1.2, 0.3], agree=True, missing=0.25, cross_language=True, dense_sources=files)
    assert dict(zip(FEATURES, crossed.features()))["top_file_share"] == pytest.approx(0.6)
    assert dict(zip(FEATURES, crossed.features()))["cross_language"] == 1.0
    model = AbstentionModel(intercept=-1.0, weights=(0, 0, 0, 1.0, 0, 0, 0, 0), threshold=0.5)
    assert evidence.confidence(model) == pytest.approx(1 / (1 + np.exp(-0.2)))
    assert Evidence.of([], [], [], agree=False, missing=1.0).features()[0] == -1.0
    assert set(ABSTENTION) == {"multilingual-e5-small"}  # measured for the default embedder only
    assert all(len(m.weights) == len(FEATURES) for m in ABSTENTION.values())


def test_questions_in_another_language_than_the_passage_are_told_apart() -> None:
    from mediarag.retrieve.hybrid import is_cross_language, passage_language
    from mediarag.terms import guess_language

    assert guess_language("What is the name of the stadium where the game was played?") == "en"
    assert guess_language("¿Cuál es el nombre del estadio en el que se jugó el partido?") == "es"
    assert guess_language("Wie heißt das Stadion, in dem das Spiel ausgetragen wurde?") == "de"
    assert guess_language("Tesla 1937") is None  # no function words: unknown
    spanish = Chunk(id="es-0", source="/m/a.ogg", start=0, end=5, text="El estadio está en la ciudad.", language="es")
    translated = spanish.model_copy(update={"text": "The stadium is in the city.", "original_text": spanish.text})
    assert passage_language(spanish) == "es" and passage_language(translated) == "en"
    assert is_cross_language("Where is the stadium?", spanish)
    assert not is_cross_language("Where is the stadium?", translated)
    assert not is_cross_language("¿Dónde está el estadio?", spanish)
    assert not is_cross_language("Tesla 1937", spanish)  # unknown language: not counted as another
    assert not is_cross_language("Where is the stadium?", spanish.model_copy(update={"language": None}))


def test_small_indexes_and_unmeasured_embedders_use_the_cosine_threshold(log_store: FaissStore) -> None:
    strict = HashingEmbedder(64, min_score=0.5)  # no measured model: its own cosine threshold
    retriever = HybridRetriever(log_store, strict)
    assert retriever.abstention is None and retriever.min_score == 0.5
    evidence = retriever.evidence("Who serviced pump KX-4471?")
    assert evidence.top_dense >= 0.5 and retriever.answers(evidence)
    unrelated = retriever.evidence("zebra xylophone quartz")
    assert unrelated.top_dense < 0.5 and not retriever.answers(unrelated) and retriever.retrieve("zebra xylophone quartz") == []


def test_passages_neither_search_supports_are_not_handed_on(log_store: FaissStore) -> None:
    retriever = HybridRetriever(log_store, EMBEDDER)
    evidence = retriever.evidence("Who serviced pump KX-4471?")
    everything = retriever.supported(evidence, 6, min_score=-1.0)
    assert len(everything) == 6
    strict = retriever.supported(evidence, 6, min_score=1.5)  # no cosine reaches it
    assert strict[0] == evidence.candidates[0]
    assert all((c.keyword or 0) >= 0.5 for c in strict[1:])


def test_questions_in_another_language_match_cognates_more_loosely(tmp_path: Path) -> None:
    store = FaissStore(tmp_path / "idx", embedder_name=EMBEDDER.name)
    add_text(store, "clase.wav", ["La universidad abrió sus puertas en el siglo pasado.",
                                  "El teléfono sonó durante la clase de geografía.",
                                  "Los estudiantes comieron en el parque."], language="es")  # fmt: skip
    store.commit()
    question = "When did the university open?"  # English over Spanish: "university" ~ "univers" (0.7)
    loose = HybridRetriever(store, EMBEDDER, fuzzy=FuzzyMatch(), cross_fuzzy=FuzzyMatch(min_similarity=0.6))
    strict = HybridRetriever(store, EMBEDDER, fuzzy=FuzzyMatch())
    dense = store.search(EMBEDDER.embed_queries([question])[0], k=3)
    assert loose.fuzzy_for(question, dense).min_similarity == 0.6
    assert strict.fuzzy_for(question, dense).min_similarity == 0.8  # no cross-language setting: the usual one
    assert loose.fuzzy_for("¿Cuándo abrió la universidad?", dense).min_similarity == 0.8  # same language
    assert loose.fuzzy_for(question, []).min_similarity == 0.8  # nothing by meaning: language unknown
    evidence, before = loose.evidence(question), strict.evidence(question)
    found = {c.chunk.id: c.keyword for c in evidence.candidates if c.keyword}
    assert found.get("clase.wav#0", 0) > 0  # the cognate is matched, for the ranking
    assert "clase.wav#0" not in {c.chunk.id for c in before.candidates if c.keyword}
    # The answer-or-not figures stay those of the usual search, as the abstention model was fit.
    assert evidence.features() == before.features() and evidence.cross_language
    # The setting reaches the retriever MediaQA builds, 0.6 by default.
    built = make_retriever(Settings().retrieval, store, EMBEDDER)
    assert built.cross_fuzzy.min_similarity == Settings().retrieval.cross_fuzzy == 0.6
    assert make_retriever(Settings(retrieval={"cross_fuzzy": 1.01}).retrieval, store, EMBEDDER).cross_fuzzy.min_similarity == 1.01
