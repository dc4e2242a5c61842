"""Whisper through faster-whisper (CTranslate2): the default transcriber.

How a file is transcribed:

1. Silero VAD (shipped in faster-whisper's wheel) finds the speech regions.
2. Each region's loudness is evened out. Whisper clamps its log-mel input to 80 dB below the
   loudest sound of each 30 s window, so a quiet speaker next to a loud one was dropped whole
   (seen on real recordings: 6 of 10 sentences lost). Raising quiet regions keeps them.
3. Regions are packed into windows of at most 30 s, cut at pauses, and decoded independently in
   batches (faster-whisper's ``BatchedInferencePipeline``), so one bad window cannot make Whisper
   skip the rest of the file.
4. Without a given language, each window's language is detected from its encoder output at no
   extra encoder cost, so a file that switches language part-way is decoded in each language.
5. Word timestamps give sentence boundaries their times.
6. Hints (a user vocabulary, names read on screen near each stretch of speech;
   `mediarag.transcribe.hints`) go to Whisper as ``hotwords``. With timed hints, windows are
   decoded a batch at a time so that each batch gets the words shown around it.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._heap import return_large_buffers
from ..errors import ConfigError, ModelError
from ..media import Audio
from ..schema import Segment, Task, Transcript, Word
from ..weights import resolve_whisper
from .base import ProgressCallback
from .hints import Hint, as_hints, timed, words_near
from .languages import check_whisper_language, main_language
from .timing import TimedPiece, timed_segments, with_word_lengths
from .vad import VadOptions, level_speech, pack_regions, speech_regions

WINDOW_SECONDS = 30.0
#: Length of the blocks voice activity detection runs on.
VAD_BLOCK_SECONDS = 600.0
#: Windows the encoder takes at once on a CPU (decoding still takes ``batch_size``). Its
#: self-attention holds heads x 1500 x 1500 floats per window: a batch of 8 took 520 MB more
#: than one window with tiny.en (benchmarks/results/long-file.md), and the encoder's output is
#: the same, bit for bit, however the windows are grouped. A GPU encodes the whole batch.
CPU_ENCODE_BATCH = 1


class FasterWhisperTranscriber:
    """Transcribes with faster-whisper.

    Args:
        model: ``base`` (packaged multilingual, the default), ``tiny.en`` (packaged, English only),
            a directory holding a CTranslate2 Whisper model, or a hub name such as
            ``Systran/faster-whisper-small`` (needs a network the first time).
        device: ``cpu``, ``cuda`` or ``auto``.
        compute_type: CTranslate2 compute type; ``int8`` is fastest on CPU.
        beam_size: beam width; 1 is greedy decoding.
        batch_size: windows decoded together.
        vad: skip non-speech with Silero VAD. Without it the file is cut into plain 30 s windows.
        word_timestamps: compute per-word times (used for sentence times).
        cpu_threads: CTranslate2 threads; 0 lets it choose.
        vocabulary: terms (product names, jargon) given to Whisper as hotwords for every file.
    """

    def __init__(
        self,
        model: str = "base",
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        beam_size: int = 5,
        batch_size: int = 8,
        vad: bool = True,
        word_timestamps: bool = True,
        cpu_threads: int = 0,
        vocabulary: Sequence[str] = (),
    ) -> None:
        if beam_size < 1:
            raise ConfigError(f"beam_size must be at least 1, got {beam_size}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.model_name = model
        self.device = device
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.batch_size = batch_size
        self.vad = vad
        self.word_timestamps = word_timestamps
        self.cpu_threads = cpu_threads
        self.vocabulary = tuple(vocabulary)
        self._model: Any = None
        self._pipeline: Any = None

    @property
    def multilingual(self) -> bool:
        self.warm_up()
        return bool(self._model.model.is_multilingual)

    def check_language(self, language: str | None) -> None:
        """`ConfigError` for a language Whisper does not know (checked before any audio is read;
        an English-only model refuses other languages when it transcribes)."""
        check_whisper_language(language)

    def warm_up(self) -> None:
        if self._model is not None:
            return
        path = resolve_whisper(self.model_name)
        try:
            self._model = _window_encoding_model_class()(
                path, device=self.device, compute_type=self.compute_type, cpu_threads=self.cpu_threads
            )
        except Exception as exc:  # noqa: BLE001 - any loading failure becomes one clear error
            raise ModelError(f"cannot load Whisper model '{self.model_name}' ({path}): {exc}") from exc
        self._pipeline = _tracking_pipeline_class()(self._model)

    def transcribe(
        self,
        audio: Audio,
        *,
        language: str | None = None,
        task: Task = "transcribe",
        progress: ProgressCallback | None = None,
        hints: Sequence[str | Hint] = (),
    ) -> Transcript:
        """Transcribe ``audio`` (module docstring); ``hints``: words the speech may contain,
        for the whole file or for the time they are on screen (`mediarag.transcribe.hints`)."""
        self.warm_up()
        return_large_buffers()
        if task not in ("transcribe", "translate"):
            raise ConfigError(f"task must be 'transcribe' or 'translate', got {task!r}")
        multilingual = bool(self._model.model.is_multilingual)
        if not multilingual:
            if task == "translate":
                raise ConfigError(f"model '{self.model_name}' is English-only and cannot translate")
            if language not in (None, "en"):
                raise ConfigError(f"model '{self.model_name}' is English-only; got language={language!r}")
            language = "en"
        else:
            self.check_language(language)

        windows = self._windows(audio)
        duration = audio.duration
        if not windows:
            if progress:
                progress(duration)
            return Transcript(
                source=audio.source, language=language or "und", duration=duration, task=task
            )
        given = as_hints([*self.vocabulary, *hints])
        try:
            segments = self._decode(audio, windows.regions, windows.spans, language, task, progress, given)
            segments = self._fill_gaps(audio, windows, segments, language, task, given)
        except Exception as exc:  # noqa: BLE001 - CTranslate2 raises plain RuntimeErrors
            raise ModelError(f"{audio.source}: transcription failed: {exc}") from exc
        if progress:
            progress(duration)
        segments = [with_word_lengths(seg, duration) for seg in segments]
        segments.sort(key=lambda s: (s.start, s.end))
        return Transcript(
            source=audio.source,
            language=language or main_language(segments),
            duration=duration,
            segments=segments,
            task=task,
        )

    def _fill_gaps(
        self,
        audio: Audio,
        windows: _Windows,
        segments: list[Segment],
        language: str | None,
        task: Task,
        hints: Sequence[Hint] = (),
    ) -> list[Segment]:
        """The first pass's segments, plus those of the speech regions it skipped (another
        language in the same window, a stretch Whisper jumped over), decoded again on their own.

        A region can look skipped while its words were emitted with wrong times (squeezed onto
        one instant, seen on AMI meetings): text decoded twice is kept once (`_once`).
        """
        missed = _uncovered(windows.regions, segments)
        if not missed:
            return segments
        spans = pack_regions(missed, WINDOW_SECONDS)
        again = self._decode(audio, windows.regions, spans, language, task, None, hints)
        return _once(segments, again, windows.spans)

    def _decode(
        self,
        audio: Audio,
        regions: list[tuple[float, float]],
        spans: list[tuple[float, float]],
        language: str | None,
        task: Task,
        progress: ProgressCallback | None,
        hints: Sequence[Hint] = (),
    ) -> list[Segment]:
        """Decode windows, a few batches at a time so memory stays flat on long files (one
        batch at a time with timed hints, each with the hint words near it)."""
        segments: list[Segment] = []
        group = self.batch_size if timed(hints) else 4 * self.batch_size
        for first in range(0, len(spans), group):
            batch = spans[first : first + group]
            offset, stop = batch[0][0], batch[-1][1]
            piece = audio.slice(offset, stop).copy()
            inside = [(max(a, offset) - offset, min(b, stop) - offset) for a, b in regions if b > offset and a < stop]
            level_speech(piece, inside, audio.sample_rate)
            local = [(a - offset, b - offset) for a, b in batch]
            hotwords = " ".join(words_near(hints, offset, stop)) or None
            segments += self._decode_piece(piece, local, offset, language, task, audio.duration, progress, hotwords)
        return segments

    def _decode_piece(
        self,
        samples: np.ndarray,
        spans: list[tuple[float, float]],
        offset: float,
        language: str | None,
        task: Task,
        duration: float,
        progress: ProgressCallback | None,
        hotwords: str | None = None,
    ) -> list[Segment]:
        pipeline = self._pipeline
        pipeline.chunk_languages = {}
        segments: list[Segment] = []
        raw_segments, _info = pipeline.transcribe(
            samples,
            language=language or "en",  # with multilingual=True each window's own is used
            multilingual=language is None,
            task=task,
            beam_size=self.beam_size,
            batch_size=self.batch_size,
            word_timestamps=self.word_timestamps,
            vad_filter=False,
            clip_timestamps=[{"start": a, "end": b} for a, b in spans],
            hotwords=hotwords,
        )
        for raw in raw_segments:
            if progress:
                progress(min(offset + float(raw.end), duration))
            if _is_hallucination(raw):
                continue
            spoken = language or pipeline.language_at(raw.seek)
            segment = _to_segment(raw, spoken, offset, duration)
            if segment is not None:
                segments.append(segment)
        return segments

    def _windows(self, audio: Audio) -> _Windows:
        if not self.vad:
            step = WINDOW_SECONDS
            spans = [
                (t, min(t + step, audio.duration)) for t in np.arange(0.0, audio.duration, step)
            ]
            return _Windows(regions=[], spans=[(float(s), float(e)) for s, e in spans])
        regions = speech_regions(audio, VadOptions(max_region_seconds=WINDOW_SECONDS, block_seconds=VAD_BLOCK_SECONDS))
        return _Windows(regions=regions, spans=pack_regions(regions, WINDOW_SECONDS))


class _Windows:
    def __init__(self, regions: list[tuple[float, float]], spans: list[tuple[float, float]]):
        self.regions = regions
        self.spans = spans

    def __bool__(self) -> bool:
        return bool(self.spans)


def _is_hallucination(raw: Any) -> bool:
    """Whisper's own rules for text made up over silence or noise, and for looping output."""
    silent = raw.no_speech_prob > 0.6 and raw.avg_logprob < -1.0
    looping = raw.compression_ratio > 2.4
    return bool(silent or looping)


