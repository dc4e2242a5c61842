"""Where the speech is, for diarization: Silero VAD (shipped in faster-whisper) with finer
settings than transcription uses, joined with the spans of the words Whisper heard.

Transcription's VAD (threshold 0.5, 400 ms of padding) is tuned to give Whisper whole
utterances; diarization needs the edges of each voice, so it uses a lower threshold, short
pauses and little padding. Far-field meeting audio defeats any fixed threshold (Silero's
probability stays under 0.5 for whole AMI excerpts), so the words the transcriber found are
added as speech too: a word Whisper heard was spoken, whatever the VAD thought.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .features import SAMPLE_RATE

Region = tuple[float, float]


@dataclass(frozen=True)
class SpeechOptions:
    """How speech regions are found for diarization.

    Attributes:
        threshold: Silero's speech probability above which a frame is speech.
        min_silence_ms: a pause at least this long ends a region.
        speech_pad_ms: added to each side of a region.
        min_speech_ms: shorter regions are dropped.
        word_pad_s: added to each side of a transcribed word's span before it joins the regions.
        max_word_s: a word span longer than this is not trusted (Whisper stretches words over
            pauses at the edges of its windows).
        block_s: the VAD runs on blocks this long (bounded memory).
    """

    threshold: float = 0.35
    min_silence_ms: int = 100
    speech_pad_ms: int = 100
    min_speech_ms: int = 100
    word_pad_s: float = 0.05
    max_word_s: float = 2.0
    block_s: float = 600.0


def detect_speech(samples: np.ndarray, options: SpeechOptions = SpeechOptions()) -> list[Region]:
    """Speech regions ``(start, end)`` in seconds found by Silero VAD, sorted and disjoint."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    silero = VadOptions(
        threshold=options.threshold,
        min_silence_duration_ms=options.min_silence_ms,
        speech_pad_ms=options.speech_pad_ms,
        min_speech_duration_ms=options.min_speech_ms,
    )
    regions: list[Region] = []
    block = int(options.block_s * SAMPLE_RATE)
    for first in range(0, len(samples), block):
        piece = samples[first : first + block]
        for r in get_speech_timestamps(piece, silero, sampling_rate=SAMPLE_RATE):
            regions.append(((first + r["start"]) / SAMPLE_RATE, (first + r["end"]) / SAMPLE_RATE))
    return merge_regions(regions)


def merge_regions(regions: Iterable[Region], gap: float = 0.0) -> list[Region]:
    """Sorted regions with overlapping ones (or ones closer than ``gap``) joined; empty ones dropped."""
    merged: list[list[float]] = []
    for start, end in sorted(regions):
        if end <= start:
            continue
        if merged and start <= merged[-1][1] + gap:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def with_words(
    regions: Sequence[Region], words: Iterable[Region], duration: float, options: SpeechOptions = SpeechOptions()
) -> list[Region]:
    """``regions`` joined with the (padded) spans of transcribed words, within ``[0, duration]``."""
    spans = [
        (max(0.0, a - options.word_pad_s), min(duration, b + options.word_pad_s))
        for a, b in words
        if 0 < b - a <= options.max_word_s
    ]
    return merge_regions([*regions, *spans])
