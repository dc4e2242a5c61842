"""The scoring of the ASR benchmark: clips against their references (corpus-level WER and CER,
language identification), long files against the same clips one by one (lost or repeated words,
per-clip recall within each clip's true span). Texts are normalized by
`core.text.normalize_transcript` (numbers as words) and aligned by `core.wer`."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from asr_data import Clip, LongFile
from core.text import normalize_transcript, transcript_words
from core.wer import Edits, align, char_distance, counts_of, edit_counts, edit_distance, word_edits

#: Seconds added on each side of a clip's span when collecting the hypothesis words timed in it.
SPAN_SLACK = 0.5
#: A clip whose per-clip recall falls below this counts as lost in long-form transcription.
LOST_RECALL = 0.5


def bag_recall(ref: Sequence[str], hyp: Iterable[str]) -> float | None:
    """Share of reference tokens found in ``hyp`` (multiset intersection, order ignored)."""
    if not ref:
        return None
    have = Counter(hyp)
    return sum(min(c, have[w]) for w, c in Counter(ref).items()) / len(ref)


def ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def repeated_ngrams(ref: Sequence[str], hyp: Sequence[str], n: int = 3) -> int:
    """How many times the hypothesis holds an n-gram of the reference more often than the
    reference does: a repeated stretch of correct text (substitutions make new n-grams, which
    are not counted)."""
    have, want = ngrams(hyp, n), ngrams(ref, n)
    return sum(max(0, have[g] - c) for g, c in want.items())


def timed_words(segments: Sequence[dict[str, Any]], language: str) -> list[tuple[float, str]]:
    """(time, normalized token) for every hypothesis token. A word's time is the middle of its
    word timestamps; a segment without words has its words placed by character offset between
    its start and end. ``segments`` are dicts with start, end, text and optional words
    (dicts with start, end, text)."""
    out: list[tuple[float, str]] = []
    for seg in segments:
        words = seg.get("words") or []
        if words:
            for w in words:
                mid = (float(w["start"]) + float(w["end"])) / 2
                out += [(mid, tok) for tok in transcript_words(w["text"], language)]
            continue
        text = str(seg.get("text") or "")
        start, end = float(seg["start"]), float(seg["end"])
        for m in re.finditer(r"\S+", text):
            frac = (m.start() + m.end()) / 2 / max(len(text), 1)
            out += [(start + frac * (end - start), tok) for tok in transcript_words(m.group(0), language)]
    return out


def words_in_span(words: Sequence[tuple[float, str]], start: float, end: float, slack: float = SPAN_SLACK) -> list[str]:
    return [w for t, w in words if start - slack <= t <= end + slack]


def score_clip(clip: Clip, rec: dict[str, Any]) -> dict[str, Any]:
    words = word_edits(clip.reference, rec["text"], clip.language)
    chars, nchars = char_distance(clip.reference, rec["text"], clip.language)
    return {
        "file": clip.file,
        "language": clip.language,
        "duration": clip.duration,
        "detected": rec.get("language"),
        "seconds": rec["seconds"],
        "words": words.as_dict(),
        "char_dist": chars,
        "char_ref": nchars,
        "reference": clip.reference,
        "hypothesis": rec["text"],
    }


def summarize_clips(rows: Sequence[dict[str, Any]], detect: bool) -> dict[str, Any]:
    """Corpus-level figures of scored clips: sum of edits over sum of reference units."""
    e = sum((Edits.from_dict(r["words"]) for r in rows), Edits())
    chars = sum(r["char_dist"] for r in rows)
    nchars = sum(r["char_ref"] for r in rows)
    audio = sum(r["duration"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    out = {
        "clips": len(rows),
        "audio_s": round(audio, 1),
        "words": e.as_dict(),
        "wer": e.rate,
        "cer": chars / nchars if nchars else None,
        "rtf": seconds / audio if audio else None,
        "seconds": round(seconds, 2),
    }
    if detect:
        right = sum(1 for r in rows if r["detected"] == r["language"])
        out["lid_correct"] = right
        out["lid_accuracy"] = right / len(rows) if rows else None
        out["lid_wrong"] = {r["file"]: r["detected"] for r in rows if r["detected"] != r["language"]}
    return out


def score_long(lf: LongFile, long_rec: dict[str, Any], clip_recs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Long-form transcription against the references and against clip-by-clip transcription."""
    lang = lf.language
    ref = transcript_words(lf.reference, lang)
    hyp_long = transcript_words(long_rec["text"], lang)
    hyp_clips = transcript_words(" ".join(clip_recs[s["source_file"]]["text"] for s in lf.spans), lang)
    timed = timed_words(long_rec["segments"], lang)
    has_word_times = any(seg.get("words") for seg in long_rec["segments"])

    per_clip = []
    for s in lf.spans:
        clip_ref = transcript_words(s["reference_text"], lang)
        inside = words_in_span(timed, s["start_s"], s["end_s"])
        per_clip.append(
            {
                "segment": s["segment"],
                "source_file": s["source_file"],
                "span": [s["start_s"], s["end_s"]],
                "ref_words": len(clip_ref),
                "long_words_in_span": len(inside),
                "recall_long": bag_recall(clip_ref, inside),
                "recall_clip": bag_recall(clip_ref, transcript_words(clip_recs[s["source_file"]]["text"], lang)),
            }
        )
    slack_spans = [(s["start_s"] - SPAN_SLACK, s["end_s"] + SPAN_SLACK) for s in lf.spans]
    outside = [w for t, w in timed if not any(a <= t <= b for a, b in slack_spans)]
    recalls_long = [c["recall_long"] for c in per_clip if c["recall_long"] is not None]
    recalls_clip = [c["recall_clip"] for c in per_clip if c["recall_clip"] is not None]

    vs_ref_long = edit_counts(ref, hyp_long)
    vs_ref_clips = edit_counts(ref, hyp_clips)
    long_vs_clips_ops = align(hyp_clips, hyp_long)
    long_vs_clips = counts_of(long_vs_clips_ops)
    clip_seconds = sum(clip_recs[s["source_file"]]["seconds"] for s in lf.spans)
    clip_audio = sum(clip_recs[s["source_file"]]["duration"] for s in lf.spans)
    return {
        "file": lf.file,
        "language": lang,
        "duration": long_rec["duration"],
        "detected": long_rec.get("language"),
        "seconds": long_rec["seconds"],
        "rtf": long_rec["seconds"] / long_rec["duration"] if long_rec["duration"] else None,
        "rtf_clips": clip_seconds / clip_audio if clip_audio else None,
        "ref_words": len(ref),
        "long_words": len(hyp_long),
        "clip_words": len(hyp_clips),
        "long_vs_ref": vs_ref_long.as_dict(),
        "clips_vs_ref": vs_ref_clips.as_dict(),
        "long_vs_clips": long_vs_clips.as_dict(),
        "long_vs_clips_runs": _edit_runs(long_vs_clips_ops),
        "cer_long": _ratio(edit_distance(normalize_transcript(lf.reference, lang), normalize_transcript(long_rec["text"], lang)), len(normalize_transcript(lf.reference, lang))),
        "repeated_3grams_long": repeated_ngrams(ref, hyp_long),
        "repeated_3grams_clips": repeated_ngrams(ref, hyp_clips),
        "word_times": "word timestamps" if has_word_times else "segment times, words interpolated",
        "mean_recall_long": sum(recalls_long) / len(recalls_long) if recalls_long else None,
        "mean_recall_clips": sum(recalls_clip) / len(recalls_clip) if recalls_clip else None,
        "min_recall_long": min(recalls_long) if recalls_long else None,
        "clips_lost": sum(1 for r in recalls_long if r < LOST_RECALL),
        "words_outside_spans": len(outside),
        "other_language_segments": other_language_segments(long_rec["segments"], lang),
        "per_clip": per_clip,
        "hypothesis": long_rec["text"],
    }


