"""From a retrieved passage to a citation: the file, the seconds, and a link that plays them."""

from __future__ import annotations

from ..links import media_link
from ..schema import Citation, Hit


def cite(hit: Hit) -> Citation:
    """The citation of a retrieved passage (its score rounded to 4 places)."""
    c = hit.chunk
    return Citation(
        source=c.source,
        start=c.start,
        end=c.end,
        text=c.text,
        score=round(float(hit.score), 4),
        link=media_link(c.source, c.start, c.end),
        kind=c.kind,
        speaker=c.speaker,
    )
