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
    """A citation as JSON: source, start and end of the passage (seconds, 2 places), text,
    score, link (it plays the moment), kind, speaker, and the moment the answer rests on
    (``{"start", "end"}``, or None for a text document)."""
    return {
        "source": citation.source,
        "start": round(citation.start, 2),
        "end": round(citation.end, 2),
        "text": citation.text,
        "score": citation.score,
        "link": citation.link,
        "kind": citation.kind,
        "speaker": citation.speaker,
        "moment": None
        if citation.moment is None
        else {"start": round(citation.moment.start, 2), "end": round(citation.moment.end, 2)},
    }


def answer_json(answer: Answer) -> dict[str, Any]:
    """An answer as JSON: question, answer (the text), grounded, fallback (the extractive answer
    replaced an LLM reply that said nothing usable), and its citations."""
    return {
        "question": answer.question,
        "answer": answer.text,
        "grounded": answer.grounded,
        "fallback": answer.fallback,
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
