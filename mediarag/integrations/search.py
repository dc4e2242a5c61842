"""`PassageSearch`: the passages for a query, from a `mediarag.MediaQA` in this process or from
a ``mediarag serve`` server (``GET /v1/search``), as citation JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import MediaRagError, MissingDependencyError, ServiceError

if TYPE_CHECKING:
    from ..qa import MediaQA

#: The metadata every framework document carries (``media_url`` and ``name`` too when remote).
METADATA_KEYS = ("source", "start", "end", "link", "speaker", "kind", "score")


class PassageSearch:
    """Searches ``qa`` (a `MediaQA`), or the server at ``url`` with ``token``; exactly one of
    the two. ``k`` passages per query (None: the index's default), only of ``speaker`` or
    ``kind`` when given. A remote call waits up to ``timeout`` seconds."""

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
    ) -> None:
        if (qa is None) == (url is None):
            raise MediaRagError("give a MediaQA or the URL of a mediarag server (one of them)")
        self.qa = qa
        self.url = url.rstrip("/") if url else None
        self.token = token
        self.k = k
        self.speaker = speaker
        self.kind = kind
        self.timeout = timeout

    def search(self, query: str) -> list[dict[str, Any]]:
        """The best passages for ``query``, best first, as ``mediarag search --json`` hits."""
        if self.qa is not None:
            from ..formats import citation_json
            from ..retrieve.citations import cite
            from ..retrieve.filters import PassageFilter, retrieve_filtered
            from ..retrieve.query import check_query

            check_query(query, "search query")
            hits = retrieve_filtered(self.qa.retriever, query, PassageFilter(self.speaker, self.kind), self.k)
            return [citation_json(cite(h)) for h in hits]
        return self._remote(query)

    def _remote(self, query: str) -> list[dict[str, Any]]:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - both extras bring it
            raise MissingDependencyError("httpx", "langchain", "searching a mediarag server") from exc
        params = {"q": query, "k": self.k, "speaker": self.speaker, "kind": self.kind}
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        where = f"{self.url}/v1/search"
        try:
            response = httpx.get(where, params={n: v for n, v in params.items() if v is not None},
                                 headers=headers, timeout=self.timeout)  # fmt: skip
        except httpx.HTTPError as exc:
            raise ServiceError(where, "failed", str(exc)) from exc
        if response.status_code != 200:
            reason = {401: "access_denied", 403: "access_denied", 404: "not_found", 413: "too_large"}.get(
                response.status_code, "invalid" if response.status_code < 500 else "failed"
            )
            raise ServiceError(where, reason, _message(response))
        return list(response.json()["hits"])


def passage_metadata(hit: dict[str, Any]) -> dict[str, Any]:
    """A hit's metadata for a framework document: source, start, end, link, speaker, kind and
    score (and media_url, media_id when it came from a server)."""
    out = {key: hit.get(key) for key in METADATA_KEYS}
    for extra in ("media_url", "media_id"):
        if hit.get(extra) is not None:
            out[extra] = hit[extra]
    return out


def _message(response: Any) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
