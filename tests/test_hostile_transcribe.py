"""Whisper on a real meeting (tests/data/ami_dev01.flac: 30 s of AMI, speakers talking over each
other): no text twice, no sentence without length, times in order. tiny.en, as the probe ran."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediarag.media import decode_audio
from mediarag.schema import Segment, Word
from mediarag.sentences import give_length, merge_sentences

MEETING = "ami_dev01.flac"


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def shared(a: str, b: str) -> float:
    """The fraction of the shorter text's words that the other one also has."""
    x, y = Counter(words_of(a)), Counter(words_of(b))
    return sum((x & y).values()) / max(min(sum(x.values()), sum(y.values())), 1)


def check_sentences(sentences: list[dict] | list[Segment]) -> None:
    rows = [s if isinstance(s, dict) else s.model_dump() for s in sentences]
    assert rows, "nothing transcribed"
    for row in rows:
        assert row["end"] > row["start"], f"a sentence with no length: {row['start']}-{row['end']} {row['text']!r}"
        starts = [w["start"] for w in row.get("words", ())]
        assert starts == sorted(starts) and all(w["end"] > w["start"] for w in row.get("words", ())), row
    starts = [row["start"] for row in rows]
    assert starts == sorted(starts), "sentence times go back"
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            if min(a["end"], b["end"]) - max(a["start"], b["start"]) > 0.05:  # overlapping in time
                assert shared(a["text"], b["text"]) <= 0.5, f"said twice: {a['text']!r} / {b['text']!r}"


