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

from .errors import ConfigError, MediaRagError, exit_status
from .export import FORMATS
from .formats import answer_json, citation_json, report_json
from .links import clock
from .retrieve.citations import citation_label

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

    def screen_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--no-screen", action="store_true", help="do not read the text shown in videos")
        p.add_argument("--vocabulary", type=Path, metavar="FILE",
                       help="terms the speech may contain (product names, jargon), one a line")  # fmt: skip
        p.add_argument("--no-speakers", action="store_true", help="do not tell the speakers apart")
        p.add_argument("--num-speakers", type=int, metavar="N", help="the number of speakers, when known")
        p.add_argument("--min-speakers", type=int, metavar="N", help="at least this many speakers")
        p.add_argument("--max-speakers", type=int, metavar="N", help="at most this many speakers")

    p = sub.add_parser("ingest", help="index media files or directories")
    p.add_argument("paths", nargs="+", metavar="PATH")
    index_arg(p)
    model_args(p)
    screen_args(p)
    p.add_argument("--segmenter", choices=["semantic", "recursive", "window"], default="semantic")
    p.add_argument("--prune", action="store_true", help="also drop indexed files that no longer exist")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.add_argument(
        "--engine", choices=["local", "pipelined", "ray"], default="local",
        help="where files are processed: this process one by one (default), this process with decoding "
        "overlapped (one GPU), or the workers of a Ray cluster (the ray extra)",
    )  # fmt: skip
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="Ray cluster to join (HOST:PORT, auto, ray://...); default: start one on this machine")  # fmt: skip
    p.add_argument("--model-threads", type=int, default=1, metavar="N",
                   help="pipelined: files transcribed at once, their windows decoded in shared batches (GPU)")  # fmt: skip
    p.add_argument("--decode-processes", type=int, default=0, metavar="N",
                   help="pipelined: worker processes decoding the audio (0: threads)")  # fmt: skip
    p.add_argument("--device", default=None, help="cpu, cuda or auto: where Whisper and the embedder run")

    def generator_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--generator", choices=["extractive", "local", "openai", "sagemaker"], default=None,
            help="how answers are written (default: extractive, or $MEDIARAG_GENERATOR)",
        )  # fmt: skip
        p.add_argument(
            "--llm-model", default=None,
            help="local: qwen2.5-1.5b (default), qwen2.5-0.5b, smollm2-135m, a .gguf file or a hub "
            "repository; openai: the endpoint's model name",
        )  # fmt: skip
        p.add_argument("--llm-timeout", type=float, default=None, metavar="S",
                       help="seconds one LLM answer may take (default 120)")  # fmt: skip
        p.add_argument("--llm-threads", type=int, default=None, metavar="N",
                       help="local: CPU threads (default: all cores)")  # fmt: skip
        p.add_argument("--no-stream", action="store_true", help="print the answer when it is complete")

    p = sub.add_parser("ask", help="answer a question from the index, with citations")
    p.add_argument("question", nargs="?")
    p.add_argument("--questions", type=Path, help="file with one question per line (JSON lines out)")
    index_arg(p)
    p.add_argument("-k", type=int, default=None, help="passages to retrieve")
    p.add_argument("--speaker", metavar="NAME", help="answer from what this speaker (a name or SPEAKER_01) says")
    generator_args(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "chat",
        help="a conversation: questions from standard input, one per line",
        description="Questions are read from standard input, one per line; follow-ups may refer to "
        "earlier turns. Lines starting with '/' are commands: /file PATH (add a text or media file "
        "to this conversation), /kb on|off (search the index or not), /save PATH, /reset, /quit.",
    )
    index_arg(p)
    p.add_argument("--file", action="append", default=[], type=Path, metavar="F",
                   help="add a text, audio or video file to the conversation (repeatable)")  # fmt: skip
    p.add_argument("--no-kb", action="store_true", help="answer from the added files only, not the index")
    p.add_argument("--load", type=Path, help="continue a conversation saved with /save or --save")
    p.add_argument("--save", type=Path, help="save the conversation to this JSON file at the end")
    p.add_argument("-k", type=int, default=None, help="passages to retrieve")
    p.add_argument("--model", default="base", help="Whisper model for added media files")
    generator_args(p)
    p.add_argument("--json", action="store_true", help="one JSON line per answer")

    p = sub.add_parser("search", help="find the passages most similar to a query")
    p.add_argument("query")
    index_arg(p)
    p.add_argument("-k", type=int, default=None)
    p.add_argument("--speaker", metavar="NAME", help="only passages in which this speaker says something")
    p.add_argument("--kind", choices=["speech", "screen"], help="only passages said (speech) or shown (screen)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "speakers",
        help="enroll, list, rename and forget the voices of the index",
        description="Voiceprints (an embedding of a voice, never the audio) are personal data: they are "
        "kept only in the index (speakers.json), and 'forget' removes a name everywhere.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = actions.add_parser("enroll", help="give a voice a name from a clip of it (3 s or more, one voice)")
    q.add_argument("name")
    q.add_argument("clip", type=Path)
    index_arg(q)
    q = actions.add_parser("list", help="the enrolled voices and the speakers of each file")
    index_arg(q)
    q.add_argument("--json", action="store_true")
    q = actions.add_parser("rename", help="rename a speaker everywhere, or one file's SPEAKER_01 with --source")
    q.add_argument("old")
    q.add_argument("new")
    q.add_argument("--source", metavar="FILE", help="the indexed file whose speaker OLD is renamed")
    index_arg(q)
    q = actions.add_parser("forget", help="remove a name's voiceprint and the name from every file")
    q.add_argument("name")
    index_arg(q)

    p = sub.add_parser("transcribe", help="print one file's transcript (json: with the text on screen)")
    p.add_argument("file", type=Path)
    p.add_argument("--format", choices=FORMATS, default="txt")
    model_args(p)
    screen_args(p)

    p = sub.add_parser("sources", help="list the indexed files")
    index_arg(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "repair",
        help="rebuild a lost or unreadable manifest.json from the index's files",
        description="An index whose manifest.json was deleted or damaged is refused (nothing is "
        "changed). This rebuilds the manifest from the segment files that are still there.",
    )
    index_arg(p)

    p = sub.add_parser(
        "app",
        help="serve the chat app in the browser (needs the app extra)",
        description="Serve the chat app: ask questions, play cited moments, add files to a "
        "conversation or to the library. Prints the URL it serves on.",
    )
    index_arg(p)
    p.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0: all)")
    p.add_argument("--data-dir", type=Path, default=Path("mediarag-app"),
                   help="where uploaded files are stored (default ./mediarag-app)")  # fmt: skip
    p.add_argument("--max-upload-mb", type=int, default=200, metavar="MB", help="largest upload (default 200)")
    model_args(p)
    screen_args(p)
    generator_args(p)

    p = sub.add_parser(
        "serve",
        help="serve the HTTP API and an OpenAI-compatible chat API (needs the server extra)",
        description="Serve one index over HTTP: /v1/ask, /v1/search, /v1/sources, /v1/ingest, /v1/media "
        "and the OpenAI-compatible /v1/chat/completions (model 'mediarag'). Listens on 127.0.0.1 unless "
        "--host says otherwise; any other address needs --token-file. See docs/server.md.",
    )
    index_arg(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--token-file", type=Path, metavar="F", help="file holding the bearer token clients must send")
    p.add_argument("--max-upload-mb", type=int, default=200, metavar="N", help="largest uploaded file (default 200)")
    p.add_argument("--data-dir", type=Path, default=Path("mediarag-server"),
                   help="uploaded files and the job table (default ./mediarag-server)")  # fmt: skip
    p.add_argument("--allow-url-ingest", action="store_true", help="also ingest s3:// and https:// URLs clients give")
    p.add_argument("--allow-generator", action="append", default=[], metavar="KIND",
                   choices=["extractive", "local", "openai", "sagemaker"],
                   help="a generator requests may choose besides --generator (repeatable)")  # fmt: skip
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="a web page origin allowed to call the API (repeatable; default none)")  # fmt: skip
    p.add_argument("--public-url", help="the server's URL as clients reach it, for media links")
    model_args(p)
    generator_args(p)
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
            "chat": _chat,
            "search": _search,
            "speakers": _speakers,
            "transcribe": _transcribe,
            "sources": _sources,
            "repair": _repair,
            "app": _app,
            "serve": _serve,
        }[args.command]
        return handler(args)
    except MediaRagError as exc:
        print(f"mediarag: error: {exc}", file=sys.stderr)
        return exit_status(exc)
    except KeyboardInterrupt:
        print("mediarag: interrupted; the index keeps what was committed", file=sys.stderr)
        return 130


