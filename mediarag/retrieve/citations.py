"""From a retrieved passage to a citation: the file, the seconds, and a link that plays them."""

from __future__ import annotations

from pathlib import Path

from ..links import clock, is_text_source, media_link
from ..moments import best_moment, has_time
from ..schema import SCREEN, Citation, Hit, Moment


def cite(hit: Hit, moment: Moment | None = None) -> Citation:
    """The citation of a retrieved passage (its score rounded to 4 places).

    ``moment`` is the span inside the passage the answer rests on; the link plays it (without
    one, the whole passage). A text document has no time, so no moment. Text read on screen is
    shown all at once, so its moment is the whole span, from when the text appears.
    """
    c = hit.chunk
    if moment is not None and not has_time(c):
        moment = None
    elif moment is not None and c.kind == SCREEN:
        moment = Moment(start=c.start, end=c.end)
    start, end = (moment.start, moment.end) if moment is not None else (c.start, c.end)
    return Citation(
        source=c.source,
        start=c.start,
        end=c.end,
        text=c.text,
        score=round(float(hit.score), 4),
        link=media_link(c.source, start, end),
        kind=c.kind,
        speaker=c.speaker,
        moment=moment,
    )


def cite_for(query: str, hit: Hit) -> Citation:
    """The citation of a passage found for ``query``, pointing at its best-matching moment."""
    return cite(hit, best_moment(query, hit))


def citation_label(citation: Citation, name: str | None = None) -> str:
    """``name · mm:ss-mm:ss · Speaker``: where a citation points, as the CLI and the app show it.

    The times are the moment the answer rests on (else the passage's); text read off the video
    ends with ``· on screen``; a text document is its name only; no speaker when the passage has
    none or several. ``name`` defaults to the source's file name.
    """
    name = Path(citation.source).name if name is None else name
    if is_text_source(citation.source):
        return name
    span = citation.moment or citation
    label = f"{name} · {clock(span.start)}-{clock(span.end)}"
    if citation.kind == SCREEN:
        return f"{label} · on screen"
    return f"{label} · {citation.speaker}" if citation.speaker else label
