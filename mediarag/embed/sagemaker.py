"""Embeddings from a SageMaker endpoint (default contract: JumpStart GPT-J 6B text embedding)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..aws.clients import AwsConfig
from ..aws.runtime import EMBEDDING_ENDPOINT_ENV, MAX_PAYLOAD_BYTES, SageMakerEndpoint
from ..errors import ServiceError


class EmbeddingHandler(Protocol):
    """Speaks one embedding container's contract: texts to a request body, a body to vectors."""

    content_type: str
    accept: str

    def serialize(self, texts: Sequence[str]) -> bytes: ...

    def deserialize(self, body: bytes) -> list[list[float]]: ...


class GptJEmbeddingHandler:
    """JumpStart text embedding (GPT-J 6B): ``{"text_inputs": [...]}`` -> ``{"embedding": [[...]]}``."""

    content_type = "application/json"
    accept = "application/json"

    def serialize(self, texts: Sequence[str]) -> bytes:
        return json.dumps({"text_inputs": list(texts)}).encode("utf-8")

    def deserialize(self, body: bytes) -> list[list[float]]:
        data = json.loads(body)
        vectors = data["embedding"]
        if vectors and not isinstance(vectors[0], list):  # one text may come back as one vector
            vectors = [vectors]
        return vectors


class SageMakerEmbedder:
    """An `mediarag.embed.base.Embedder` over a SageMaker real-time endpoint.

    Texts are sent in batches of at most ``batch_size``, and smaller when a batch's request would
    pass the payload limit; vectors come back normalized to unit length. Queries and passages
    are embedded alike (GPT-J has no prefixes).

    Args:
        endpoint: the endpoint's name; ``None`` reads the ``embed_ep_name`` environment variable.
        handler: the container contract (default `GptJEmbeddingHandler`).
        batch_size: texts per request.
        dimension: the vectors' length, if known; otherwise learnt from one call.
        config: region, credentials and retries.
        max_payload_bytes: the endpoint's request size limit (6 MB for real-time endpoints).
        min_score: the score under which a passage counts as unrelated. No threshold has been
            measured for GPT-J's embeddings, so the default filters nothing; measure one on your
            own questions (benchmarks/retrieval.py shows how) and pass it.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        handler: EmbeddingHandler | None = None,
        batch_size: int = 32,
        dimension: int | None = None,
        config: AwsConfig | None = None,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        client: Any = None,
        min_score: float = -1.0,
    ) -> None:
        self.min_score = min_score
        self.endpoint = SageMakerEndpoint.named(
            endpoint, EMBEDDING_ENDPOINT_ENV, config=config, max_payload_bytes=max_payload_bytes, client=client
        )
        self.handler: EmbeddingHandler = handler or GptJEmbeddingHandler()
        self.batch_size = max(1, batch_size)
        self._dimension = dimension

    @property
    def name(self) -> str:
        """``sagemaker:<endpoint>``: an index built with it is searched only with it."""
        return f"sagemaker:{self.endpoint.name}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self._call(["dimension"]).shape[1])
        return self._dimension

    def warm_up(self) -> None:
        """One call, which also learns the dimension."""
        _ = self.dimension

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [self._call(batch) for batch in self._batches(list(texts))]
        vectors = np.concatenate(parts)
        self._dimension = int(vectors.shape[1])
        return vectors

    def _batches(self, texts: list[str]) -> list[list[str]]:
        """Runs of at most ``batch_size`` texts whose request fits the payload limit."""
        batches: list[list[str]] = []
        current: list[str] = []
        for text in texts:
            trial = current + [text]
            too_big = len(self.handler.serialize(trial)) > self.endpoint.max_payload_bytes
            if current and (len(trial) > self.batch_size or too_big):
                batches.append(current)
                current = [text]
            else:
                current = trial
        if current:
            batches.append(current)
        return batches

    def _call(self, texts: list[str]) -> np.ndarray:
        body = self.endpoint.invoke(self.handler.serialize(texts), self.handler.content_type, self.handler.accept)
        try:
            vectors = np.asarray(self.handler.deserialize(body), dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise ServiceError(self.endpoint.resource, "invalid", f"unexpected embedding response: {exc}") from exc
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ServiceError(
                self.endpoint.resource,
                "invalid",
                f"asked for {len(texts)} embeddings, got an array of shape {vectors.shape}",
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
