"""The Markdown report of the retrieval benchmark: from what retrieval.json holds to
retrieval.md, with the findings stated in words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.report import fixed, header, table
from retrieval_index import DEFAULT_CHUNKER, EMBEDDER_LABELS, EMBEDDERS
from retrieval_stats import BUDGET, BUDGET_KEY, K


def _table(header_row: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    return table(header_row, rows).splitlines()


def write_report(data: dict[str, Any], previous: dict[str, Any] | None) -> str:
    """The Markdown report of a run (``data`` is what retrieval.json holds), with what changed
    since ``previous`` (the JSON of the run before) when given."""
    s = data["same_language"]
    summary = s["summary"]
    main, other = data["main_embedder"], data["other_embedder"]
    main_label, other_label = EMBEDDER_LABELS[main], EMBEDDER_LABELS[other]
    rows_by_name = {r["name"]: r for r in [*s["rows"], *data["cross_rows_full"]]}
    langs = data["corpus"]["languages"]
    md: list[str] = []
    title = "Retrieval benchmark on spoken XQuAD" + (" (quick mode)" if data["quick"] else "")
    md += header(title, data, total_s=data["total_seconds"], cpu_s=data["cpu_seconds"], load=data["load"])
    c = data["corpus"]
    md += [
        "## Corpus",
        "",
        f"Spoken XQuAD (benchmarks/spoken_xquad.py: XQuAD articles read by espeak-ng, CC BY-SA 4.0), "
        f"first {c['articles']} articles, {c['questions']} questions per language "
        f"(XQuAD is parallel: the same questions in every language). Gold evidence of a question = the "
        f"time span of its paragraph in its article's file, in the language of the audio "
        f"(paragraphs: mean {c['paragraph_seconds']['mean']:.1f} s, p10 {c['paragraph_seconds']['p10']:.1f}, "
        f"p90 {c['paragraph_seconds']['p90']:.1f}).",
        "",
    ]
    md += _table(
        ["language", "files", "hours", "sentences (reference)", "Whisper sentences (transcribe)",
         "detected language (files)", "WER transcribe", "WER translate vs English text"],
        [
            [
                lang,
                c["files"][lang],
                f"{c['hours'][lang]:.2f}",
                c["reference_sentences"][lang],
                c["whisper_sentences"][lang],
                ", ".join(f"{k} {v}" for k, v in c["detected"][lang].items()),
                fixed(c["wer"].get(lang, {}).get("transcribe")),
                fixed(c["wer"].get(lang, {}).get("translate")),
            ]
            for lang in langs
        ],
    )  # fmt: skip
    md += [
        "",
        "WER: Whisper base against the text that was read, after SQuAD normalization (numbers as "
        "digits). For `translate` the reference is XQuAD's English text of the same article, a human "
        "translation, so that column only roughly tracks translation quality.",
        "",
    ]
    if data["quick"]:
        md += [
            f"**Quick mode** covers {c['articles']} articles, languages {', '.join(langs)}, chunkers "
            f"{', '.join(ch['name'] for ch in data['chunkers'])}, the cross-lingual set-ups that need no "
            f"translation ((a) and (c)) for {', '.join(l for l in langs if l != 'en')}, and the threshold "
            "analysis without the translated index. Whisper's `translate` task is skipped (it costs about "
            "twice `transcribe`) to keep a cold run near 5 minutes. With so few questions "
            "the intervals are wide: use it to check that the pipeline runs and to spot large changes, "
            "and the full run for decisions.",
            "",
        ]

    # timings
    md += ["## Timings", "", "Wall time per step (transcription only counts files not in the cache).", ""]
    md += _table(
        ["step", "seconds", "note"],
        [[k, f"{v:.1f}", data["timings"]["notes"].get(k, "")] for k, v in data["timings"]["seconds"].items()],
    )
    tr = data["transcription"]
    if tr:
        md += [
            "",
            "Transcription (Whisper base, int8, beam 5, VAD, language detected). 'This run' counts the "
            "files transcribed now; 'when transcribed' adds up the wall time recorded in the cache "
            "when each file was transcribed (possibly in an earlier run, on a machine as busy as it "
            "was then), i.e. what a cold cache costs:",
            "",
        ]
        md += _table(
            ["language", "task", "files", "cached", "audio h", "this run: wall s (RTF)",
             "when transcribed: wall s (RTF)"],
            [
                [r["language"], r["task"], r["files"], r["cached"], f"{r['audio_s'] / 3600:.2f}",
                 f"{r['wall_s']:.0f} ({fixed(r['rtf'])})", f"{r['recorded_s']:.0f} ({fixed(r['recorded_rtf'])})"]
                for r in tr
            ],
        )  # fmt: skip
        cold = sum(r["recorded_s"] for r in tr)
        rest = data["total_seconds"] - sum(r["wall_s"] for r in tr)
        md += [
            "",
            f"Cold-cache estimate for this command: {cold / 60:.0f} min of transcription (as recorded) + "
            f"{rest / 60:.1f} min for the rest (this run) = **{(cold + rest) / 60:.0f} min**.",
        ]
    md += [""]

    # chunkers
    md += ["## Chunkers", ""]
    md += _table(
        ["name", "kind", "parameters", "what"],
        [[ch["name"], ch["kind"], ch["params"], ch["note"]] for ch in data["chunkers"]],
    )
    md += [
        "",
        "Semantic chunkers embed the sentences with the embedder of the configuration (as `MediaQA` "
        "does: one embedder for segmentation and retrieval). Passages carry the start and end time of "
        "their first and last words.",
        "",
    ]

    # same-language
    md += [
        f"## Same-language retrieval per chunker ({main_label}, the default embedder)",
        "",
        f"Questions in the language of the audio, over an index of all {c['articles']} files of that "
        f"language; k = {K}. hit@k: a passage of the gold file overlapping the gold paragraph is in the "
        "top k. Mean tIoU: IoU of the best-ranked overlapping passage with the paragraph (0 if none). "
        f"{BUDGET_KEY}: the gold paragraph is reached within {BUDGET:g} s of listening to the top {K} "
        "passages in rank order (the same listening budget for every chunker, so long passages are not "
        "rewarded just for covering more of the file, as they are by hit@k). "
        "Intervals: 95 % bootstrap over questions.",
        "",
    ]
    columns = ["chunker", "passages/h", "hit@1", "hit@5 [95 % CI]", "MRR@10", "mean tIoU", BUDGET_KEY]
    for lang in langs:
        md += [f"**{lang}** ({c['questions']} questions, {c['hours'][lang]:.2f} h)", ""]
        rows = []
        for ch in data["chunkers"]:
            r = rows_by_name[f"{lang}/{ch['name']}/{main}"]
            rows.append(_row(ch["name"], r))
        r = rows_by_name.get(f"{lang}/{DEFAULT_CHUNKER}/{other}")
        if r:
            rows.append(_row(f"{DEFAULT_CHUNKER} with {other_label}", r))
        md += _table(columns, rows) + [""]
    md += [f"**Mean over {', '.join(langs)}** ({main_label})", ""]
    md += _ranking_table(summary)
    md += ["", f"Paired differences, winner ({summary['winner']}) minus each other chunker, per question "
           "averaged over languages (95 % paired bootstrap):", ""]  # fmt: skip
    md += _table(
        ["chunker", "Δ hit@5 [95 % CI]", "Δ MRR@10 [95 % CI]", f"Δ {BUDGET_KEY} [95 % CI]", "winner better on / worse on"],
        [
            [name, _diff(v["hit@5"]), _diff(v["mrr@10"]), _diff(v[BUDGET_KEY]),
             (", ".join(m for m in ("hit@5", "mrr@10", BUDGET_KEY) if v[m]["lo"] > 0) or "-") + " / "
             + (", ".join(m for m in ("hit@5", "mrr@10", BUDGET_KEY) if v[m]["hi"] < 0) or "-")]
            for name, v in summary["versus_winner"].items()
        ],
    )  # fmt: skip
    md += ["", "Passage lengths (all files of the language):", ""]
    md += _table(
        ["chunker", "language", "passages", "chars mean / p10 / p50 / p90", "seconds mean / p10 / p50 / p90"],
        [
            [ch["name"], lang, rows_by_name[f"{lang}/{ch['name']}/{main}"]["passages"],
             _dist(rows_by_name[f"{lang}/{ch['name']}/{main}"]["lengths"]["chars"], 0),
             _dist(rows_by_name[f"{lang}/{ch['name']}/{main}"]["lengths"]["seconds"], 1)]
            for ch in data["chunkers"] for lang in langs
        ],
    )  # fmt: skip
    o = data["same_language"].get("summary_other")
    if o:
        md += ["", f"The same chunkers with {other_label} (segmentation and retrieval), mean over "
               f"{', '.join(langs)}:", ""]
        md += _ranking_table(o)
    md += ["", f"![hit@5 per chunker]({data['figures_dir']}/hit5_by_chunker.png)", ""]

    # cross-lingual
    cross = data["cross_lingual"]
    if cross:
        md += [
            "## Cross-lingual: English questions over Spanish / German audio",
            "",
            f"Default chunker ({DEFAULT_CHUNKER}) for every set-up. Translation = Whisper base "
            "`task=\"translate\"` at ingest. Reference rows: the same questions asked in the audio's "
            "language, and English questions over the English audio.",
            "",
        ]
        rows = []
        for lang in [l for l in langs if l != "en"]:
            for row in [r for r in cross if r["language"] == lang]:
                rows.append([f"en → {lang}", f"({row['config']}) {row['label']}", *_row("", rows_by_name[row["name"]])[1:]])
            for emb in EMBEDDERS:
                ref = rows_by_name.get(f"{lang}/{DEFAULT_CHUNKER}/{emb}")
                if ref:
                    rows.append([f"{lang} → {lang}", f"reference: same language, {EMBEDDER_LABELS[emb]}", *_row("", ref)[1:]])
        for emb in EMBEDDERS:
            ref = rows_by_name.get(f"en/{DEFAULT_CHUNKER}/{emb}")
            if ref:
                rows.append(["en → en", f"reference: English audio, {EMBEDDER_LABELS[emb]}", *_row("", ref)[1:]])
        md += _table(["questions → audio", "set-up", "passages/h", "hit@1", "hit@5 [95 % CI]", "MRR@10", "mean tIoU", BUDGET_KEY], rows)
        md += ["", "Mean over the non-English languages:", ""]
        md += _table(
            ["set-up", "hit@1", "hit@5", "MRR@10", "mean tIoU", BUDGET_KEY],
            [[f"({t}) {v['label']}", fixed(v["hit@1"]), fixed(v["hit@5"]), fixed(v["mrr@10"]), fixed(v["mean_tiou@10"]), fixed(v[BUDGET_KEY])]
             for t, v in data["cross_lingual_summary"].items()],
        )  # fmt: skip
        md += ["", f"![cross-lingual]({data['figures_dir']}/crosslingual_hit5.png)", ""]

    # thresholds
    md += [
        "## Similarity threshold (min_score)",
        "",
        f"Default chunker. For each question, the top-1 cosine score over the full index (**answerable**: "
        "its article is indexed) and over the index without its article (**unanswerable**: leave one "
        f"article out, the other {c['articles'] - 1} articles indexed), so both groups hold the same questions. "
        "AUC = chance that an answerable question scores above an unanswerable one. Best threshold: the "
        "one that maximizes accuracy over both groups (kept = answerable questions above it, rejected = "
        "unanswerable ones below it); CV accuracy: the threshold chosen on the even-numbered articles and "
        "tested on the odd ones and the other way round (an honest estimate of the chosen threshold). "
        "'Answerable' only means the article is indexed, not that the top-1 passage is right. A smaller "
        "index (one file) gives lower unanswerable scores, so a threshold from here is on the safe side. "
        "mediarag's current default `min_score` per embedder (`Settings.min_score=None` uses the "
        "embedder's own): " + ", ".join(f"{EMBEDDER_LABELS[k]} {v}" for k, v in data["min_score"].items()) + ".",
        "",
    ]
    md += _table(
        ["questions / audio / embedder", "AUC", "median ans. / unans.", "best threshold", "accuracy (CV)",
         "kept / rejected", "best-F1 threshold (F1)", "at the default min_score: kept / rejected"],
        [
            [r["name"], fixed(r["auc"]), f"{fixed(r['answerable_median'])} / {fixed(r['unanswerable_median'])}",
             fixed(r["best_accuracy_threshold"]), f"{fixed(r['best_accuracy'])} ({fixed(r['cv_accuracy'])})",
             f"{fixed(r['best_accuracy_kept'], 2)} / {fixed(r['best_accuracy_rejected'], 2)}",
             f"{fixed(r['best_f1_threshold'])} ({fixed(r['best_f1'])})",
             f"{fixed(r['current_kept'], 2)} / {fixed(r['current_rejected'], 2)} (at {r['current_threshold']})"]
            for r in data["thresholds"]
        ],
    )  # fmt: skip
    md += ["", f"![thresholds]({data['figures_dir']}/thresholds.png)", ""]

    # separation
    sep = summary["separation_vs_hit5"]
    md += [
        "## Does PCA separation predict retrieval?",
        "",
        "What the AWS sample judged by eye, measured: silhouette of the passage embeddings grouped by "
        f"article (cosine distance in the 384-d {main_label} space, and Euclidean in the 2-D PCA plane that the "
        "plots show), and the mean cosine distance from each passage to its nearest neighbour. Spearman "
        "rank correlation with hit@5 across chunkers (macro: one point per chunker, mean over languages; "
        "pooled: one point per chunker and language).",
        "",
    ]
    md += _table(
        ["chunker", "language", "passages", "silhouette (384-d)", "silhouette (PCA 2-D)", "mean NN distance", "hit@5"],
        [
            [r["chunker"], r["language"], r["passages"], fixed(r["silhouette"]), fixed(r["silhouette_pca2"]),
             fixed(r["mean_nn_distance"]), fixed(rows_by_name[f"{r['language']}/{r['chunker']}/{main}"]["hit@5"])]
            for r in data["separation"]
        ],
    )  # fmt: skip
    md += [""]
    md += _table(
        ["separation measure", "Spearman rho vs hit@5 (macro)", "p", "pooled rho (p)", "most separated chunker", "= retrieval winner?"],
        [
            [k, fixed(v["macro"]["rho"], 2), fixed(v["macro"]["p"], 3), f"{fixed(v['pooled']['rho'], 2)} ({fixed(v['pooled']['p'], 3)})",
             v["most_separated"], "yes" if v["predicts_winner"] else "no"]
            for k, v in sep.items()
        ],
    )  # fmt: skip
    md += [
        "",
        f"Per language (one point per chunker; hit@5, MRR@10 and {BUDGET_KEY} of that language):",
        "",
    ]
    md += _table(
        ["separation measure", "language", "rho vs hit@5 (p)", "rho vs MRR@10 (p)", f"rho vs {BUDGET_KEY} (p)"],
        [
            [k, lang] + [f"{fixed(v['per_language'][lang][m]['rho'], 2)} ({fixed(v['per_language'][lang][m]['p'], 3)})"
                         for m in ("hit@5", "mrr@10", BUDGET_KEY)]
            for k, v in sep.items() for lang in langs
        ],
    )  # fmt: skip
    md += [""]
    for lang in langs:
        md += [f"![PCA {lang}]({data['figures_dir']}/pca_{lang}.png)", ""]
    md += [f"![separation vs hit@5]({data['figures_dir']}/separation_vs_hit5.png)", ""]

    # conclusions
    md += ["## Findings", ""] + [f"- {line}" for line in data["findings"]] + [""]

    if previous:
        md += ["## Changes since the previous run", ""]
        md += [f"Previous run: {previous.get('date', '?')} ({previous.get('git', '?')}).", ""]
        old = {r["name"]: r for r in previous.get("same_language", {}).get("rows", [])}
        old |= {r["name"]: r for r in previous.get("cross_rows_full", [])}
        new = {r["name"]: r for r in data["same_language"]["rows"]} | {r["name"]: r for r in data["cross_rows_full"]}
        changed = []
        for name, r in new.items():
            o = old.get(name)
            if o is None:
                changed.append([name, "new", fixed(r["hit@5"]), "", ""])
            elif any(abs(o.get(k, 0) - r[k]) > 1e-9 for k in ("hit@1", "hit@5", "mrr@10")) or o["passages"] != r["passages"]:
                changed.append([name, f"{o['passages']} → {r['passages']}", f"{fixed(o['hit@5'])} → {fixed(r['hit@5'])}",
                                f"{fixed(o['mrr@10'])} → {fixed(r['mrr@10'])}", f"{fixed(o['hit@1'])} → {fixed(r['hit@1'])}"])  # fmt: skip
        if changed:
            md += _table(["configuration", "passages", "hit@5", "MRR@10", "hit@1"], changed)
        else:
            md += ["No retrieval metric changed."]
        md += [""]
    return "\n".join(md)


def _ranking_table(summary: dict[str, Any]) -> list[str]:
    """Chunkers ranked by mean hit@5 over the languages, with their other mean metrics."""
    rows = []
    for i, name in enumerate(summary["ranking"]):
        m = summary["per_chunker"][name]
        rows.append([i + 1, name, f"{m['passages_per_hour']:.0f}", fixed(m["hit@1"]),
                     f"{fixed(m['hit@5'])} [{fixed(m['hit@5_ci95'][0])}, {fixed(m['hit@5_ci95'][1])}]",
                     fixed(m["mrr@10"]), fixed(m["mean_tiou@10"]), fixed(m[BUDGET_KEY])])  # fmt: skip
    columns = ["rank", "chunker", "passages/h", "hit@1", "hit@5 [95 % CI]", "MRR@10", "mean tIoU", BUDGET_KEY]
    return _table(columns, rows)


def _row(label: str, r: dict[str, Any]) -> list[str]:
    return [
        label,
        f"{r['passages_per_hour']:.0f}",
        fixed(r["hit@1"]),
        f"{fixed(r['hit@5'])} [{fixed(r['hit@5_ci95'][0])}, {fixed(r['hit@5_ci95'][1])}]",
        fixed(r["mrr@10"]),
        fixed(r["mean_tiou@10"]),
        fixed(r[BUDGET_KEY]),
    ]


def _diff(d: dict[str, float]) -> str:
    return f"{d['diff']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"


def _dist(d: dict[str, float], digits: int) -> str:
    return " / ".join(f"{d[k]:.{digits}f}" for k in ("mean", "p10", "p50", "p90"))


def findings(
    languages: Sequence[str], summary: dict[str, Any], cross_summary: dict[str, Any], threshold_rows: Sequence[dict[str, Any]]
) -> list[str]:
    """The report's conclusions, one sentence or two each."""
    out = []
    per = summary["per_chunker"]
    winner = summary["winner"]
    runner = summary["ranking"][1] if len(summary["ranking"]) > 1 else None
    line = (
        f"Retrieval winner (hit@5 averaged over {', '.join(languages)}): **{winner}** "
        f"(hit@5 {per[winner]['hit@5']:.3f}, MRR@10 {per[winner]['mrr@10']:.3f}, "
        f"{per[winner]['passages_per_hour']:.0f} passages/h)."
    )
    if runner:
        v = summary["versus_winner"][runner]["hit@5"]
        distinct = v["lo"] > 0
        line += (
            f" Runner-up {runner} (hit@5 {per[runner]['hit@5']:.3f}); difference {v['diff']:+.3f} "
            f"[{v['lo']:+.3f}, {v['hi']:+.3f}]: "
            + ("the winner is better beyond noise." if distinct else "not distinguishable from noise.")
        )
    out.append(line)
    best_by = summary["best_by"]
    if len(set(best_by.values())) > 1:
        out.append(
            "The best chunker depends on the metric: "
            + ", ".join(f"{metric}: {name} ({per[name][metric]:.3f})" for metric, name in best_by.items())
            + f". (hit@k tends to favour long passages, which overlap the gold paragraph more easily; "
            f"{BUDGET_KEY} and mean tIoU do not.)"
        )
    else:
        out.append(f"{winner} is best on hit@5, {BUDGET_KEY}, MRR@10 and mean tIoU alike.")
    tied = [n for n, v in summary["versus_winner"].items() if not (v["hit@5"]["lo"] > 0)]
    if tied:
        out.append("Chunkers whose hit@5 is not distinguishable from the winner's: " + ", ".join(tied) + ".")
    rec = summary["recommended"]
    out.append(
        f"Recommended default (among those tied with the hit@5 winner, the best {BUDGET_KEY}, then MRR@10): "
        f"**{rec}** ({BUDGET_KEY} {per[rec][BUDGET_KEY]:.3f}, hit@5 {per[rec]['hit@5']:.3f}, MRR@10 "
        f"{per[rec]['mrr@10']:.3f}, mean tIoU {per[rec]['mean_tiou@10']:.3f}, {per[rec]['passages_per_hour']:.0f} passages/h)"
        + (" = mediarag's current default." if rec == DEFAULT_CHUNKER else f"; mediarag's current default is {DEFAULT_CHUNKER}.")
    )
    if DEFAULT_CHUNKER != winner and summary["default_vs_winner"]:
        v = summary["default_vs_winner"]["hit@5"]
        out.append(
            f"mediarag's current default ({DEFAULT_CHUNKER}) scores hit@5 {per[DEFAULT_CHUNKER]['hit@5']:.3f}: "
            f"the winner is ahead by {v['diff']:+.3f} [{v['lo']:+.3f}, {v['hi']:+.3f}]"
            + (" (beyond noise)." if v["lo"] > 0 else " (not distinguishable from noise).")
        )
    elif DEFAULT_CHUNKER == winner:
        out.append(f"mediarag's current default ({DEFAULT_CHUNKER}) is the winner.")
    if "semantic-aws" in per and "recursive-500" in per:
        a, r = per["semantic-aws"], per["recursive-500"]
        out.append(
            f"The AWS sample's own comparison: semantic-aws hit@5 {a['hit@5']:.3f} / MRR {a['mrr@10']:.3f} vs "
            f"recursive-500 hit@5 {r['hit@5']:.3f} / MRR {r['mrr@10']:.3f}."
        )
    sep = summary["separation_vs_hit5"]
    parts = []
    for key, v in sep.items():
        parts.append(
            f"{key}: rho {v['macro']['rho']:+.2f} (p {v['macro']['p']:.2f}, n {v['macro']['n']}), most separated = "
            f"{v['most_separated']} ({'the winner' if v['predicts_winner'] else 'not the winner'})"
        )
    predictive = [k for k, v in sep.items() if v["predicts_winner"] and v["macro"]["rho"] > 0.5 and v["macro"]["p"] < 0.05]
    against = sorted(
        {
            f"{k} in {lang}"
            for k, v in sep.items()
            for lang, m in v["per_language"].items()
            if m[BUDGET_KEY]["p"] < 0.05 and m[BUDGET_KEY]["rho"] < 0
        }
    )
    out.append(
        "PCA-style separation as a predictor of retrieval: "
        + "; ".join(parts)
        + ". "
        + (
            f"{' and '.join(predictive)} {'picks' if len(predictive) == 1 else 'pick'} the winner and "
            "correlate(s) significantly and positively with hit@5 here; check the other metrics and the "
            "intervals before trusting that."
            if predictive
            else "No separation measure both picks the winner and correlates significantly and positively "
            "with hit@5: a PCA plot is not evidence for a chunker; measure retrieval."
        )
        + (
            f" Separation correlates significantly *negatively* with {BUDGET_KEY} ({', '.join(against)}): "
            "it rises with passage length (fewer, longer passages separate better by article) rather "
            "than with how fast a listener reaches the evidence."
            if against
            else ""
        )
    )
    if cross_summary:
        best = max(cross_summary, key=lambda t: (cross_summary[t]["hit@5"], cross_summary[t]["mrr@10"]))
        out.append(
            "Cross-lingual (English questions, non-English audio, mean over languages): best set-up "
            f"({best}) {cross_summary[best]['label']}, hit@5 {cross_summary[best]['hit@5']:.3f}; "
            + ", ".join(f"({t}) {v['hit@5']:.3f}" for t, v in cross_summary.items())
            + "."
        )
    pooled = [r for r in threshold_rows if r.get("pooled")]
    for row in pooled or threshold_rows[:2]:
        out.append(
            f"Threshold, {row['name']}: AUC {row['auc']:.3f}; best threshold {row['best_accuracy_threshold']:.3f} "
            f"(accuracy {row['best_accuracy']:.3f}); the current min_score {row['current_threshold']} keeps "
            f"{row['current_kept']:.0%} of answerable and rejects {row['current_rejected']:.0%} of unanswerable questions."
        )
    return out