def other_language_segments(segments: Sequence[dict[str, Any]], language: str) -> list[dict[str, Any]] | None:
    """Segments tagged with another language than the file's (None when segments carry none)."""
    if not segments or any("language" not in seg for seg in segments):
        return None
    return [
        {"start": seg["start"], "end": seg["end"], "language": seg["language"], "text": seg["text"]}
        for seg in segments
        if seg["language"] not in (None, language)
    ]


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _edit_runs(ops: Sequence[tuple[str, str | None, str | None]], limit: int = 60) -> list[dict[str, Any]]:
    """Runs of consecutive non-matching alignment ops: the tokens on each side and ``net``, the
    number of tokens the second side has more (>0: words added, <0: words lost)."""
    runs: list[dict[str, Any]] = []
    cur: list[tuple[str, str | None, str | None]] = []
    for op in [*ops, ("=", None, None)]:
        if op[0] != "=":
            cur.append(op)
            continue
        if cur:
            dropped = [r for o, r, _ in cur if o in "SD" and r]
            added = [h for o, _, h in cur if o in "SI" and h]
            runs.append({"ref": " ".join(dropped), "hyp": " ".join(added), "net": len(added) - len(dropped)})
            cur = []
    return runs[:limit]


def long_totals(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def total(key: str) -> Edits:
        return sum((Edits.from_dict(r[key]) for r in results), Edits())

    seconds = sum(r["seconds"] for r in results)
    audio = sum(r["duration"] for r in results)
    return {
        "files": len(results),
        "long_vs_ref": total("long_vs_ref").as_dict(),
        "clips_vs_ref": total("clips_vs_ref").as_dict(),
        "long_vs_clips": total("long_vs_clips").as_dict(),
        "ref_words": sum(r["ref_words"] for r in results),
        "long_words": sum(r["long_words"] for r in results),
        "clip_words": sum(r["clip_words"] for r in results),
        "repeated_3grams_long": sum(r["repeated_3grams_long"] for r in results),
        "repeated_3grams_clips": sum(r["repeated_3grams_clips"] for r in results),
        "clips_lost": sum(r["clips_lost"] for r in results),
        "rtf": seconds / audio if audio else None,
    }
