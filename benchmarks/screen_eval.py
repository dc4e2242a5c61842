"""Scoring the screen-text stage against the videos' ground truth (benchmarks/screen_videos.py).

- **CER** per drawn element: the line spans whose centre lies in the element's box (padded by
  6 px or half its font size) are its reading; a multi-line element reads the spans on screen
  at its mid-time, top to bottom; a one-line element the best of the spans overlapping its time
  (console lines scroll, keeping the box they first appeared in). Texts are compared after
  `mediarag.screen.text.normalize` (NFKC, typographic quotes and dashes as ASCII, whitespace
  collapsed; case and accents kept); errors are capped at the element's length and weighted by
  characters over a group (size, font, polarity, language, video).
- **Span time**: the start of an element's reading minus the second it is fully on screen.
- **Answers on screen**: whether a question's answer string is inside the block spans that
  overlap its slide.
- **False text**: characters kept on video without text (Big Buck Bunny before its title at 23 s;
  on ffmpeg's testsrc2, anything but its time code).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.stats import bootstrap_ci, percentile
from core.wer import edit_distance

#: Text sizes (720p-equivalent pixels) the CER is reported by.
SIZE_GROUPS = ("small 12-16 px", "body 24-36 px", "large 40-64 px")


def normalize(text: str) -> str:
    from mediarag.screen.text import normalize as screen_normalize

    return screen_normalize(text)


def cer(hypothesis: str, reference: str) -> float:
    """Character edit distance over the reference's length."""
    return edit_distance(list(reference), list(hypothesis)) / max(1, len(reference))


def size_group(px720: float) -> str:
    return SIZE_GROUPS[0] if px720 < 20 else (SIZE_GROUPS[1] if px720 < 40 else SIZE_GROUPS[2])


def load_truth(path: Path) -> dict[str, Any]:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


def _inside(point: tuple[float, float], box: Sequence[float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def _reading_of(element: dict[str, Any], spans: Sequence[Any]) -> list[Any]:
    pad = max(6.0, 0.5 * element["size_px"])
    x0, y0, x1, y1 = element["box"]
    box = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    placed = [s for s in spans if _inside(((s.box[0] + s.box[2]) / 2, (s.box[1] + s.box[3]) / 2), box)]
    if len(element["lines"]) > 1:
        middle = (element["start"] + element["end"]) / 2
        return sorted((s for s in placed if s.start <= middle < s.end), key=lambda s: (s.box[1], s.box[0]))
    reference = normalize(element["lines"][0])
    live = [s for s in placed if s.start < element["end"] and s.end > element["start"]]
    return [min(live, key=lambda s: cer(normalize(s.text), reference))] if live else []


def score_video(truth: dict[str, Any], spans: Any) -> dict[str, Any]:
    """Element rows (CER, start and end errors) and question rows for one video's `SpanSet`."""
    rows = []
    for element in truth["elements"]:
        found = _reading_of(element, spans.lines)
        hypothesis, reference = " ".join(s.text for s in found), " ".join(element["lines"])
        row = {
            "video": truth["video"], "id": element["id"], "kind": element["kind"],
            "font": element["font"].split("-")[0], "size": size_group(element["size_px"] * 720 / truth["height"]),
            "polarity": element["polarity"], "language": truth["language"], "chars": len(normalize(reference)),
            "cer": min(1.0, cer(normalize(hypothesis), normalize(reference))), "found": bool(found),
            "hypothesis": hypothesis, "reference": reference,
        }  # fmt: skip
        if found:
            row["start_error"] = min(s.start for s in found) - element["start"]
            row["end_error"] = max(s.end for s in found) - element["end"]
        rows.append(row)
    questions = []
    for q in truth["questions"]:
        shown = " ".join(s.text for s in spans.blocks if s.start < q["end"] and s.end > q["start"])
        questions.append({"video": truth["video"], "id": q["id"], "answer": q["answer"],
                          "found": normalize(q["answer"]).lower() in normalize(shown).lower()})  # fmt: skip
    return {"elements": rows, "questions": questions}


def weighted_cer(rows: Iterable[dict[str, Any]]) -> float:
    """Character-weighted CER of element rows (each capped at 1)."""
    rows = list(rows)
    total = sum(r["chars"] for r in rows)
    return sum(r["cer"] * r["chars"] for r in rows) / total if total else float("nan")


def cer_interval(rows: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """95 % bootstrap interval of the weighted CER, elements resampled."""
    if not rows:
        return (float("nan"), float("nan"))
    chars = np.array([r["chars"] for r in rows], dtype=np.float64)
    errors = np.array([r["cer"] * r["chars"] for r in rows], dtype=np.float64)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(rows), size=(2000, len(rows)))
    ratios = errors[idx].sum(axis=1) / np.maximum(chars[idx].sum(axis=1), 1)
    return float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))