def _uncovered(
    regions: list[tuple[float, float]], segments: list[Segment], min_seconds: float = 1.0
) -> list[tuple[float, float]]:
    """Speech regions of at least ``min_seconds`` that no transcribed segment covers (< 20 %)."""
    missed = []
    for start, end in regions:
        length = end - start
        if length < min_seconds:
            continue
        covered = sum(max(0.0, min(end, s.end) - max(start, s.start)) for s in segments)
        if covered < 0.2 * length:
            missed.append((start, end))
    return missed


#: Seconds around a re-decoded segment where the first pass's words may be the same speech.
NEAR_SECONDS = 1.0
#: A re-decoded word and the same word of the first pass closer than this (or overlapping)
#: are one word heard twice.
SAME_WORD_SECONDS = 0.1
#: Words shorter than this, two or more at one instant, were squeezed there by Whisper.
SQUEEZED_SECONDS = 0.02
_TOKEN = re.compile(r"\w+", re.UNICODE)


def _once(first: list[Segment], again: list[Segment], windows: list[tuple[float, float]]) -> list[Segment]:
    """The first pass's segments and the re-decoded ones, with no text there twice.

    A region looks skipped when the first pass emitted its words at the wrong time: squeezed,
    with no length, onto one instant (seen on AMI meetings, three sentences at 19.67 s). Words of
    the first pass squeezed so, in the same window, that the re-decode says again are dropped:
    the re-decode has their times. Then a re-decoded word that the first pass says at the same
    time (their spans overlap, or nearly: at the region's edges) is the same speech heard twice
    and is dropped. The same words said at another time stay. Without word timestamps, a
    re-decoded segment whose words mostly repeat a first-pass segment near it is dropped.
    """
    old = sorted(
        ((i, k, w) for i, seg in enumerate(first) for k, w in enumerate(seg.words) if _token(w.text)),
        key=lambda x: x[2].start,
    )
    runs = _squeezed_runs(old)
    squeezed = {(i, k) for run in runs for i, k, _ in run}
    steady = [x for x in old if (x[0], x[1]) not in squeezed]
    drop_first: set[tuple[int, int]] = set()  # (segment, word) positions
    drop_again: set[tuple[int, int]] = set()
    whole_again: set[int] = set()

    def window(t: float) -> int:
        return next((n for n, (a, b) in enumerate(windows) if a <= t <= b), -1)

    for j, seg in enumerate(again):
        if not seg.words:
            said = _TOKEN.findall(seg.text.lower())
            for other in first:
                close = other.start <= seg.end + NEAR_SECONDS and other.end >= seg.start - NEAR_SECONDS
                if close and said and _shared(_TOKEN.findall(other.text.lower()), said) > 0.5 * len(said):
                    whole_again.add(j)
            continue
        new = [(j, k, w) for k, w in enumerate(seg.words) if _token(w.text)]
        here = window((seg.start + seg.end) / 2)
        for run in runs:
            if window(run[0][2].start) == here:
                for a, _b, size in _blocks(run, new):
                    if size >= 2 or size == len(run):
                        drop_first.update((i, k) for i, k, _ in run[a : a + size])
        near = [x for x in steady if seg.start - NEAR_SECONDS <= x[2].start <= seg.end + NEAR_SECONDS]
        for a, b, size in _blocks(near, new):
            for (_, _, was), (_, k, now) in zip(near[a : a + size], new[b : b + size]):
                if max(was.start, now.start) <= min(was.end, now.end) + SAME_WORD_SECONDS:
                    drop_again.add((j, k))
    kept = [_without(seg, {k for i, k in drop_first if i == n}) for n, seg in enumerate(first)]
    kept += [
        _without(seg, {k for i, k in drop_again if i == n})
        for n, seg in enumerate(again)
        if n not in whole_again
    ]
    return [seg for seg in kept if seg is not None]


