"""The JSON the API answers with: the CLI's shapes (`mediarag.formats`), each citation with the
server's link that plays its moment (``media_url``)."""

from __future__ import annotations

from typing import Any

from ..formats import answer_json, citation_json
from ..links import clock, is_text_source
from ..schema import Answer, Citation, SourceInfo
from .auth import media_signature
from .config import ServerConfig
from .service import media_id


def moment(citation: Citation) -> tuple[float, float]:
    """The seconds a link to ``citation`` plays: its ``moment`` (the answering sentence) when
    the citation has one, else its passage."""
    span = getattr(citation, "moment", None)
    if span is not None:
        start, end = getattr(span, "start", None), getattr(span, "end", None)
        if start is not None and end is not None:
            return float(start), float(end)
    return citation.start, citation.end


def media_url(config: ServerConfig, base: str, source: str, span: tuple[float, float] | None = None) -> str:
    """``<base>/v1/media/<id>`` (signed when the server has a token), with ``#t=start,end``."""
    sid = media_id(source)
    url = f"{config.public_url or base.rstrip('/')}/v1/media/{sid}"
    signature = media_signature(config, sid)
    if signature:
        url += f"?sig={signature}"
    if span is not None and not is_text_source(source):
        url += f"#t={max(span[0], 0.0):.1f},{max(span[1], 0.0):.1f}"
    return url


def cited(config: ServerConfig, base: str, citation: Citation) -> dict[str, Any]:
    """A citation as ``ask --json`` prints it, plus ``media_id`` and ``media_url``."""
    out = citation_json(citation)
    out["media_id"] = media_id(citation.source)
    out["media_url"] = media_url(config, base, citation.source, moment(citation))
    return out


def answered(config: ServerConfig, base: str, answer: Answer) -> dict[str, Any]:
    """An answer as ``ask --json`` prints it, its citations with their media links."""
    out = answer_json(answer)
    out["citations"] = [cited(config, base, c) for c in answer.citations]
    return out


def source_entry(config: ServerConfig, base: str, sid: str, info: SourceInfo) -> dict[str, Any]:
    """An indexed file as ``sources --json`` prints it, with its id, name and media link."""
    from ..app.uploads import display_name

    return {**info.model_dump(), "id": sid, "name": display_name(info.source), "media_url": media_url(config, base, info.source)}


def sources_list(answer: Answer, links: list[str]) -> str:
    """The Sources block a chat reply ends with: ``[n] name mm:ss-mm:ss`` and its link."""
    from ..app.uploads import display_name

    lines = []
    for i, (c, link) in enumerate(zip(answer.citations, links), start=1):
        start, end = moment(c)
        when = "" if is_text_source(c.source) else f" {clock(start)}-{clock(end)} ({start:.1f}-{end:.1f} s)"
        lines.append(f"[{i}] [{display_name(c.source)}{when}]({link})")
    return "\n".join(lines)
