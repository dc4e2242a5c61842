"""Sentence embeddings with sentence-transformers (default: the packaged all-MiniLM-L6-v2)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._threads import one_thread
from ..errors import ModelError
from ..weights import resolve_embedder


#: Query batches up to this size are embedded on one thread (latency, not throughput).
SMALL_BATCH = 4
#: all-MiniLM-L6-v2 on spoken XQuAD (English; benchmarks/results/retrieval.md): keeps 96 % of
#: answerable questions and rejects 76 % of unanswerable ones (the accuracy-best 0.41 would turn
#: 12 % of answerable ones away). Used for other models unless one is given.
MINILM_MIN_SCORE = 0.35


class SentenceTransformerEmbedder:
    """Embeds texts with a sentence-transformers model, normalized to unit length.

    ``model`` is a packaged alias (``all-MiniLM-L6-v2``), a local directory or a hub name.
    e5-style models get their ``query: `` / ``passage: `` prefixes automatically unless
    ``query_prefix`` and ``passage_prefix`` are given. ``min_score`` is the score under which a
    passage counts as unrelated; the default was measured for all-MiniLM-L6-v2, so pass one
    measured for any other model. ``device`` is a torch device (``cpu``, ``cuda``...) or
    ``auto`` (a GPU when there is one).
    """

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        *,
        device: str = "cpu",
        batch_size: int = 64,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
        min_score: float = MINILM_MIN_SCORE,
    ) -> None:
        self.model_name = model
        self.min_score = min_score
        self.device = device
        self.batch_size = batch_size
        is_e5 = "e5" in model.lower()
        self.query_prefix = query_prefix if query_prefix is not None else ("query: " if is_e5 else "")
        self.passage_prefix = (
            passage_prefix if passage_prefix is not None else ("passage: " if is_e5 else "")
        )
        self._model = None

    @property
    def name(self) -> str:
        return self.model_name

    @property
    def dimension(self) -> int:
        self.warm_up()
        dim = self._model.get_embedding_dimension()  # type: ignore[union-attr]
        return int(dim)

    def warm_up(self) -> None:
        if self._model is not None:
            return
        from sentence_transformers import SentenceTransformer

        path = resolve_embedder(self.model_name)
        device = self.device
        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self._model = SentenceTransformer(path, device=device)
        except Exception as exc:  # noqa: BLE001 - any loading failure becomes one clear error
            raise ModelError(f"cannot load embedding model '{self.model_name}' ({path}): {exc}") from exc

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = [self.query_prefix + t for t in texts]
        if len(texts) <= SMALL_BATCH:
            with one_thread():
                return self._encode(texts)
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(  # type: ignore[union-attr]
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
