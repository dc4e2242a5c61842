"""Voice activity detection: where the speech is, with the Silero VAD that faster-whisper ships."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

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


def pack_regions(
    regions: list[tuple[float, float]], limit: float, max_gap: float | None = None
) -> list[tuple[float, float]]:
    """Join consecutive speech regions into spans no longer than ``limit`` seconds; with
    ``max_gap``, a pause longer than that also starts a new span."""
    spans: list[tuple[float, float]] = []
    for start, end in regions:
        close = max_gap is None or (bool(spans) and start - spans[-1][1] <= max_gap)
        if spans and close and end - spans[-1][0] <= limit:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


#: Loudness each speech region is raised to before decoding (RMS of float samples in [-1, 1]).
TARGET_RMS = 0.05
#: The most a region is amplified.
MAX_GAIN = 100.0


def level_speech(samples: np.ndarray, regions: list[tuple[float, float]], sample_rate: int) -> None:
    """Amplify, in place, each speech region (times relative to ``samples``) quieter than
    `TARGET_RMS` towards it, at most `MAX_GAIN` times.

    Whisper clamps its log-mel input to 80 dB below the loudest sound of each 30 s window, so a
    quiet speaker next to a loud one is dropped whole; raising quiet regions keeps them.
    """
    for start, end in regions:
        a, b = int(start * sample_rate), int(end * sample_rate)
        if b <= a:
            continue
        rms = float(np.sqrt(np.mean(np.square(samples[a:b], dtype=np.float64))))
        if 0.0 < rms < TARGET_RMS:
            gain = min(TARGET_RMS / rms, MAX_GAIN)
            np.clip(samples[a:b] * gain, -1.0, 1.0, out=samples[a:b])


class RegionCache:
    """Speech regions computed ahead of transcription (on a CPU worker, while the GPU decodes
    another file) and handed to the transcriber with the same audio.

    Entries are keyed by the audio's sample buffer and hold only a weak reference to it, so a
    buffer that is gone can never lend its regions to a new one at the same address.
    """

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self._entries: dict[int, tuple[weakref.ref[np.ndarray], list[tuple[float, float]]]] = {}
        self._lock = threading.Lock()

    def put(self, audio: Audio, regions: list[tuple[float, float]]) -> None:
        """Remember ``regions`` for ``audio`` (the oldest entry goes past ``limit``)."""
        with self._lock:
            self._entries[id(audio.samples)] = (weakref.ref(audio.samples), regions)
            while len(self._entries) > self.limit:
                self._entries.pop(next(iter(self._entries)))

    def pop(self, audio: Audio) -> list[tuple[float, float]] | None:
        """The regions remembered for ``audio`` (forgotten now), or None."""
        with self._lock:
            entry = self._entries.pop(id(audio.samples), None)
        if entry is None or entry[0]() is not audio.samples:
            return None
        return entry[1]
