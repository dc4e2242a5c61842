#!/usr/bin/env python
"""Do speaker turns hurt retrieval on one-voice audio? Spoken XQuAD with and without the speaker stage.

    python benchmarks/speakers_xquad.py [--languages en] [--articles 24] [--corpus DIR] [--out benchmarks/results]
    python benchmarks/speakers_xquad.py --report   # the report again from <out>/speakers_xquad.json

The speaker stage (`mediarag.speakers.stage`) labels every word with a speaker; sentences end
at a change of speaker and the semantic segmenter starts a new passage there
(``split_on_speaker``). On speech of one voice a false turn would cut a passage in two. Spoken
XQuAD (benchmarks/spoken_xquad.py: XQuAD articles read by espeak-ng, one voice per file) is such
speech, so every label beyond ``SPEAKER_00`` there is a false one.

Each file goes through mediarag's pipeline twice, from the Whisper base transcript that ships in
benchmarks/transcripts/ (put on the `MediaFile` instead of transcribing):

- with speakers: ``Pipeline([Decode(), SpeakerStage(...), Sentences(), Passages(segmenter), Embed(embedder)])``
- without: ``Pipeline([Sentences(), Passages(segmenter), Embed(embedder)])``, the transcript as shipped

with the default settings otherwise (segmenter, multilingual-e5-small, no voiceprints). Each arm's
passages go into a real `FaissStore` per language, and the questions of that language are asked
as benchmarks/hybrid.py asks them (dense and keyword search of the store, fused as the default
hybrid retrieval does; the dense ranking alone is reported too). Figures: hit@1, hit@5, MRR@10
per arm with 95 % bootstrap intervals over questions, the paired bootstrap 95 % interval of the
difference (with minus without), how many files got more than one speaker label, how many
passages changed, and the speaker stage's seconds per hour of audio (wall, with the load average).

Embeddings are cached under benchmarks/.cache/speakers_xquad/ (a copy of benchmarks/.cache/hybrid/
embeddings-e5.npz there saves most of the embedding). Writes ``<out>/speakers_xquad.md`` and
``<out>/speakers_xquad.json``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import hybrid  # noqa: E402  benchmarks/hybrid.py: transcripts, embedding cache, asking, metrics

CACHE = HERE / ".cache" / "speakers_xquad"
ARMS = ("without", "with")
MODES = ("hybrid", "dense")
log = hybrid.log


class Timed:
    """A stage that records how long the stage it wraps takes on each file."""

    def __init__(self, stage: Any) -> None:
        self.stage = stage
        self.name = stage.name
        self.seconds: list[float] = []

    def warm_up(self) -> None:
        self.stage.warm_up()

    def run(self, item: Any) -> None:
        t0 = time.perf_counter()
        self.stage.run(item)
        self.seconds.append(time.perf_counter() - t0)


def pipelines(embedder: Any) -> tuple[Any, Any, Timed]:
    """The two pipelines (with and without the speaker stage) and the timed speaker stage."""
    from mediarag.pipeline import Pipeline
    from mediarag.pipeline.stages import Decode, Embed, Passages, Sentences
    from mediarag.segment import make_segmenter
    from mediarag.settings import Settings
    from mediarag.speakers.stage import SpeakerStage

    settings = Settings()
    segmenter = make_segmenter(settings.segmentation, embedder)
    speakers = Timed(SpeakerStage(settings.speakers, voiceprints=None))
    with_speakers = Pipeline([Decode(), speakers, Sentences(), Passages(segmenter), Embed(embedder)])
    without = Pipeline([Sentences(), Passages(segmenter), Embed(embedder)])
    return with_speakers, without, speakers


def process_language(corpus: Any, language: str, articles: int, embedder: Any, root: Path) -> dict[str, Any]:
    """Both arms of one language: their indexes and what the speaker stage did to each file."""
    from mediarag.pipeline.item import MediaFile
    from mediarag.schema import Transcript
    from mediarag.store import FaissStore

    shipped = hybrid.shipped_transcripts()
    with_speakers, without, speakers = pipelines(embedder)
    with_speakers.warm_up()
    stores = {arm: FaissStore(root / f"{language}-{arm}", embedder_name=embedder.name) for arm in ARMS}
    files = {f.article: f for f in corpus.files if f.language == language and f.article < articles}
    per_file = []
    for n, (article, f) in enumerate(sorted(files.items()), 1):
        rel = f"{language}/{f.path.name}"
        data = shipped.get(rel)
        if data is None:
            raise SystemExit(f"no shipped transcript for {rel} in {hybrid.SHIPPED}")
        items = {}
        for arm, pipeline in (("without", without), ("with", with_speakers)):
            transcript = Transcript.model_validate(data["transcript"])
            item = MediaFile(path=f.path, source=str(f.path), sha256=data["key"]["sha256"], transcript=transcript)
            items[arm] = pipeline.run(item)
            stores[arm].add_source(item.info(), item.stored_transcript(), item.passages, item.vectors)
        labelled = items["with"].transcript
        words = Counter(w.speaker for s in labelled.segments for w in s.words)
        spans = {arm: [(c.start, c.end, c.text) for c in items[arm].passages] for arm in ARMS}
        same = set(spans["with"]) & set(spans["without"])
        per_file.append({
            "file": rel,
            "seconds_audio": labelled.duration,
            "speaker_stage_s": speakers.seconds[-1],
            "labels": [s.label for s in labelled.speakers],
            "label_seconds": {s.label: s.seconds for s in labelled.speakers},
            "words_per_label": {str(k): v for k, v in words.most_common()},
            "sentences": {arm: len(items[arm].sentences) for arm in ARMS},
            "sentences_shipped": len(data["transcript"]["segments"]),
            "passages": {arm: len(items[arm].passages) for arm in ARMS},
            "passages_unchanged": len(same),
            "warnings": items["with"].warnings,
        })  # fmt: skip
        log(f"  {language} {n}/{len(files)} {f.path.name}: {len(labelled.speakers)} label(s), passages "
            f"{len(spans['without'])} -> {len(spans['with'])} ({len(spans['with']) - len(same)} new), "
            f"speaker stage {speakers.seconds[-1]:.1f} s for {labelled.duration:.0f} s")  # fmt: skip
        embedder.save()
    golds = hybrid.gold_spans(corpus, files)
    indexes = {}
    for arm, store in stores.items():
        store.commit()
        sources = {a: str(f.path) for a, f in files.items()}
        indexes[arm] = hybrid.Indexed(language, store, root / f"{language}-{arm}", sources, golds, len(store))
    return {"indexes": indexes, "files": per_file, "golds": golds}


def ranks(asked: Sequence[Any], golds: dict, mode: str) -> list[int | None]:
    out = []
    for a in asked:
        ranking = a.dense if mode == "dense" else hybrid.weighted_ranking(a, hybrid.PRODUCT_WEIGHT)
        out.append(hybrid.first_hit(ranking, golds[a.qid], hybrid.K_MRR))
    return out


def per_question(r: Sequence[int | None]) -> dict[str, np.ndarray]:
    return {
        "hit@1": np.array([x == 1 for x in r], float),
        "hit@5": np.array([x is not None and x <= 5 for x in r], float),
        "mrr@10": np.array([1.0 / x if x is not None and x <= hybrid.K_MRR else 0.0 for x in r]),
    }


def compare(indexes: dict[str, Any], questions: Sequence[Any], language: str, embedder: Any, golds: dict) -> dict[str, Any]:
    """Metrics of both arms and the paired differences, per retrieval mode."""
    asked = {arm: hybrid.ask_all(indexes[arm], questions, language, embedder, leave_out=False) for arm in ARMS}
    out: dict[str, Any] = {}
    for mode in MODES:
        r = {arm: ranks(asked[arm], golds, mode) for arm in ARMS}
        v = {arm: per_question(r[arm]) for arm in ARMS}
        out[mode] = {
            **{arm: hybrid.metrics(r[arm]) for arm in ARMS},
            "with_minus_without": {m: hybrid.paired(v["with"][m], v["without"][m]) for m in v["with"]},
            "questions_changed": int(sum(a != b for a, b in zip(r["with"], r["without"]))),
        }
    return out


def summary(files: Sequence[dict]) -> dict[str, Any]:
    audio = sum(f["seconds_audio"] for f in files)
    stage = sum(f["speaker_stage_s"] for f in files)
    return {
        "files": len(files),
        "hours": audio / 3600,
        "files_multi_label": sum(len(f["labels"]) > 1 for f in files),
        "label_counts": dict(sorted(Counter(len(f["labels"]) for f in files).items())),
        "passages_without": sum(f["passages"]["without"] for f in files),
        "passages_with": sum(f["passages"]["with"] for f in files),
        "passages_new": sum(f["passages"]["with"] - f["passages_unchanged"] for f in files),
        "passages_gone": sum(f["passages"]["without"] - f["passages_unchanged"] for f in files),
        "files_passages_changed": sum(f["passages_unchanged"] != f["passages"]["without"]
                                      or f["passages"]["with"] != f["passages"]["without"] for f in files),  # fmt: skip
        "sentences_without": sum(f["sentences"]["without"] for f in files),
        "sentences_with": sum(f["sentences"]["with"] for f in files),
        "sentences_shipped": sum(f["sentences_shipped"] for f in files),
        "speaker_stage_s": stage,
        "speaker_stage_s_per_hour": stage / (audio / 3600) if audio else float("nan"),
        "warnings": [w for f in files for w in f["warnings"]],
    }


def cell(r: dict, key: str) -> str:
    lo, hi = r[f"{key}_ci"]
    return f"{r[key]:.3f} [{lo:.3f}, {hi:.3f}]"


def report(data: dict[str, Any]) -> str:
    lines = [
        "# Speaker turns and retrieval on spoken XQuAD (one voice per file)", "",
        f"Command: `{data['command']}`  ",
        f"Date: {data['date']}, {data['seconds']:.0f} s; commit {data['commit']}; load average (1 min) at the end "
        f"{data['load_average']:.1f} on {os.cpu_count()} cores (other jobs shared the machine).", "",
        "Each file through mediarag's pipeline from its shipped Whisper base transcript, with the speaker stage "
        "(default settings: ECAPA, no voiceprints; sentences end at a change of speaker, the semantic segmenter "
        "starts a passage at a turn) and without it; default segmenter and embedder (multilingual-e5-small); "
        f"questions asked over each arm's index as benchmarks/hybrid.py asks them: 'hybrid' is the default "
        f"retrieval (cosine + {hybrid.PRODUCT_WEIGHT:g} x relative keyword score), 'dense' the cosine alone. "
        "Intervals: 95 % bootstrap over questions; the difference is paired (with minus without).", "",
        "## What the speaker stage did", "",
        "| language | files | hours | files with > 1 label | labels per file | sentences shipped / without / with | "
        "passages without / with | passages new / gone | files whose passages changed | stage s per hour of audio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for lang, part in data["languages"].items():
        s = part["summary"]
        counts = ", ".join(f"{k}: {v}" for k, v in s["label_counts"].items())
        lines.append(
            f"| {lang} | {s['files']} | {s['hours']:.2f} | {s['files_multi_label']} | {counts} | "
            f"{s['sentences_shipped']} / {s['sentences_without']} / {s['sentences_with']} | {s['passages_without']} / {s['passages_with']} | "
            f"{s['passages_new']} / {s['passages_gone']} | {s['files_passages_changed']} | {s['speaker_stage_s_per_hour']:.0f} |"
        )
    lines += ["", "## Retrieval", "",
              "| language | retrieval | metric | without speakers | with speakers | with - without [95 % CI] |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for lang, part in data["languages"].items():
        for mode in MODES:
            r = part["retrieval"][mode]
            for m in ("hit@1", "hit@5", "mrr@10"):
                d, lo, hi = r["with_minus_without"][m]
                lines.append(f"| {lang} | {mode} | {m} | {cell(r['without'], m)} | {cell(r['with'], m)} | "
                             f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}] |")  # fmt: skip
        lines.append(f"| {lang} | | questions whose first hit moved (hybrid / dense) | "
                     f"{part['retrieval']['hybrid']['questions_changed']} / {part['retrieval']['dense']['questions_changed']} | | |")  # fmt: skip
    lines += ["", "## Files with more than one label", ""]
    split = [f for part in data["languages"].values() for f in part["files"] if len(f["labels"]) > 1]
    if not split:
        lines += ["None: every file got one label, so no sentence or passage could change, and the paired "
                  "intervals above are exact (each question ranks the same passages in both arms), not sampled."]
    else:
        lines += ["| file | labels (seconds) | passages without / with |", "|---|---|---|"]
    for f in split:
        secs = ", ".join(f"{k} {v:.1f}" for k, v in f["label_seconds"].items())
        lines.append(f"| {f['file']} | {secs} | {f['passages']['without']} / {f['passages']['with']} |")
    lines += ["", "The stage's seconds per hour are wall time of `SpeakerStage.run` alone (one thread, as the "
              "stage runs; decoding not included), on a machine shared with other jobs: compare with "
              "benchmarks/results/speakers.md only with the load in mind."]
    warnings = [w for part in data["languages"].values() for w in part["summary"]["warnings"]]
    if warnings:
        lines += ["", "Warnings:", ""] + [f"- {w}" for w in warnings]
    lines.append("")
    return "\n".join(lines)


def git_commit() -> str:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE,
                               capture_output=True, text=True, timeout=10).stdout.strip()  # fmt: skip
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write(data: dict[str, Any], args: argparse.Namespace, argv: Sequence[str] | None, started: float) -> None:
    data["command"] = ("nice -n 10 python benchmarks/speakers_xquad.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    data["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    data["seconds"] = time.perf_counter() - started
    data["load_average"] = os.getloadavg()[0]
    data["commit"] = git_commit()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speakers_xquad.json").write_text(json.dumps(data, indent=1))
    (args.out / "speakers_xquad.md").write_text(report(data))


def main(argv: Sequence[str] | None = None) -> int:
    import spoken_xquad
    from mediarag.embed import make_embedder
    from mediarag.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", default="en", help="comma-separated, of en, es, de")
    parser.add_argument("--articles", type=int, default=24)
    parser.add_argument("--corpus", type=Path, default=hybrid.CORPUS_ROOT, help="the built spoken XQuAD corpus")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--report", action="store_true", help="only rewrite the report from <out>/speakers_xquad.json")
    args = parser.parse_args(argv)
    if args.report:
        data = json.loads((args.out / "speakers_xquad.json").read_text())
        (args.out / "speakers_xquad.md").write_text(report(data))
        return 0
    started = time.perf_counter()
    if not (args.corpus / "manifest.json").is_file():
        raise SystemExit(f"{args.corpus}: no spoken XQuAD corpus there (build it with benchmarks/spoken_xquad.py)")
    corpus = spoken_xquad.load(args.corpus)
    embedder = hybrid.CachedEmbedder(make_embedder(Settings().embedding), CACHE / "embeddings-e5.npz")
    tmp = Path(tempfile.mkdtemp(prefix="speakers-xquad-"))
    data: dict[str, Any] = {"languages": {}}
    for lang in args.languages.split(","):
        questions = [q for q in corpus.questions if q.article < args.articles]
        log(f"{lang}: both pipelines over {args.articles} files")
        part = process_language(corpus, lang, args.articles, embedder, tmp)
        log(f"{lang}: {len(questions)} questions over both indexes")
        retrieval = compare(part["indexes"], questions, lang, embedder, part["golds"])
        embedder.save()
        data["languages"][lang] = {"summary": summary(part["files"]), "retrieval": retrieval, "files": part["files"],
                                   "questions": len(questions)}  # fmt: skip
        r = retrieval["hybrid"]
        log(f"{lang}: hit@1 {r['without']['hit@1']:.3f} -> {r['with']['hit@1']:.3f}, "
            f"hit@5 {r['without']['hit@5']:.3f} -> {r['with']['hit@5']:.3f}")  # fmt: skip
        write(data, args, argv, started)  # after each language: a run cut short keeps what it finished
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"wrote {args.out / 'speakers_xquad.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