def _settings(args: argparse.Namespace, **overrides: Any):  # type: ignore[no-untyped-def]
    from .settings import Settings

    try:
        return Settings.at(args.index, **overrides)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _qa(args: argparse.Namespace, **overrides: Any):  # type: ignore[no-untyped-def]
    from .qa import MediaQA

    return MediaQA(settings=_settings(args, **overrides))


def _model_settings(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "whisper_model": args.model,
        "transcriber": args.backend,
        "language": args.language,
        "translate_to": args.translate_to,
    }
    if getattr(args, "vocabulary", None) is not None:
        from .transcribe.hints import read_vocabulary

        settings["transcription"] = {"vocabulary": read_vocabulary(args.vocabulary)}
    if getattr(args, "no_screen", False):
        settings["screen"] = {"enabled": False}
    speakers = {name: getattr(args, name, None) for name in ("num_speakers", "min_speakers", "max_speakers")}
    speakers = {name: value for name, value in speakers.items() if value is not None}
    if getattr(args, "no_speakers", False):
        speakers["enabled"] = False
    if speakers:
        settings["speakers"] = speakers
    return settings


def _ingest(args: argparse.Namespace) -> int:
    device = {"device": args.device, "embedding": {"device": args.device}} if args.device else {}
    qa = _qa(args, segmenter=args.segmenter, **_model_settings(args), **device)
    engine: Any = None
    if args.engine == "ray" or args.ray_address:
        from .engines.ray import RayEngine

        engine = RayEngine(qa.settings, address=args.ray_address)
    elif args.engine == "pipelined":
        from .engines import PipelinedEngine

        engine = PipelinedEngine(model_threads=args.model_threads, decode_processes=args.decode_processes)
    report = qa.ingest(args.paths, prune=args.prune, engine=engine)
    if args.json:
        print(json.dumps(report_json(report), ensure_ascii=False))
    else:
        for info in report.ingested:
            print(f"indexed  {Path(info.source).name}  {clock(info.duration)}  {info.language}  {_passages(info)}")
        for source in report.skipped:
            print(f"skipped  {Path(source).name}  (unchanged)")
        for warning in report.warnings:
            print(f"WARNING  {warning}", file=sys.stderr)
        for failure in report.failed:
            print(f"FAILED   {failure.error}", file=sys.stderr)
    return 0 if report.ok else 1


