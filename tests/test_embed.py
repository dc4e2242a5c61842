"""Embedders: real packaged models, unit vectors, queries and passages kept apart."""

from __future__ import annotations

import numpy as np
import pytest

from mediarag.embed import E5Embedder, Embedder


def test_minilm_unit_vectors_and_relevance(embedder):
    assert isinstance(embedder, Embedder) and embedder.dimension == 384
    passages = embedder.embed_passages(["The cat sleeps on the sofa.", "Interest rates rose by half a point."])
    query = embedder.embed_queries(["Where is the cat sleeping?"])[0]
    assert passages.dtype == np.float32 and passages.shape == (2, 384)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    scores = passages @ query
    assert scores[0] > scores[1] + 0.3
    assert embedder.embed_passages([]).shape == (0, 384)


def test_e5_finds_the_translation_across_languages():
    e5 = E5Embedder()
    assert isinstance(e5, Embedder)
    query = e5.embed_queries(["Where was the final played?"])[0]
    passages = e5.embed_passages(["La final se jugó en el estadio de Wembley.", "Der Hund schläft im Garten."])
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    scores = passages @ query
    assert scores[0] > scores[1]
    # query and passage prefixes differ, so the same text embeds differently on each side
    same = "Where was the final played?"
    assert float(e5.embed_passages([same])[0] @ query) < 0.999


def test_e5_batches_give_the_same_vectors():
    texts = [f"Sentence number {i} about the weather." for i in range(7)]
    one = E5Embedder(batch_size=3).embed_passages(texts)
    two = E5Embedder(batch_size=32).embed_passages(texts)
    assert one == pytest.approx(two, abs=1e-5)
