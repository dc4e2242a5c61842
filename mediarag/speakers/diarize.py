"""Who spoke when: speaker turns of a recording, offline.

Each step is one function:

1. `mediarag.speakers.speech`: speech regions (Silero VAD, joined with the transcribed words).
2. `make_windows`: windows of ``window_s`` every ``step_s`` inside each region (a region
   shorter than a window but at least ``min_window_s`` is one window of its own length).
3. The speaker encoder embeds every window (`mediarag.speakers.encoders`).
4. `mediarag.speakers.clustering.cluster`: windows grouped into speakers.
5. `label_frames`: every 10 ms frame of speech takes the speaker whose centroid is most like
   the windows covering it (a Hann taper: a window's middle counts most); runs shorter than
   ``min_turn_s`` are absorbed by their neighbours.
6. `to_turns`: runs of one speaker become `Turn`\\ s, labelled ``SPEAKER_00``, ``SPEAKER_01``...
   in order of first appearance.

One speaker per frame: in overlapped speech only the dominant voice is kept (a word is never
dropped for it: `mediarag.speakers.assign`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .clustering import SpeakerCount, centroids, cluster
from .encoders import SpeakerEncoder
from .features import FRAME_SECONDS, HOP, SAMPLE_RATE
from .speech import Region, SpeechOptions, detect_speech, merge_regions, with_words


@dataclass(frozen=True)
class Turn:
    """One speaker talking from ``start`` to ``end`` (seconds)."""

    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class DiarizationConfig:
    """The knobs of `diarize`; `for_encoder` gives the measured defaults of each encoder
    (benchmarks/results/speakers.md).

    Attributes:
        threshold: cosine distance at which clustering stops merging (unknown speaker count).
        window_s, step_s, min_window_s: the embedded windows.
        min_cluster_s: a cluster with less speech than this is folded into its nearest one.
        min_turn_s: shorter runs of one speaker are absorbed by their neighbours.
        use_words: join the transcribed words' spans to the VAD's speech regions.
    """

    threshold: float = 0.62
    window_s: float = 2.0
    step_s: float = 0.5
    min_window_s: float = 0.5
    min_cluster_s: float = 2.0
    reassign_iterations: int = 2
    min_turn_s: float = 0.3
    use_words: bool = True
    speech: SpeechOptions = field(default_factory=SpeechOptions)

    @classmethod
    def for_encoder(cls, encoder: str, **changes: object) -> DiarizationConfig:
        """The measured defaults for ``encoder`` (``ecapa`` or ``ge2e``), with ``changes``."""
        base = {"ecapa": {}, "ge2e": {"threshold": 0.25}}.get(encoder, {})
        return cls(**{**base, **changes})  # type: ignore[arg-type]


@dataclass
class Voice:
    """One speaker found in a recording: the mean of its windows' embeddings (L2-normalised)
    and the seconds of speech its turns cover."""

    label: str
    centroid: np.ndarray
    seconds: float


@dataclass
class Diarization:
    """The turns of a recording and the voices they belong to (and, for inspection, the
    speech regions, windows and their embeddings)."""

    turns: list[Turn]
    voices: list[Voice]
    regions: list[Region] = field(default_factory=list)
    windows: list[Region] = field(default_factory=list)
    embeddings: np.ndarray | None = None

    @property
    def speakers(self) -> list[str]:
        """The labels, in order of first appearance."""
        return [v.label for v in self.voices]


@dataclass
class Embedded:
    """The front half of `diarize`: speech regions, windows and their embeddings."""

    n_frames: int
    regions: list[Region]
    windows: list[Region]
    embeddings: np.ndarray


def make_windows(regions: Sequence[Region], window_s: float, step_s: float, min_window_s: float) -> list[Region]:
    """Windows ``(start, end)`` inside each region (see the module docstring); the last one of a
    region ends at the region's end."""
    windows: list[Region] = []
    for start, end in regions:
        length = end - start
        if length < min_window_s:
            continue
        if length <= window_s:
            windows.append((start, end))
            continue
        count = int(np.ceil((length - window_s) / step_s)) + 1
        windows += [(float(s), float(s) + window_s) for s in np.linspace(start, end - window_s, count)]
    return windows


