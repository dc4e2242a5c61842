"""Voice activity detection: where the speech is, with the Silero VAD that faster-whisper ships."""

from __future__ import annotations

from dataclasses import dataclass

from ..media import Audio


@dataclass(frozen=True)
class VadOptions:
    """How speech regions are found.

    Attributes:
        max_region_seconds: a longer region is cut at its quietest moment.
        min_silence_ms: a pause at least this long ends a region.
        block_seconds: audio is scanned in blocks this long (Silero pads and copies what it is
            given: about 0.7 GB for an hour at once).
    """

    max_region_seconds: float = 30.0
    min_silence_ms: int = 160
    block_seconds: float = 600.0


def speech_regions(audio: Audio, options: VadOptions | None = None) -> list[tuple[float, float]]:
    """Speech regions ``(start, end)`` in seconds, in order."""
    from faster_whisper.vad import VadOptions as SileroOptions
    from faster_whisper.vad import get_speech_timestamps

    options = options or VadOptions()
    silero = SileroOptions(max_speech_duration_s=options.max_region_seconds, min_silence_duration_ms=options.min_silence_ms)
    rate = audio.sample_rate
    regions: list[tuple[float, float]] = []
    block = int(options.block_seconds * rate)
    for first in range(0, len(audio.samples), block):
        piece = audio.samples[first : first + block]
        regions += [
            ((first + r["start"]) / rate, (first + r["end"]) / rate)
            for r in get_speech_timestamps(piece, silero, sampling_rate=rate)
        ]
    return regions


def pack_regions(regions: list[tuple[float, float]], limit: float) -> list[tuple[float, float]]:
    """Join consecutive speech regions into spans no longer than ``limit`` seconds."""
    spans: list[tuple[float, float]] = []
    for start, end in regions:
        if spans and end - spans[-1][0] <= limit:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans
