"""The Markdown report of the ASR benchmark, from what asr.json holds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from asr_scoring import LOST_RECALL, SPAN_SLACK
from core.report import fixed, header, percent, table


def _clip_words(text: str, most: int = 14) -> str:
    words = text.split()
    if len(words) <= most:
        return text
    return " ".join(words[: most - 4]) + f" ... {' '.join(words[-3:])} ({len(words)} words)"


def render_markdown(res: dict[str, Any]) -> str:
    meta = res["meta"]
    partial = f" (partial: {meta['status']})" if meta.get("status") != "complete" else ""
    out = header("mediarag transcription accuracy benchmark", meta, mode=meta["mode"] + partial, total_s=meta["total_s"])
    out += [
        f"Data: `{meta['data']}` (see its README.md). Scoring normalizer: NFKC, lower case, punctuation "
        "and symbols (incl. « » ¿ ¡) removed, apostrophes dropped, digits 0-9999 written out as "
        "words in the clip's language on both sides (direction digits -> words), accents kept "
        "(details in benchmarks/core/text.py). WER and CER are corpus-level: sum of "
        "edits / sum of reference words (characters, spaces included). RTF = transcription wall "
        "time / audio duration, model load and one warm-up clip excluded.",
        "",
    ]
    cfg = [
        (b["label"], f"`{b['kind']}` `{b['model']}`", ", ".join(f"{k}={v}" for k, v in b["options"].items()) or "defaults",
         fixed(b.get("load_s"), 1, " s"), b.get("error") or "ok")
        for b in res["backends"]
    ]
    out += ["## Backends", "", table(["backend", "model", "options", "load", "status"], cfg), ""]
    for key, tc in (res.get("threads_check") or {}).items():
        secs = tc["seconds"]
        out += [
            f"The transformers backends ran with torch.set_num_threads({tc['threads']}). Check before, on "
            f"`{tc['file']}` ({tc['duration']:.1f} s), two runs each: torch default "
            f"{tc['default_threads']} threads {', '.join(f'{x:.1f} s' for x in secs[str(tc['default_threads'])])}; "
            f"{tc['threads']} thread(s) {', '.join(f'{x:.1f} s' for x in secs[str(tc['threads'])])} "
            f"(other processes used {fixed(tc['cpu']['others_cores'], 2)} cores meanwhile).",
            "",
        ]
    notes = res.get("notes") or []
    if notes:
        out += [f"- {n}" for n in notes] + [""]

    skipped = [s for s in res.get("skipped", []) if not s["reason"].startswith("language")]
    other = Counter(s["language"] for s in res.get("skipped", []) if s["reason"].startswith("language"))
    if skipped:
        out += ["Manifest rows skipped for want of a usable reference: "
                + "; ".join(f"`{s['file']}` ({s['reason']})" for s in skipped) + ".", ""]
    if other:
        out += ["Rows in languages not benchmarked in this mode: "
                + ", ".join(f"{lang} {n}" for lang, n in sorted(other.items())) + ".", ""]

    out += ["## 1. Short clips, per language", ""]
    rows = []
    for lang in res["languages"]:
        for b in res["backends"]:
            s = res["clips"].get(b["key"], {}).get("by_language", {}).get(lang)
            if not s:
                continue
            w = s["words"]
            lid = f"{s['lid_correct']}/{s['clips']}" if "lid_correct" in s else ""
            rows.append(
                (lang, b["label"], s["clips"], f"{s['audio_s']:.0f}", w["ref"], percent(s["wer"]), percent(s["cer"]),
                 f"{w['sub']}/{w['del']}/{w['ins']}", lid, fixed(s["rtf"]))
            )
    out += [
        table(["lang", "backend", "clips", "audio s", "ref words", "WER", "CER", "S/D/I", "lang ID", "RTF"], rows),
        "",
    ]
    overall = []
    for b in res["backends"]:
        s = res["clips"].get(b["key"], {}).get("all")
        if s:
            lid = f"{s['lid_correct']}/{s['clips']} ({percent(s['lid_accuracy'], 0)})" if "lid_correct" in s else ""
            overall.append((b["label"], ", ".join(s["languages"]), s["clips"], percent(s["wer"]), percent(s["cer"]), lid, fixed(s["rtf"]),
                            fixed(s["cpu"]["others_cores"], 2)))
    out += [
        "All languages together:",
        "",
        table(["backend", "languages", "clips", "WER", "CER", "lang ID", "RTF", "other processes' cores"], overall),
        "",
    ]
    wrong = {b["key"]: res["clips"][b["key"]]["all"].get("lid_wrong") for b in res["backends"]
             if b["key"] in res["clips"] and res["clips"][b["key"]].get("all", {}).get("lid_wrong")}
    for key, w in wrong.items():
        out += [f"Language detected wrongly ({key}): " + ", ".join(f"`{f}` -> {l}" for f, l in w.items()), ""]

    out += [
        "## 2. Long form: whole concatenated file vs. the same clips one by one",
        "",
        "S/D/I against the concatenated references; `long vs clips` aligns the long-form words "
        "against the clip-by-clip words of the same backend (D = words clip-by-clip had that "
        "long-form lost, I = words long-form added). Repeated 3-grams: reference 3-grams the "
        f"hypothesis holds more often than the reference. Per-clip recall: reference words of each "
        f"clip found among the long-form words timed within its span ±{SPAN_SLACK} s "
        f"(clip-by-clip: among that clip's own transcript); a clip under {LOST_RECALL:.0%} recall counts as lost.",
        "",
    ]
    rows = []
    for b in res["backends"]:
        for r in res["long"].get(b["key"], []):
            lv, cv, lc = r["long_vs_ref"], r["clips_vs_ref"], r["long_vs_clips"]
            rows.append(
                (
                    Path(r["file"]).name, b["key"], f"{r['duration']:.0f}", r["ref_words"],
                    f"{percent(lv['rate'])} ({lv['sub']}/{lv['del']}/{lv['ins']})",
                    f"{percent(cv['rate'])} ({cv['sub']}/{cv['del']}/{cv['ins']})",
                    f"{percent(lc['rate'])} ({lc['sub']}/{lc['del']}/{lc['ins']})",
                    f"{r['repeated_3grams_long']} / {r['repeated_3grams_clips']}",
                    f"{percent(r['mean_recall_long'], 0)} / {percent(r['mean_recall_clips'], 0)}",
                    f"{percent(r['min_recall_long'], 0)}", r["clips_lost"], r["words_outside_spans"],
                    fixed(r["rtf"]), fixed(r["rtf_clips"]),
                )
            )
    out += [
        table(
            ["file", "backend", "s", "ref words", "long WER (S/D/I)", "clips WER (S/D/I)", "long vs clips (S/D/I)",
             "repeated 3-grams long / clips", "mean recall long / clips", "min recall long", "clips lost",
             "words outside spans", "RTF long", "RTF clips"],
            rows,
        ),
        "",
    ]
    totals = []
    for b in res["backends"]:
        t = res.get("long_totals", {}).get(b["key"])
        if t:
            totals.append(
                (b["label"], t["files"], f"{percent(t['long_vs_ref']['rate'])} ({t['long_vs_ref']['sub']}/{t['long_vs_ref']['del']}/{t['long_vs_ref']['ins']})",
                 f"{percent(t['clips_vs_ref']['rate'])} ({t['clips_vs_ref']['sub']}/{t['clips_vs_ref']['del']}/{t['clips_vs_ref']['ins']})",
                 f"{t['long_words']} / {t['clip_words']} / {t['ref_words']}",
                 f"{t['repeated_3grams_long']} / {t['repeated_3grams_clips']}", t["clips_lost"], fixed(t["rtf"]))
            )
    out += [
        "Totals over the long files each backend ran:",
        "",
        table(["backend", "files", "long WER (S/D/I)", "clips WER (S/D/I)", "words long / clips / ref",
               "repeated 3-grams long / clips", "clips lost", "RTF long"], totals),
        "",
    ]
    diffs = []
    for b in res["backends"]:
        for r in res["long"].get(b["key"], []):
            runs = [x for x in r["long_vs_clips_runs"] if x["net"]]
            if runs:
                shown = "; ".join(f"`[{_clip_words(x['ref'])}] -> [{_clip_words(x['hyp'])}]`" for x in runs[:8])
                more = f" (+{len(runs) - 8} more)" if len(runs) > 8 else ""
                diffs.append(f"- `{Path(r['file']).name}` {b['key']}: {shown}{more}")
    if diffs:
        out += ["Where long-form has more or fewer words than clip-by-clip (alignment runs whose word "
                "counts differ, `[clip-by-clip] -> [long-form]`; runs of plain substitutions left out):", ""]
        out += diffs + [""]
    foreign = []
    for b in res["backends"]:
        if not b.get("detect"):
            continue
        for r in res["long"].get(b["key"], []):
            segs = r.get("other_language_segments")
            if segs:
                foreign.append(f"- `{Path(r['file']).name}` {b['key']}: " + "; ".join(
                    f"{x['start']:.1f}-{x['end']:.1f} s tagged {x['language']}: \"{_clip_words(x['text'])}\"" for x in segs))
            elif segs is None:
                foreign.append(f"- `{Path(r['file']).name}` {b['key']}: segment languages not recorded")
    if foreign:
        out += ["Long-form segments that language detection tagged with another language than the file's "
                "(detecting backends; each window's language is detected on its own):", ""] + foreign + [""]
    low = []
    for b in res["backends"]:
        for r in res["long"].get(b["key"], []):
            for c in r["per_clip"]:
                rl, rc = c["recall_long"], c["recall_clip"]
                if rl is not None and (rl < LOST_RECALL or (rc is not None and rl < rc - 0.1)):
                    low.append(
                        (Path(r["file"]).name, b["key"], c["segment"], f"{c['span'][0]:.1f}-{c['span'][1]:.1f}",
                         c["ref_words"], c["long_words_in_span"], percent(c["recall_long"], 0), percent(c["recall_clip"], 0))
                    )
    if low:
        out += ["Clips whose long-form recall is under 50 % or more than 10 points below clip-by-clip:", "",
                table(["file", "backend", "clip", "span s", "ref words", "long words in span", "recall long", "recall clip"], low), ""]
    def made(v: dict[str, Any]) -> str:
        git = v.get("git") or {}
        commit = f", commit {git.get('commit')}{'+changes' if git.get('uncommitted_changes') else ''}" if git else ""
        return (v.get("date", "?") if v.get("from_cache") else "this run") + commit

    cpu = [(k, made(v), v["wall_s"], v["own_cores"], v["others_cores"], v["load_start"], v["load_end"])
           for k, v in res.get("cpu", {}).items()]
    if cpu:
        out += [
            "Machine load while each backend ran (other processes on the shared cores slow every "
            "RTF here down; accuracy is unaffected). Stages transcribed by an earlier run of this "
            "script (reused through `--cache`) show that run's date and figures:",
            "",
            table(["stage", "transcribed", "wall s", "benchmark cores", "other processes' cores", "load avg start",
                   "load avg end"], cpu),
            "",
        ]
    out += ["Per-clip hypotheses, per-clip recall and the long-form texts are in asr.json.", ""]
    return "\n".join(out)