def embed_speech(
    samples: np.ndarray,
    encoder: SpeakerEncoder,
    config: DiarizationConfig = DiarizationConfig(),
    *,
    words: Sequence[Region] = (),
    regions: Sequence[Region] | None = None,
) -> Embedded:
    """Steps 1-3: speech regions (``regions`` when given, else found, joined with ``words``),
    windows, and their embeddings."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    n_frames = int(np.ceil(len(samples) / HOP))
    duration = len(samples) / SAMPLE_RATE
    if regions is not None:
        speech = merge_regions(regions)
    else:
        speech = detect_speech(samples, config.speech)
        if config.use_words and words:
            speech = with_words(speech, words, duration, config.speech)
    windows = make_windows(speech, config.window_s, config.step_s, config.min_window_s)
    embeddings = encoder.embed(samples, windows, speech)
    return Embedded(n_frames, speech, windows, embeddings)


def label_speakers(
    embedded: Embedded, config: DiarizationConfig = DiarizationConfig(), count: SpeakerCount = SpeakerCount()
) -> Diarization:
    """Steps 4-6: clustering, frame labels, turns and voices."""
    regions, windows, embeddings = embedded.regions, embedded.windows, embedded.embeddings
    if not windows:
        return Diarization([], [], list(regions), [], embeddings)
    spacing = np.array([min(e - s, config.step_s) for s, e in windows])
    labels = cluster(
        embeddings,
        threshold=config.threshold,
        count=count,
        durations=spacing,
        min_cluster_s=config.min_cluster_s,
        reassign_iterations=config.reassign_iterations,
    )
    means = centroids(embeddings, labels)
    scores, coverage = frame_scores(windows, embeddings @ means.T, embedded.n_frames)
    frames = label_frames(scores, coverage, speech_mask(regions, embedded.n_frames))
    frames = smooth_labels(frames, int(round(config.min_turn_s / FRAME_SECONDS)))
    turns, order = to_turns(frames)
    seconds = np.bincount(frames[frames >= 0], minlength=len(means)) * FRAME_SECONDS
    voices = [Voice(f"SPEAKER_{i:02d}", means[c].astype(np.float32), float(seconds[c])) for i, c in enumerate(order)]
    return Diarization(turns, voices, list(regions), list(windows), embeddings)


def diarize(
    samples: np.ndarray,
    encoder: SpeakerEncoder,
    config: DiarizationConfig = DiarizationConfig(),
    count: SpeakerCount = SpeakerCount(),
    *,
    words: Sequence[Region] = (),
    regions: Sequence[Region] | None = None,
) -> Diarization:
    """Speaker turns and voices of 16 kHz mono float32 ``samples``.

    ``words`` are the spans of transcribed words (joined to the detected speech);
    ``regions`` replaces speech detection. Silence gives no turns.
    """
    return label_speakers(embed_speech(samples, encoder, config, words=words, regions=regions), config, count)


def frame_scores(windows: Sequence[Region], window_scores: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame speaker scores: each window's similarity to every speaker, averaged over the
    windows covering a frame with a Hann taper. Returns ``(scores (n_frames, k), coverage)``."""
    k = window_scores.shape[1]
    total = np.zeros((n_frames, k))
    weight = np.zeros(n_frames)
    for (start, end), scores in zip(windows, window_scores):
        first = max(0, int(round(start / FRAME_SECONDS)))
        last = min(n_frames, int(round(end / FRAME_SECONDS)))
        if last <= first:
            continue
        taper = np.hanning(last - first + 2)[1:-1]
        total[first:last] += taper[:, None] * scores[None, :]
        weight[first:last] += taper
    covered = weight > 0
    total[covered] /= weight[covered, None]
    return total, weight


def speech_mask(regions: Sequence[Region], n_frames: int) -> np.ndarray:
    """True for frames inside a speech region."""
    mask = np.zeros(n_frames, dtype=bool)
    for start, end in regions:
        mask[max(0, int(round(start / FRAME_SECONDS))) : min(n_frames, int(round(end / FRAME_SECONDS)))] = True
    return mask


def label_frames(scores: np.ndarray, coverage: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """The best speaker of each speech frame (-1 outside speech); a speech frame no window
    covers takes the label of the nearest covered frame."""
    labels = np.full(len(speech), -1, dtype=int)
    covered = np.flatnonzero(coverage > 0)
    if not len(covered):
        return labels
    best = np.argmax(scores, axis=1)
    frames = np.arange(len(speech))
    after = covered[np.clip(np.searchsorted(covered, frames), 0, len(covered) - 1)]
    before = covered[np.clip(np.searchsorted(covered, frames) - 1, 0, len(covered) - 1)]
    nearest = np.where(np.abs(frames - before) <= np.abs(after - frames), before, after)
    labels[speech] = best[nearest[speech]]
    return labels


def smooth_labels(labels: np.ndarray, min_frames: int) -> np.ndarray:
    """Runs of one speaker shorter than ``min_frames`` inside speech are absorbed by the longer
    neighbouring run of speech, shortest first; silence is kept."""
    labels = labels.copy()
    if min_frames <= 1:
        return labels
    while True:
        runs = _runs(labels)
        short = [
            (length, i)
            for i, (value, _, length) in enumerate(runs)
            if value >= 0 and length < min_frames and _speech_neighbour(runs, i) is not None
        ]
        if not short:
            return labels
        _, i = min(short)
        _, start, length = runs[i]
        labels[start : start + length] = runs[_speech_neighbour(runs, i)][0]  # type: ignore[index]


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """``(value, start, length)`` of each run of equal labels."""
    if len(labels) == 0:
        return []
    starts = np.concatenate([[0], np.flatnonzero(np.diff(labels)) + 1])
    lengths = np.diff(np.concatenate([starts, [len(labels)]]))
    return [(int(labels[s]), int(s), int(n)) for s, n in zip(starts, lengths)]


def _speech_neighbour(runs: list[tuple[int, int, int]], i: int) -> int | None:
    """The longer adjacent run of speech, if any."""
    options = [j for j in (i - 1, i + 1) if 0 <= j < len(runs) and runs[j][0] >= 0]
    return max(options, key=lambda j: runs[j][2]) if options else None


def to_turns(labels: np.ndarray) -> tuple[list[Turn], list[int]]:
    """Runs of one speaker as turns named ``SPEAKER_00``... by first appearance, and the
    cluster of each name in that order."""
    names: dict[int, str] = {}
    turns = []
    for value, start, length in _runs(labels):
        if value < 0:
            continue
        name = names.setdefault(value, f"SPEAKER_{len(names):02d}")
        turns.append(Turn(round(start * FRAME_SECONDS, 3), round((start + length) * FRAME_SECONDS, 3), name))
    return turns, list(names)
