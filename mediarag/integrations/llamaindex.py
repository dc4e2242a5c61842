"""A LlamaIndex retriever over mediarag (the ``llamaindex`` extra: llama-index-core)::

    from mediarag.integrations.llamaindex import MediaRagRetriever

    retriever = MediaRagRetriever(qa=MediaQA("my-index"))                  # in this process
    retriever = MediaRagRetriever(url="http://127.0.0.1:8000", token=...)  # or a mediarag server
    nodes = retriever.retrieve("When is the deadline?")
    nodes[0].score, nodes[0].node.metadata["start"]
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError
from .search import PassageSearch, passage_metadata

try:
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
except ImportError as exc:  # pragma: no cover - depends on the extra
    raise MissingDependencyError("llama-index-core", "llamaindex", "the LlamaIndex retriever") from exc

if TYPE_CHECKING:
    from ..qa import MediaQA


class MediaRagRetriever(BaseRetriever):
    """Passages of indexed media as `NodeWithScore`s: each node's text is the passage, its
    metadata holds source, start, end (seconds), moment_start, moment_end, link, speaker, kind
    and score (and media_url when searched through a server); the score is the passage's
    retrieval score (cosine plus the keyword bonus under hybrid retrieval).

    Give ``qa`` (a `mediarag.MediaQA`) or ``url`` (+ ``token``) of a ``mediarag serve`` server.
    """

    def __init__(
        self,
        qa: MediaQA | None = None,
        *,
        url: str | None = None,
        token: str | None = None,
        k: int | None = None,
        speaker: str | None = None,
        kind: str | None = None,
        timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        self.passages = PassageSearch(qa, url=url, token=token, k=k, speaker=speaker, kind=kind, timeout=timeout)
        super().__init__(**kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        nodes = []
        for hit in self.passages.search(query_bundle.query_str):
            key = f"{hit['source']}#{hit['start']}-{hit['end']}"
            node = TextNode(
                id_=hashlib.sha256(key.encode("utf-8")).hexdigest()[:32],
                text=hit["text"],
                metadata=passage_metadata(hit),
                excluded_embed_metadata_keys=["link", "media_url", "media_id", "score"],
                excluded_llm_metadata_keys=["link", "media_url", "media_id", "score"],
            )
            nodes.append(NodeWithScore(node=node, score=hit["score"]))
        return nodes
