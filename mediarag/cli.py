"""The ``mediarag`` command line.

Exit status: 0 when everything asked for was done, 1 when some of it failed (for ``ingest``: a
file that could not be indexed; the others are still indexed), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError, MediaRagError
from .export import FORMATS
from .links import clock

DEFAULT_INDEX = os.environ.get("MEDIARAG_INDEX", "mediarag-index")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mediarag",
        description="Ask questions about video and audio files; answers cite file and seconds.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def index_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--index", default=DEFAULT_INDEX,
            help=f"index directory or s3:// prefix (default: {DEFAULT_INDEX})",
        )  # fmt: skip

    def model_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--language", default="auto", help="spoken language code, or 'auto' (default)")
        p.add_argument("--translate-to", choices=["en"], help="translate speech to English")
        p.add_argument("--model", default="base", help="Whisper model: base, tiny.en, a directory or hub name")
        p.add_argument(
            "--backend", choices=["faster-whisper", "transformers", "sagemaker", "aws-transcribe"],
            default="faster-whisper",
            help="transcription backend",
        )  # fmt: skip

    p = sub.add_parser("ingest", help="index media files or directories")
    p.add_argument("paths", nargs="+", metavar="PATH")
    index_arg(p)
    model_args(p)
    p.add_argument("--segmenter", choices=["semantic", "recursive", "window"], default="semantic")
    p.add_argument("--prune", action="store_true", help="also drop indexed files that no longer exist")
    p.add_argument("--json", action="store_true", help="print a JSON report")

    p = sub.add_parser("ask", help="answer a question from the index, with citations")
    p.add_argument("question", nargs="?")
    p.add_argument("--questions", type=Path, help="file with one question per line (JSON lines out)")
    index_arg(p)
    p.add_argument("-k", type=int, default=None, help="passages to retrieve")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("search", help="find the passages most similar to a query")
    p.add_argument("query")
    index_arg(p)
    p.add_argument("-k", type=int, default=None)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("transcribe", help="print one file's transcript")
    p.add_argument("file", type=Path)
    p.add_argument("--format", choices=FORMATS, default="txt")
    model_args(p)

    p = sub.add_parser("sources", help="list the indexed files")
    index_arg(p)
    p.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "k", None) is not None and args.k < 1:
        parser.error(f"-k must be at least 1, got {args.k}")
    try:
        handler = {
            "ingest": _ingest,
            "ask": _ask,
            "search": _search,
            "transcribe": _transcribe,
            "sources": _sources,
        }[args.command]
        return handler(args)
    except ConfigError as exc:
        print(f"mediarag: error: {exc}", file=sys.stderr)
        return 2
    except MediaRagError as exc:
        print(f"mediarag: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mediarag: interrupted; the index keeps what was committed", file=sys.stderr)
        return 130


def _qa(args: argparse.Namespace, **overrides: Any):  # type: ignore[no-untyped-def]
    from .qa import MediaQA
    from .settings import Settings

    where = {"index_url": args.index} if args.index.lower().startswith("s3://") else {"index_dir": Path(args.index)}
    try:
        settings = Settings(**where, **overrides)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return MediaQA(settings=settings)


def _model_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "whisper_model": args.model,
        "transcriber": args.backend,
        "language": args.language,
        "translate_to": args.translate_to,
    }


def _ingest(args: argparse.Namespace) -> int:
    qa = _qa(args, segmenter=args.segmenter, **_model_settings(args))
    report = qa.ingest(args.paths, prune=args.prune)
    if args.json:
        out = {
            "ingested": [
                {"source": i.source, "duration": round(i.duration, 3), "language": i.language, "chunks": i.chunks}
                for i in report.ingested
            ],
            "skipped": report.skipped,
            "failed": [f.model_dump() for f in report.failed],
        }
        print(json.dumps(out, ensure_ascii=False))
    else:
        for info in report.ingested:
            print(f"indexed  {Path(info.source).name}  {clock(info.duration)}  {info.language}  {info.chunks} passages")
        for source in report.skipped:
            print(f"skipped  {Path(source).name}  (unchanged)")
        for failure in report.failed:
            print(f"FAILED   {failure.error}", file=sys.stderr)
    return 0 if report.ok else 1


def _citation_json(c: Any) -> dict[str, Any]:
    return {
        "source": c.source,
        "start": round(c.start, 2),
        "end": round(c.end, 2),
        "text": c.text,
        "score": c.score,
        "link": c.link,
    }


def _answer_json(answer: Any) -> dict[str, Any]:
    return {
        "question": answer.question,
        "answer": answer.text,
        "grounded": answer.grounded,
        "citations": [_citation_json(c) for c in answer.citations],
    }


def _print_sources(citations: Sequence[Any]) -> None:
    for i, c in enumerate(citations, start=1):
        print(f"  [{i}] {Path(c.source).name}  {clock(c.start)}-{clock(c.end)}  (score {c.score:.2f})")
        print(f"      {c.link}")


def _ask(args: argparse.Namespace) -> int:
    if (args.question is None) == (args.questions is None):
        print("mediarag ask: error: give a QUESTION or --questions FILE (not both)", file=sys.stderr)
        return 2
    _require_index(args.index)
    qa = _qa(args)
    if args.questions is not None:
        try:
            lines = args.questions.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read questions file {args.questions}: {exc.strerror}") from exc
        qa.warm_up(ingest=False)
        for question in (q.strip() for q in lines):
            if question:
                print(json.dumps(_answer_json(qa.ask(question, k=args.k)), ensure_ascii=False), flush=True)
        return 0
    answer = qa.ask(args.question, k=args.k)
    if args.json:
        print(json.dumps(_answer_json(answer), ensure_ascii=False))
    else:
        print(answer.text)
        if answer.citations:
            print("\nSources:")
            _print_sources(answer.citations)
    return 0


def _search(args: argparse.Namespace) -> int:
    _require_index(args.index)
    hits = _qa(args).search(args.query, k=args.k)
    if args.json:
        print(json.dumps({"hits": [_citation_json(h) for h in hits]}, ensure_ascii=False))
    else:
        if not hits:
            print("No passage matches.")
        for i, h in enumerate(hits, start=1):
            print(f"[{i}] {Path(h.source).name}  {clock(h.start)}-{clock(h.end)}  (score {h.score:.2f})")
            print(f"    {h.text}")
    return 0


def _transcribe(args: argparse.Namespace) -> int:
    from .export import export
    from .media import decode_audio
    from .qa import translation_task
    from .sentences import merge_sentences

    qa = _qa(argparse.Namespace(index=DEFAULT_INDEX), **_model_settings(args))
    audio = decode_audio(args.file)
    task = translation_task(args.translate_to)
    transcript = qa.transcriber.transcribe(audio, language=qa.settings.language, task=task)
    sentences = [s.model_copy(update={"words": ()}) for s in merge_sentences(transcript.segments)]
    transcript = transcript.model_copy(update={"source": str(args.file.resolve()), "segments": sentences})
    sys.stdout.write(export(transcript, args.format))
    return 0


def _sources(args: argparse.Namespace) -> int:
    _require_index(args.index)
    sources = _qa(args).sources()
    if args.json:
        print(json.dumps({"sources": [s.model_dump() for s in sources.values()]}, ensure_ascii=False))
    else:
        for info in sources.values():
            print(f"{info.source}  {clock(info.duration)}  {info.language}  {info.chunks} passages")
    return 0


def _require_index(index: str) -> None:
    from .store.faiss import FaissStore

    if index.lower().startswith("s3://"):
        from .store.s3 import S3SyncedStore

        exists = S3SyncedStore.exists(index)
    else:
        exists = FaissStore.exists(index)
    if not exists:
        raise MediaRagError(f"no index at {index}: run 'mediarag ingest PATH --index {index}' first")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