def _app(args: argparse.Namespace) -> int:
    from .app import AppConfig, serve

    if args.max_upload_mb < 1:
        raise ConfigError(f"--max-upload-mb must be at least 1, got {args.max_upload_mb}")
    settings = _settings(args, **_model_settings(args), **_generator_settings(args))
    config = AppConfig(settings=settings, data_dir=args.data_dir, max_upload_mb=args.max_upload_mb)
    return serve(config, host=args.host, port=args.port)


def _serve(args: argparse.Namespace) -> int:
    from .server import ServerConfig, read_token, serve

    settings = _settings(args, **_model_settings(args), **_generator_settings(args))
    try:
        config = ServerConfig(
            settings=settings, host=args.host, port=args.port, data_dir=args.data_dir,
            token=read_token(args.token_file) if args.token_file else None,
            max_upload_mb=args.max_upload_mb, allow_url_ingest=args.allow_url_ingest,
            generators=args.allow_generator, cors_origins=args.cors_origin, public_url=args.public_url,
        )  # fmt: skip
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return serve(config)


def _passages(info: Any) -> str:
    """``12 passages`` (``12 passages (9 speech, 3 screen)`` when some are on screen)."""
    text = f"{info.chunks} passages"
    kinds = getattr(info, "kinds", None) or {}
    if set(kinds) - {"speech"}:
        ordered = sorted(kinds.items(), key=lambda item: (item[0] != "speech", item[0]))
        text += " (" + ", ".join(f"{n} {kind}" for kind, n in ordered) + ")"
    return text




def _print_sources(citations: Sequence[Any]) -> None:
    for i, c in enumerate(citations, start=1):
        print(f"  [{i}] {citation_label(c)}  (score {c.score:.2f})")
        print(f"      {c.link}")


