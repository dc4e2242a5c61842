"""The Embedder protocol: texts in, unit-length vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalized float32 vectors of shape ``(len(texts), dimension)``.

    Queries and passages are embedded separately because some models (e5, for one) need a
    different prefix on each side. ``name`` identifies the model, so an index built with one
    embedder is never searched with another.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def min_score(self) -> float:
        """The cosine score under which a passage is taken as unrelated to a query: scores sit in
        a model-specific band, so each model carries its own, measured threshold."""
        ...

    def warm_up(self) -> None: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...