def _squeezed_runs(words: list[tuple[int, int, Word]]) -> list[list[tuple[int, int, Word]]]:
    """Runs of two or more words (in time order) with no length, at one instant."""
    runs: list[list[tuple[int, int, Word]]] = []
    current: list[tuple[int, int, Word]] = []
    for item in words:
        w = item[2]
        point = w.end - w.start < SQUEEZED_SECONDS
        if point and current and w.start - current[0][2].start < SQUEEZED_SECONDS:
            current.append(item)
            continue
        if len(current) >= 2:
            runs.append(current)
        current = [item] if point else []
    if len(current) >= 2:
        runs.append(current)
    return runs


def _blocks(old: list[tuple[int, int, Word]], new: list[tuple[int, int, Word]]) -> list[tuple[int, int, int]]:
    """Where the words of ``new`` say the words of ``old`` again, in order: (old, new, size)."""
    matcher = difflib.SequenceMatcher(
        None, [_token(x[2].text) for x in old], [_token(x[2].text) for x in new], autojunk=False
    )
    return [(a, b, size) for a, b, size in matcher.get_matching_blocks() if size]


def _shared(heard: list[str], said: list[str]) -> int:
    matcher = difflib.SequenceMatcher(None, heard, said, autojunk=False)
    return sum(size for _, _, size in matcher.get_matching_blocks())


