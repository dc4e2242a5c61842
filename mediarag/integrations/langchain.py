"""A LangChain retriever over mediarag (the ``langchain`` extra: langchain-core)::

    from mediarag.integrations.langchain import MediaRagRetriever

    retriever = MediaRagRetriever(qa=MediaQA("my-index"))                  # in this process
    retriever = MediaRagRetriever(url="http://127.0.0.1:8000", token=...)  # or a mediarag server
    docs = retriever.invoke("When is the deadline?")
    docs[0].metadata["source"], docs[0].metadata["start"], docs[0].metadata["link"]

It is a Runnable, so it goes into an LCEL chain like any retriever.
"""

from __future__ import annotations

from typing import Any

from ..errors import MissingDependencyError
from .search import PassageSearch, passage_metadata

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
except ImportError as exc:  # pragma: no cover - depends on the extra
    raise MissingDependencyError("langchain-core", "langchain", "the LangChain retriever") from exc
from pydantic import ConfigDict, PrivateAttr, SecretStr


class MediaRagRetriever(BaseRetriever):
    """Passages of indexed media as LangChain `Document`s: ``page_content`` is the passage,
    ``metadata`` holds source, start, end (seconds), moment_start, moment_end, link (plays the
    moment), speaker, kind and score (and media_url when searched through a server).

    Give ``qa`` (a `mediarag.MediaQA`) or ``url`` (+ ``token``) of a ``mediarag serve`` server.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    qa: Any = None
    url: str | None = None
    token: SecretStr | None = None
    k: int | None = None
    speaker: str | None = None
    kind: str | None = None
    timeout: float = 30.0
    _search: PassageSearch = PrivateAttr()

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        token = self.token.get_secret_value() if self.token else None
        self._search = PassageSearch(self.qa, url=self.url, token=token, k=self.k,
                                     speaker=self.speaker, kind=self.kind, timeout=self.timeout)  # fmt: skip

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [Document(page_content=hit["text"], metadata=passage_metadata(hit)) for hit in self._search.search(query)]
