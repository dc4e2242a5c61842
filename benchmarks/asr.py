#!/usr/bin/env python
"""Transcription accuracy benchmark: WER/CER per language and backend, and long-form handling.

    python benchmarks/asr.py [--quick] [--out benchmarks/results] [--data DIR] [--cache FILE]
                             [--torch-threads N] [--backends KEY,...] [--rescore]

Data: ``/work/shared/data/speech`` (``$MEDIARAG_SPEECH_DATA`` or ``--data``): ``manifest.jsonl``
(real utterances with human references) and ``long/segments.jsonl`` (files built by concatenating
those utterances, with the true time span of each).

1. Short clips, per language (en, de, es, fr, pt) and backend: faster-whisper ``base`` with the
   language given and with it detected, faster-whisper ``tiny.en`` (English only), and the
   transformers pipeline over ``base`` with the language given (``chunk_length_s=20``,
   ``stride_length_s=5``, as in the AWS sample); also, beyond that list, the same transformers
   backend with ``chunk_length_s=0`` (Whisper's own sequential long-form decoding instead of the
   pipeline's chunk merging), to tell the two apart. Corpus-level WER and CER (sum of edits / sum of
   reference words or characters), language-ID accuracy of the detecting mode, and the real-time
   factor (transcription wall time / audio duration, model loading and one warm-up clip not
   counted). Rows without a reference, or whose ``reference_quality`` is weak, are skipped and
   listed.
2. Long form: every ``long/*concat*`` file transcribed whole by each backend, scored against (a)
   the concatenated references and (b) the same clips transcribed one by one by the same backend:
   substitutions, deletions and insertions separately, repeated 3-grams (3-grams of the reference
   that the hypothesis holds more often than the reference does), and per-clip recall: the share
   of a clip's reference words found among the hypothesis words timed inside that clip's span
   +-0.5 s (a word's time is the middle of its word timestamps; a backend that gives only segment
   times has its words spread over the segment in proportion to their character offsets).

Scoring normalizer (`core.text.normalize_transcript`): Unicode NFKC, lower case, English
ordinals ("20th") to words, thousands separators dropped ("1,000" in English, "1.000" in
de/es/fr/pt), "%" to the language's word, apostrophes removed ("don't" -> "dont", "l'accident" ->
"laccident"), every other punctuation or symbol character (Unicode categories P* and S*: . , ; : !
? - « » ¿ ¡ " ...) turned into a space, digits split from letters, and every run of at most 4
digits written out as words in the utterance's language ("25" -> "twenty five", "veinticinco",
"fünfundzwanzig", ...). Numbers are mapped digits -> words (never words -> digits) on both
reference and hypothesis, as cardinals: "1963" reads "one thousand nine hundred sixty three", not
as a year; a decimal point is just a word break; runs of 5 or more digits stay digits. Accents and
"ß" are kept. The data and backends are in asr_data.py, the scoring in asr_scoring.py, the report
in asr_report.py.

``--quick``: en and es, faster-whisper base only (language given and detected), 3 clips each and
one long file (librivox_en_concat.wav, 30 s); 1-2.5 minutes on 2 cores. The full run takes
about an hour on 2 shared cores, most of it the transformers backends.

``--torch-threads N`` sets torch.set_num_threads for the transformers backends and first times
one clip with torch's default and with N threads. With another process busy on one of 2 cores,
torch's default of 2 threads ran 3-7x slower than 1 thread (its threads wait on each other), so
on a shared machine use ``--torch-threads 1``.

Results: ``<out>/asr.md`` and ``<out>/asr.json`` (rewritten after each stage, so a partial run
leaves partial results). Progress goes to standard error. ``--cache FILE`` keeps every raw
transcription in FILE (saved after each file) and reuses it on the next run, with the timings
and machine load of the run that made it; ``--rescore`` only re-scores what the cache holds.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from asr_data import DEFAULT_DATA, LANGUAGES, REFERENCE_NOTES, Cache, Runner, backends, load_clips, load_long  # noqa: E402
from asr_report import render_markdown  # noqa: E402
from asr_scoring import long_totals, score_clip, score_long, summarize_clips  # noqa: E402
from core.machine import CpuMonitor  # noqa: E402
from core.report import command_line, elapsed, log, now, percent, run_info, write_results  # noqa: E402

VERSIONS = ("mediarag", "faster-whisper", "ctranslate2", "transformers", "torch", "av", "numpy")
ROOT = Path(__file__).resolve().parents[1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="en + es, faster-whisper base only, 3 clips each, one long file")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=None, help="JSON file of raw transcriptions to reuse and extend")
    parser.add_argument("--backends", default=None, help="comma-separated backend keys to run (default: all of the mode)")
    parser.add_argument(
        "--torch-threads", type=int, default=None,
        help="torch.set_num_threads for the transformers backend (default: torch's own choice)",
    )  # fmt: skip
    parser.add_argument(
        "--rescore", action="store_true",
        help="only re-score what --cache holds (no transcription); timings and load come from the cache",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.rescore and not (args.cache and args.cache.exists()):
        parser.error("--rescore needs an existing --cache file")

    data: Path = args.data
    languages = ("en", "es") if args.quick else LANGUAGES
    clips, skipped = load_clips(data, languages)
    if args.quick:
        clips = [c for lang in languages for c in [c for c in clips if c.language == lang and "fleurs" in c.file][:3]]
    long_files = [f for f in load_long(data) if f.language in languages]
    if args.quick:
        long_files = [f for f in long_files if f.file == "long/librivox_en_concat.wav"]
    chosen = backends(args.quick)
    if args.backends:
        keep = set(args.backends.split(","))
        chosen = [b for b in chosen if b.key in keep]
    cache = Cache(args.cache)
    warm = {lang: data / next(c.file for c in load_clips(data, (lang,))[0] if "fleurs" in c.file) for lang in languages}
    if args.torch_threads:
        for b in chosen:
            if b.kind == "transformers":
                b.torch_threads = args.torch_threads

    info = run_info(command_line("asr.py", argv), VERSIONS)
    command = info["command"]
    res: dict[str, Any] = {
        "meta": {
            "command": command,
            "mode": "quick" if args.quick else "full",
            "date": info["date"],
            "machine": info["machine"],
            "versions": info["versions"],
            "git": info["git"],
            "data": str(data),
            "status": "running",
            "total_s": 0.0,
            "torch_threads": args.torch_threads,
            "normalizer": "NFKC, lower, en ordinals, thousands separators, % -> word, apostrophes dropped, "
            "P*/S* -> space, digits split from letters, 0-9999 digits -> words (cardinal, per language)",
        },
        "languages": list(languages),
        "skipped": skipped,
        "backends": [],
        "clips": {},
        "long": {},
        "long_totals": {},
        "cpu": {},
        "threads_check": {},
        "notes": [],
    }
    res["notes"] += [f"Reference of `{f}`: {why}." for f, why in REFERENCE_NOTES.items() if any(c.file == f for c in clips)]
    log(f"{len(clips)} clips in {', '.join(languages)}; {len(skipped)} manifest rows skipped; "
        f"{len(long_files)} long files; backends: {', '.join(b.key for b in chosen)}")

    def write() -> None:
        res["meta"]["total_s"] = round(elapsed(), 1)
        write_results(args.out, "asr", render_markdown(res), res)
        cache.save()

    def stage_info(runner: Runner, stage: str, mon: CpuMonitor, before: int) -> dict[str, Any]:
        """This stage's machine load, or, when all of it came from the cache, the cached run's."""
        if runner.fresh == before:
            old = cache.run_info(stage)
            if old:
                return {**old, "from_cache": True}
            return {**mon.as_dict(), "from_cache": True, "note": "no record of the run that transcribed it"}
        info = {**mon.as_dict(), "date": now(),
                "load_s": runner.load_s, "torch_threads": runner.backend.torch_threads, "command": command,
                "git": res["meta"]["git"]}
        cache.put_run_info(stage, info)
        return info

    for b in chosen:
        info = {"key": b.key, "label": b.label, "kind": b.kind, "model": b.model, "detect": b.detect,
                "languages": list(b.languages), "options": dict(b.options)}
        if b.torch_threads:
            info["options"]["torch threads"] = b.torch_threads
        res["backends"].append(info)
        runner = Runner(b, data, cache, transcribe=not args.rescore)
        if b.torch_threads:
            check = cache.run_info("transformers threads") or cache.run_info(f"{b.key} threads")
            if check is None and not args.rescore:
                check = thread_check(runner, data / "fleurs/fleurs-es-003.ogg", "es", b.torch_threads, warm["es"] if "es" in warm else warm[languages[0]])
                cache.put_run_info("transformers threads", check)
            if check:
                res["threads_check"]["transformers"] = check
        if b.torch_threads and not args.rescore:
            import torch

            torch.set_num_threads(b.torch_threads)
        my_clips = [c for c in clips if c.language in b.languages]
        my_long = [f for f in long_files if f.language in b.languages]
        log(f"== {b.label}: {len(my_clips)} clips, {len(my_long)} long files")
        scored: list[dict[str, Any]] = []
        recs: dict[str, dict[str, Any]] = {}
        try:
            with CpuMonitor() as mon:
                for i, clip in enumerate(my_clips, 1):
                    rec = runner.transcribe(clip.file, clip.language, warm[clip.language])
                    recs[clip.file] = rec
                    row = score_clip(clip, rec)
                    scored.append(row)
                    log(f"  [{i}/{len(my_clips)}] {clip.file} {rec['duration']:.1f}s in {rec['seconds']:.1f}s "
                        f"lang={rec['language']} WER={percent(row['words']['rate'])}")
            cpu = stage_info(runner, f"{b.key} clips", mon, 0)
            summary = {lang: summarize_clips([r for r in scored if r["language"] == lang], b.detect)
                       for lang in b.languages if any(r["language"] == lang for r in scored)}
            overall = summarize_clips(scored, b.detect)
            overall["languages"] = list(summary)
            overall["cpu"] = cpu
            res["clips"][b.key] = {"by_language": summary, "all": overall, "rows": scored}
            res["cpu"][f"{b.key} clips"] = cpu
            info["load_s"] = runner.load_s if runner.load_s is not None else cpu.get("load_s")
            write()

            before = runner.fresh
            with CpuMonitor() as mon:
                results = []
                for lf in my_long:
                    for s in lf.spans:  # clip-by-clip transcripts of every clip in the file
                        if s["source_file"] not in recs:
                            recs[s["source_file"]] = runner.transcribe(s["source_file"], lf.language, warm[lf.language])
                    rec = runner.transcribe(lf.file, lf.language, warm[lf.language])
                    r = score_long(lf, rec, recs)
                    results.append(r)
                    log(f"  long {lf.file} {rec['duration']:.0f}s in {rec['seconds']:.1f}s: "
                        f"WER long {percent(r['long_vs_ref']['rate'])} vs clips {percent(r['clips_vs_ref']['rate'])}, "
                        f"clips lost {r['clips_lost']}")
                    res["long"][b.key] = results
                    write()
            res["cpu"][f"{b.key} long"] = stage_info(runner, f"{b.key} long", mon, before)
            if results:
                res["long_totals"][b.key] = long_totals(results)
        except Exception as exc:  # noqa: BLE001 - a broken backend is reported, the others still run
            info["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
            info["traceback"] = traceback.format_exc(limit=6)
            log(f"  {b.key} FAILED: {info['error']}")
        finally:
            runner.close()
        write()

    res["meta"]["status"] = "complete"
    write()
    log(f"wrote {args.out / 'asr.md'} and {args.out / 'asr.json'}")
    return 0


def thread_check(runner: Runner, path: Path, language: str, threads: int, warm_file: Path) -> dict[str, Any]:
    """Time one clip with torch's default thread count and with ``threads`` (twice each,
    alternating; the model loaded and warmed up first), with the machine load around it."""
    import torch

    from mediarag.media import decode_audio

    runner.load(warm_file, language)
    default = torch.get_num_threads()
    audio = decode_audio(path)
    times: dict[int, list[float]] = {default: [], threads: []}
    with CpuMonitor() as mon:
        for n in (default, threads, default, threads):
            torch.set_num_threads(n)
            t0 = time.perf_counter()
            runner.model.transcribe(audio, language=language)
            times[n].append(round(time.perf_counter() - t0, 2))
    torch.set_num_threads(default)
    log(f"  torch threads check on {path.name} ({audio.duration:.1f} s): {times}")
    return {
        "file": str(path.relative_to(runner.data)) if path.is_relative_to(runner.data) else str(path),
        "duration": round(audio.duration, 2),
        "default_threads": default,
        "threads": threads,
        "seconds": {str(k): v for k, v in times.items()},
        "cpu": mon.as_dict(),
        "date": now(),
    }


if __name__ == "__main__":
    sys.exit(main())