def _generator_settings(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    generator = args.generator or os.environ.get("MEDIARAG_GENERATOR")
    if generator:
        out["generator"] = generator
    if args.llm_model:
        out["llm_model"] = args.llm_model
    if args.llm_timeout is not None:
        out["llm_timeout"] = args.llm_timeout
    if args.llm_threads is not None:
        out["llm_threads"] = args.llm_threads
    return out


def _print_answer(reply: Any, stream: bool) -> Any:
    """Print an answer (piece by piece when streaming) and its sources; return the Answer."""
    if stream:
        for piece in reply:
            sys.stdout.write(piece)
            sys.stdout.flush()
        answer = reply.answer
        sys.stdout.write("\n")
    else:
        answer = reply.answer
        print(answer.text)
    if stream and answer.fallback:
        print(f"\n({answer.fallback}; the passages say:)\n{answer.text}")
    if answer.citations:
        print("\nSources:")
        _print_sources(answer.citations)
    sys.stdout.flush()
    return answer


def _ask(args: argparse.Namespace) -> int:
    if (args.question is None) == (args.questions is None):
        print("mediarag ask: error: give a QUESTION or --questions FILE (not both)", file=sys.stderr)
        return 2
    _require_index(args.index)
    qa = _qa(args, **_generator_settings(args))
    qa.generator  # noqa: B018 - a generator that cannot be built is a usage error, before any work
    if args.questions is not None:
        return _ask_each(qa, args)
    if args.json:
        answer = qa.ask(args.question, k=args.k, speaker=args.speaker)
        print(json.dumps(answer_json(answer), ensure_ascii=False))
    else:
        _print_answer(qa.ask_stream(args.question, k=args.k, speaker=args.speaker), stream=not args.no_stream)
    return 0


def _ask_each(qa: Any, args: argparse.Namespace) -> int:
    """``ask --questions``: one JSON line per question; a question that cannot be answered gets
    a line with its error, and the others go on (exit status 1 if any failed)."""
    try:
        lines = args.questions.read_bytes().decode("utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read questions file {args.questions}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"questions file {args.questions} is not UTF-8 text (byte {exc.start})") from exc
    qa.warm_up(ingest=False)
    failed = False
    for question in (q.strip() for q in lines):
        if not question:
            continue
        try:
            out = answer_json(qa.ask(question, k=args.k, speaker=args.speaker))
        except MediaRagError as exc:
            failed = True
            out = {"question": question, "error": str(exc)}
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 1 if failed else 0


def _chat(args: argparse.Namespace) -> int:
    from .conversation import Conversation, check_writable

    if args.save:
        check_writable(args.save.expanduser())  # before the conversation, not after it
    qa = _qa(args, whisper_model=args.model, **_generator_settings(args))
    qa.generator  # noqa: B018 - fail early on a generator that cannot be built
    if not args.no_kb:
        _require_index(args.index)
    chat = Conversation.load(args.load, qa) if args.load else qa.conversation()
    if args.no_kb:
        chat.use_knowledge_base = False
    for path in args.file:
        _attach(chat, path)
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print("> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            if _chat_command(chat, line):
                break
            continue
        try:
            reply = chat.ask_stream(line, k=args.k, stream=not (args.json or args.no_stream))
            if args.json:
                answer = reply.answer
                out = answer_json(answer)
                out["standalone_question"] = answer.standalone_question
                print(json.dumps(out, ensure_ascii=False), flush=True)
            else:
                _print_answer(reply, stream=not args.no_stream)
                print(flush=True)
        except MediaRagError as exc:  # one failed answer (an endpoint, a bad question) ends nothing
            print(f"mediarag: error: {exc}", file=sys.stderr, flush=True)
    if args.save:
        chat.save(args.save)
    return 0


def _attach(chat: Any, path: Path) -> None:
    attached = chat.add_file(path)
    print(f"added  {Path(attached.source).name}  {len(attached.chunks)} passages", file=sys.stderr, flush=True)


def _chat_command(chat: Any, line: str) -> bool:
    """Run a /command of the chat; True to stop."""
    name, _, rest = line.partition(" ")
    rest = rest.strip()
    if name in ("/quit", "/exit"):
        return True
    if name == "/file" and rest:
        try:
            _attach(chat, Path(rest))
        except MediaRagError as exc:
            print(f"mediarag: error: {exc}", file=sys.stderr, flush=True)
    elif name == "/kb" and rest in ("on", "off"):
        chat.use_knowledge_base = rest == "on"
        print(f"knowledge base {rest}", file=sys.stderr, flush=True)
    elif name == "/save" and rest:
        try:
            chat.save(rest)
        except MediaRagError as exc:
            print(f"mediarag: error: {exc}", file=sys.stderr, flush=True)
        else:
            print(f"saved  {rest}", file=sys.stderr, flush=True)
    elif name == "/reset":
        chat.reset()
    else:
        print("commands: /file PATH, /kb on|off, /save PATH, /reset, /quit", file=sys.stderr, flush=True)
    return False


def _search(args: argparse.Namespace) -> int:
    _require_index(args.index)
    hits = _qa(args).search(args.query, k=args.k, speaker=args.speaker, kind=args.kind)
    if args.json:
        print(json.dumps({"hits": [citation_json(h) for h in hits]}, ensure_ascii=False))
    else:
        if not hits:
            print("No passage matches.")
        for i, h in enumerate(hits, start=1):
            print(f"[{i}] {citation_label(h)}  (score {h.score:.2f})")
            print(f"    {h.text}")
    return 0


def _speakers(args: argparse.Namespace) -> int:
    _require_index(args.index)
    library = _qa(args).speakers
    if args.action == "enroll":
        done = library.enroll(args.name, args.clip)
        p = done.voiceprint
        print(f"enrolled  {p.name}  ({p.seconds:.1f} s of speech from {p.clip})")
        for source in done.named:
            print(f"named     {p.name} in {Path(source).name}")
    elif args.action == "rename":
        changed = library.rename(args.old, args.new, source=args.source)
        print(f"renamed  {args.old} -> {args.new}  in {len(changed)} file(s)")
    elif args.action == "forget":
        changed = library.forget(args.name)
        print(f"forgot  {args.name}  (voiceprint and name removed; {len(changed)} file(s) relabelled)")
    else:
        _list_speakers(library, args.json)
    return 0


def _list_speakers(library: Any, as_json: bool) -> None:
    prints, voices = library.enrolled(), library.voices()
    if as_json:
        enrolled = [p.model_dump(exclude={"vector"}) for p in prints]
        files = [vars(v) for v in voices]
        print(json.dumps({"enrolled": enrolled, "voices": files}, ensure_ascii=False))
        return
    for p in prints:
        print(f"enrolled  {p.name}  {p.seconds:.1f} s of speech  ({p.clip}, {p.created[:10]}, {p.encoder})")
    if not prints:
        print("no voice is enrolled ('mediarag speakers enroll NAME CLIP')")
    for v in voices:
        called = f"  {v.name} ({'enrolled' if v.named_by == 'enrollment' else 'named'})" if v.name else ""
        print(f"{Path(v.source).name}  {v.label}{called}  {v.seconds:.1f} s")


def _transcribe(args: argparse.Namespace) -> int:
    from .export import export
    from .transcribe.config import translation_task

    qa = _qa(argparse.Namespace(index=DEFAULT_INDEX), **_model_settings(args))
    task = translation_task(args.translate_to)
    language = qa.language()
    qa.transcriber.check_language(language)
    item = qa.pipeline.process(args.file, language=language, task=task, until="sentences")
    sys.stdout.write(export(item.stored_transcript(), args.format))
    return 0


def _sources(args: argparse.Namespace) -> int:
    _require_index(args.index)
    sources = _qa(args).sources()
    if args.json:
        print(json.dumps({"sources": [s.model_dump() for s in sources.values()]}, ensure_ascii=False))
    else:
        for info in sources.values():
            print(f"{info.source}  {clock(info.duration)}  {info.language}  {_passages(info)}")
    return 0


def _repair(args: argparse.Namespace) -> int:
    from .store.repair import repair_index

    print(repair_index(args.index))
    return 0


def _require_index(index: str) -> None:
    from .store import index_exists

    if not index_exists(index):
        raise MediaRagError(f"no index at {index}: run 'mediarag ingest PATH --index {index}' first")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