def _token(text: str) -> str:
    return " ".join(_TOKEN.findall(text.lower()))


def _without(seg: Segment, words: set[int]) -> Segment | None:
    """``seg`` less some of its words (by position); None when no spoken word is left."""
    if not words:
        return seg
    left = [w for k, w in enumerate(seg.words) if k not in words]
    text = "".join(w.text for w in left).strip()
    if not left or not _token(text):
        return None
    end = max(w.end for w in left)
    return seg.model_copy(update={"start": left[0].start, "end": end, "text": text, "words": tuple(left)})


def _to_segment(raw: Any, language: str, offset: float, duration: float) -> Segment | None:
    """Our Segment from faster-whisper's, its times moved by ``offset`` and kept in the file
    (words of no length keep it: `_once` looks for them; lengths are given afterwards)."""
    words = [Word(start=offset + w.start, end=offset + w.end, text=w.word, probability=float(w.probability))
             for w in raw.words or ()]  # fmt: skip
    piece = TimedPiece(offset + float(raw.start), offset + float(raw.end), raw.text, words, language)
    timed = timed_segments([piece], stop=duration, word_lengths=False)
    return timed[0] if timed else None


@functools.cache
def _window_encoding_model_class() -> type:
    """faster-whisper's model, encoding a batch of windows `CPU_ENCODE_BATCH` at a time on a
    CPU, so that the encoder's memory does not grow with the batch (module constant)."""
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import get_ctranslate2_storage

    class WindowEncodingWhisperModel(WhisperModel):  # type: ignore[misc]
        def encode(self, features: np.ndarray) -> Any:
            step = CPU_ENCODE_BATCH
            if features.ndim != 3 or len(features) <= step or self.model.device != "cpu":
                return super().encode(features)
            parts = []
            for first in range(0, len(features), step):
                parts.append(np.asarray(super().encode(features[first : first + step])))
            return get_ctranslate2_storage(np.concatenate(parts))

    return WindowEncodingWhisperModel


@functools.cache
def _tracking_pipeline_class() -> type:
    """faster-whisper's batched pipeline, remembering the language detected for each window.

    With ``multilingual=True`` faster-whisper detects each window's language from the encoder
    output it already computed, but does not report it; this subclass reads it back from that
    same encoder output (one decoder step) so every segment can be tagged with its language.
    """
    from faster_whisper import BatchedInferencePipeline

    class LanguageTrackingPipeline(BatchedInferencePipeline):  # type: ignore[misc]
        def __init__(self, model: Any) -> None:
            super().__init__(model)
            self.chunk_languages: dict[int, str] = {}
            self._pending: list[str] | None = None

        def forward(self, features, tokenizer, chunks_metadata, options):  # type: ignore[no-untyped-def]
            self._pending = None
            outputs = super().forward(features, tokenizer, chunks_metadata, options)
            if self._pending is not None:
                fps = self.model.frames_per_second
                for meta, lang in zip(chunks_metadata, self._pending):
                    self.chunk_languages[int(meta["offset"] * fps)] = lang
            return outputs

        def generate_segment_batched(self, features, tokenizer, options):  # type: ignore[no-untyped-def]
            encoder_output, output = super().generate_segment_batched(features, tokenizer, options)
            if options.multilingual:
                detected = self.model.model.detect_language(encoder_output)
                self._pending = [langs[0][0][2:-2] for langs in detected]
            return encoder_output, output

        def language_at(self, seek: int) -> str:
            earlier = [k for k in self.chunk_languages if k <= seek]
            return self.chunk_languages[max(earlier)] if earlier else "und"

    return LanguageTrackingPipeline