def test_cli_transcript_of_a_meeting_has_no_sentence_without_length(data_dir):
    env = {**os.environ, "MEDIARAG_PROGRESS": "0", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mediarag.cli", "transcribe", str(data_dir / MEETING), "--model", "tiny.en",
         "--format", "json"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    transcript = json.loads(result.stdout)
    check_sentences(transcript["segments"])
    assert all(s["end"] <= transcript["duration"] for s in transcript["segments"])
    assert "desktop" in " ".join(s["text"] for s in transcript["segments"]).lower()


def test_words_of_a_meeting_all_have_length(data_dir, tiny_en):
    audio = decode_audio(data_dir / MEETING)
    transcript = tiny_en.transcribe(audio)
    words = [w for seg in transcript.segments for w in seg.words]
    assert words and all(w.end > w.start for w in words)
    assert all(w.end <= audio.duration for w in words)
    check_sentences(merge_sentences(transcript.segments, duration=audio.duration))


def rebuilt(words: list[Word]) -> Segment:
    return Segment(
        start=words[0].start, end=max(w.end for w in words), text="".join(w.text for w in words).strip(),
        language="en", words=tuple(words),
    )  # fmt: skip


@pytest.mark.parametrize(
    "broken",
    [
        "squeezed inside the region",  # all the region's words at one instant inside it
        "squeezed after the region",  # ... at one instant in the next region (19.67 s, as the probe saw)
        "left out but its first word",  # that one at its own time
    ],
)
def test_a_region_redecoded_does_not_say_its_text_twice(data_dir, tiny_en, broken):
    # The real first pass over the meeting, then the way it broke on the probe's machine: the
    # words of one speech region emitted with wrong times, so the region looks skipped and is
    # decoded again on its own.
    audio = decode_audio(data_dir / MEETING)
    windows = tiny_en._windows(audio)
    first = tiny_en._decode(audio, windows.regions, windows.spans, "en", "transcribe", None)
    region = next((a, b) for a, b in windows.regions if a < 16.0 < b)  # "Oh, actually, just there..."
    words = [w for seg in first for w in seg.words]
    inside = [w for w in words if region[0] <= w.start < region[1]]
    assert len(inside) >= 5 and "actually" in words_of("".join(w.text for w in inside))
    before = [w for w in words if w.start < region[0]]
    after = [w for w in words if w.start >= region[1]]
    if broken == "left out but its first word":
        pieces = [before, inside[:1], after]
    else:
        instant = (region[0] + region[1]) / 2 if broken == "squeezed inside the region" else 19.67
        squeezed = [w.model_copy(update={"start": instant, "end": instant}) for w in inside]
        pieces = [before, after, squeezed]
    first_broken = [rebuilt(p) for p in pieces if p]
    from mediarag.transcribe.faster_whisper import _uncovered

    assert region in _uncovered(windows.regions, first_broken)  # so it is decoded again

    segments = sorted(tiny_en._fill_gaps(audio, windows, first_broken, "en", "transcribe"), key=lambda s: s.start)
    text = " ".join(s.text for s in segments)
    assert len(re.findall(r"\bactually\b", text.lower())) == 1, text  # said once
    assert text.lower().count("oh") == 1, text
    sentences = merge_sentences(segments, duration=audio.duration)
    check_sentences(sentences)
    [said] = [s for s in sentences if "actually" in words_of(s.text)]
    assert region[0] - 0.5 <= said.start < region[1], said  # at its own time, not the squeezed one


def test_give_length_spreads_words_piled_on_one_instant():
    # Three words at 5.0 with no length before a word at 5.5: they share 5.0-5.5.
    spans = give_length([(4.0, 5.0), (5.0, 5.0), (5.0, 5.0), (5.0, 5.0), (5.5, 6.0)], ["a", "bb", "cc", "dd", "e"])
    assert spans[0] == (4.0, 5.0) and spans[-1] == (5.5, 6.0)
    assert all(b > a for a, b in spans) and spans[3][1] <= 5.5
    # At the end of the file, they take the time before it; at its very start, the time after.
    end = give_length([(1.0, 2.0), (3.0, 3.0), (3.0, 3.0)], ["x", "yeah", "okay"], limit=3.0)
    assert end[0] == (1.0, 2.0) and 2.0 <= end[1][0] < end[1][1] <= end[2][0] < end[2][1] == 3.0
    start = give_length([(0.0, 0.0), (0.0, 1.0)], ["oh", "well"], limit=1.0)
    assert 0.0 == start[0][0] < start[0][1] <= start[1][0] < start[1][1] == 1.0


@st.composite
def squeezed_fragments(draw):
    """Fragments with word timestamps in order, many of them piled, with no length, on a few
    instants (as Whisper does), and the audio's duration: where the last word ends or later,
    and not 0."""
    t, out = 0.0, []
    for _ in range(draw(st.integers(1, 6))):
        words = []
        for _ in range(draw(st.integers(1, 8))):
            t += draw(st.sampled_from([0.0, 0.0, 0.0, 0.05, 0.3, 1.0]))
            length = draw(st.sampled_from([0.0, 0.0, 0.2, 0.5]))
            words.append(Word(start=t, end=t + length, text=draw(st.sampled_from(["yeah.", "so", "okay.", "we"]))))
            t += length
        out.append(
            Segment(start=words[0].start, end=words[-1].end, text=" ".join(w.text for w in words), words=tuple(words))
        )
    return out, (t + draw(st.sampled_from([0.0, 0.0, 0.5]))) or 0.5  # some audio, at least


@settings(max_examples=300, deadline=None)
@given(squeezed_fragments())
def test_sentences_with_words_always_last_and_keep_their_order(case):
    fragments, duration = case
    sentences = merge_sentences(fragments, duration=duration)
    assert [w.text for s in sentences for w in s.words] == [w.text for f in fragments for w in f.words]
    for s in sentences:
        assert 0.0 <= s.start < s.end <= duration + 1e-9, s
        assert [w.start for w in s.words] == sorted(w.start for w in s.words)
        assert all(w.end > w.start for w in s.words), s
    for a, b in zip(sentences, sentences[1:]):
        assert a.start <= b.start and a.end <= b.start + 1e-9  # in order, not overlapping
