"""The JSON shapes mediarag prints and serves: one answer, one citation, one ingest report.

``mediarag ask --json``, ``mediarag search --json``, ``mediarag ingest --json`` and the HTTP API
(`mediarag.server`) all write these, so a script that reads one reads the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pipeline.ingest import IngestReport
    from .schema import Answer, Citation


def citation_json(citation: Citation) -> dict[str, Any]:
    """A citation as JSON: source, start and end (seconds, 2 places), text, score, link, kind
    and speaker."""
    return {
        "source": citation.source,
        "start": round(citation.start, 2),
        "end": round(citation.end, 2),
        "text": citation.text,
        "score": citation.score,
        "link": citation.link,
        "kind": citation.kind,
        "speaker": citation.speaker,
    }


def answer_json(answer: Answer) -> dict[str, Any]:
    """An answer as JSON: question, answer (the text), grounded, and its citations."""
    return {
        "question": answer.question,
        "answer": answer.text,
        "grounded": answer.grounded,
        "citations": [citation_json(c) for c in answer.citations],
    }


def report_json(report: IngestReport) -> dict[str, Any]:
    """An ingest report as JSON: ingested files (source, duration, language, passages),
    skipped and failed ones, and warnings."""
    return {
        "ingested": [
            {"source": i.source, "duration": round(i.duration, 3), "language": i.language, "chunks": i.chunks}
            for i in report.ingested
        ],
        "skipped": report.skipped,
        "failed": [f.model_dump() for f in report.failed],
        "warnings": report.warnings,
    }