def cer_groups(rows: Sequence[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Weighted CER (with its interval) per value of ``key``."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    order = SIZE_GROUPS if key == "size" else sorted(groups)
    out = []
    for name in order:
        if name in groups:
            lo, hi = cer_interval(groups[name])
            out.append({"group": name, "elements": len(groups[name]), "chars": sum(r["chars"] for r in groups[name]),
                        "cer": weighted_cer(groups[name]), "lo": lo, "hi": hi})  # fmt: skip
    return out


def timing(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Span start and end errors: median, p90, max of |error|, share within 2 s (interval)."""
    starts = [abs(r["start_error"]) for r in rows if "start_error" in r]
    ends = [abs(r["end_error"]) for r in rows if "end_error" in r]
    within = np.array([s <= 2.0 for s in starts], dtype=np.float64)
    lo, hi = bootstrap_ci(within)
    return {
        "elements": len(rows), "not_found": sum(not r["found"] for r in rows),
        "start_p50": percentile(starts, 50) if starts else float("nan"),
        "start_p90": percentile(starts, 90) if starts else float("nan"),
        "start_max": max(starts) if starts else float("nan"),
        "within_2s": float(within.mean()) if len(within) else float("nan"), "within_2s_lo": lo, "within_2s_hi": hi,
        "end_p50": percentile(ends, 50) if ends else float("nan"), "end_p90": percentile(ends, 90) if ends else float("nan"),
        "worst": sorted(({"video": r["video"], "id": r["id"], "start_error": r["start_error"]} for r in rows if "start_error" in r),
                        key=lambda r: -abs(r["start_error"]))[:5],
    }  # fmt: skip


def false_text(name: str, readings: Sequence[Any], box_filter: Any) -> dict[str, Any]:
    """Characters kept on video that shows no text (see the module docstring)."""
    false = true = 0
    examples = []
    for reading in readings:
        for box in reading.boxes:
            if not box_filter.keep(box):
                continue
            wrong = reading.time < 20.0 if name.startswith("big_buck") else re.fullmatch(r"[\d:.\s]+", box.text) is None
            if wrong:
                false += len(box.text)
                examples.append(f"{reading.time:.1f} s {box.text!r} ({box.score:.2f})")
            else:
                true += len(box.text)
    return {"video": name, "reads": len(readings), "false_chars": false, "timecode_chars": true, "examples": examples[:5]}


def words_and_names(text: str) -> list[tuple[str, bool]]:
    """The words of a text as written (punctuation dropped) and whether each is a name:
    capitalised and not the first word of its sentence ("I" is no name)."""
    out = []
    first = True
    for raw in text.split():
        word = re.sub(r"[^\w'’-]", "", raw).strip("'’-")
        if word:
            is_name = not first and word[0].isupper() and word != "I"
            out += [(part, is_name) for part in re.findall(r"\w+(?:['’]\w+)?", word)]
        first = raw.endswith((".", "?", "!"))
    return out


def name_tokens(text: str) -> list[tuple[str, bool]]:
    """`words_and_names`, lower-cased (for alignment)."""
    return [(word.lower(), is_name) for word, is_name in words_and_names(text)]


def name_outcomes(reference: str, hypothesis: str) -> list[bool]:
    """For each name word of ``reference`` in order, whether the hypothesis has it exactly
    (words aligned by edit distance)."""
    from core.wer import align

    ref = name_tokens(reference)
    hyp = [w for w, _ in name_tokens(hypothesis)]
    outcomes, position = [], 0
    for op, ref_word, _ in align([w for w, _ in ref], hyp):
        if ref_word is None:
            continue
        if ref[position][1]:
            outcomes.append(op == "=")
        position += 1
    return outcomes


def name_errors(reference: str, hypothesis: str) -> dict[str, int]:
    """Name words of ``reference`` that the hypothesis gets wrong (aligned by edit distance),
    and all words' edits."""
    from core.wer import align

    ref = name_tokens(reference)
    hyp = [w for w, _ in name_tokens(hypothesis)]
    errors = sum(op != "=" for op, _, _ in align([w for w, _ in ref], hyp))
    outcomes = name_outcomes(reference, hypothesis)
    return {"names": len(outcomes), "names_wrong": outcomes.count(False), "words": len(ref), "word_errors": errors}
