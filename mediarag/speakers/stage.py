"""The speaker stage of the pipeline: after transcription, who said each word.

Registered as ``speakers`` after ``transcribe`` (on by default, optional: a failure is a
warning and the file is still indexed). For each file it diarizes the audio
(`mediarag.speakers.diarize`), gives every word the speaker of the turn covering it best
(`mediarag.speakers.assign`), names the voices that match an enrolled voiceprint
(`mediarag.speakers.voiceprints`), and keeps each voice's centroid in the transcript
(`mediarag.schema.Speaker`) so that names can change later without transcribing again
(`mediarag.speakers.library`). The sentences stage then ends a sentence at every change of
speaker, and a passage spoken by one speaker carries their label.

A transcriber that labels speakers itself (Amazon Transcribe with ``ShowSpeakerLabels``) is
trusted: its labels are kept, and only the voices' centroids are computed, for naming.

Without the encoder's weights package the stage leaves the transcript as it is and adds one
warning naming the pip line that installs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import IndexStoreError, ModelError
from ..schema import Speaker, Transcript

if TYPE_CHECKING:
    from ..pipeline.base import StageContext
    from ..pipeline.item import MediaFile
    from .config import SpeakerConfig
    from .diarize import DiarizationConfig
    from .encoders import SpeakerEncoder
    from .voiceprints import VoiceprintStore

#: Digits kept of each centroid value in the stored transcript.
CENTROID_DIGITS = 5


def build(context: StageContext) -> SpeakerStage:
    """The stage for a pipeline's settings (``settings.speakers``; voiceprints from the index)."""
    from .voiceprints import VoiceprintStore

    settings = context.settings
    return SpeakerStage(settings.speakers, VoiceprintStore(settings.location, settings.aws))


class SpeakerStage:
    """Labels a transcribed file's words, sentences and voices with speakers (module docstring)."""

    name = "speakers"

    def __init__(self, config: SpeakerConfig, voiceprints: VoiceprintStore | None = None) -> None:
        self.config = config
        self.voiceprints = voiceprints
        self._encoder: SpeakerEncoder | None = None

    def encoder(self) -> SpeakerEncoder:
        """The speaker encoder (loaded on first use); `ModelError` when its weights are missing."""
        if self._encoder is None:
            from .encoders import load_encoder

            self._encoder = load_encoder(self.config.encoder, self.config.weights)
        return self._encoder

    def warm_up(self) -> None:
        """Load the encoder now (a missing weights package is reported per file instead)."""
        if self.config.enabled:
            try:
                self.encoder()
            except ModelError:
                pass

    def diarization_config(self) -> DiarizationConfig:
        from .diarize import DiarizationConfig

        return DiarizationConfig.for_encoder(
            self.config.encoder, threshold=self.config.cluster_threshold, use_words=self.config.use_words
        )

    def run(self, item: MediaFile) -> None:
        transcript = item.transcript
        if not self.config.enabled or transcript is None or not transcript.segments:
            return
        labelled = _labelled_by_transcriber(transcript)
        try:
            encoder = self.encoder()
        except ModelError as exc:
            if labelled:
                item.transcript = transcript.model_copy(update={"speakers": _speakers_of(transcript, {}, None)})
            item.warnings.append(f"speakers: {exc}; files are indexed without speaker labels")
            return
        if item.audio is None:
            raise ValueError(f"{item.source}: the speakers stage needs the decode stage first")
        from .._heap import return_large_buffers
        from .._threads import one_thread

        return_large_buffers()
        with one_thread():
            if labelled:
                words = transcript
                centroids = self._centroids_of_labels(item.audio.samples, transcript, encoder)
            else:
                words, centroids = self._diarize(item.audio.samples, transcript, encoder)
        names = self._names(centroids, encoder, item)
        speakers = _speakers_of(words, centroids, encoder.name)
        for s in speakers:
            if s.label in names:
                s.name, s.named_by = names[s.label], "enrollment"
        item.transcript = _display(words.model_copy(update={"speakers": speakers}))

    def _diarize(
        self, samples: np.ndarray, transcript: Transcript, encoder: SpeakerEncoder
    ) -> tuple[Transcript, dict[str, np.ndarray]]:
        """The transcript with every word labelled from the turns, and each label's centroid
        (labels renumbered in order of first appearance in the words)."""
        from .assign import assign_speakers
        from .clustering import SpeakerCount
        from .diarize import diarize

        config = self.config
        spans = _word_spans(transcript)
        count = SpeakerCount(config.num_speakers, config.min_speakers, config.max_speakers)
        result = diarize(samples, encoder, self.diarization_config(), count, words=[s for seg in spans for s in seg])
        if not result.turns:
            return transcript, {}
        labels = assign_speakers([s for seg in spans for s in seg], result.turns)
        order = {}
        for label in labels:
            if label is not None and label not in order:
                order[label] = f"SPEAKER_{len(order):02d}"
        renamed = iter(order.get(label) if label else None for label in labels)
        segments = []
        for segment, seg_spans in zip(transcript.segments, spans):
            own = [next(renamed) for _ in seg_spans]
            if segment.words:
                words = tuple(w.model_copy(update={"speaker": s}) for w, s in zip(segment.words, own))
                segments.append(segment.model_copy(update={"words": words, "speaker": _single(own)}))
            else:
                segments.append(segment.model_copy(update={"speaker": own[0] if own else None}))
        centroids = {order[v.label]: v.centroid for v in result.voices if v.label in order}
        return transcript.model_copy(update={"segments": segments}), centroids

    def _centroids_of_labels(
        self, samples: np.ndarray, transcript: Transcript, encoder: SpeakerEncoder
    ) -> dict[str, np.ndarray]:
        """Each transcriber label's centroid: the mean embedding of windows in its turns."""
        from .diarize import make_windows
        from .speech import merge_regions

        config = self.diarization_config()
        turns: dict[str, list[tuple[float, float]]] = {}
        for segment in transcript.segments:
            for word in segment.words or (segment,):
                who = getattr(word, "speaker", None) or segment.speaker
                if who:
                    turns.setdefault(who, []).append((word.start, word.end))
        out = {}
        for label, spans in turns.items():
            regions = merge_regions(spans, gap=0.3)
            windows = make_windows(regions, config.window_s, config.step_s, config.min_window_s)
            if windows:
                mean = encoder.embed(samples, windows, regions).mean(axis=0)
                out[label] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return out

    def _names(self, centroids: dict[str, np.ndarray], encoder: SpeakerEncoder, item: MediaFile) -> dict[str, str]:
        if not centroids or self.voiceprints is None:
            return {}
        from .voiceprints import match_names

        try:
            prints = self.voiceprints.load().for_encoder(encoder.name, encoder.dimension, self.voiceprints.where)
        except IndexStoreError as exc:
            item.warnings.append(f"{item.source}: speakers are not named: {exc}")
            return {}
        return match_names(centroids, prints, self.config.naming_threshold)


def _labelled_by_transcriber(transcript: Transcript) -> bool:
    return any(s.speaker for s in transcript.segments) or any(w.speaker for s in transcript.segments for w in s.words)


def _word_spans(transcript: Transcript) -> list[list[tuple[float, float]]]:
    """Per segment, the spans of its words (a segment without word times: its own span)."""
    return [[(w.start, w.end) for w in s.words] if s.words else [(s.start, s.end)] for s in transcript.segments]


def _single(labels: Sequence[str | None]) -> str | None:
    values = set(labels)
    return values.pop() if len(values) == 1 else None


def _speakers_of(transcript: Transcript, centroids: dict[str, np.ndarray], encoder: str | None) -> list[Speaker]:
    """The file's voices in order of first appearance, with their seconds of speech."""
    seconds: dict[str, float] = {}
    for segment in transcript.segments:
        for word in segment.words or (segment,):
            who = getattr(word, "speaker", None) or segment.speaker
            if who:
                seconds[who] = seconds.get(who, 0.0) + (word.end - word.start)
    out = []
    for label, total in seconds.items():
        centroid = centroids.get(label)
        out.append(
            Speaker(
                label=label,
                seconds=round(total, 2),
                encoder=encoder if centroid is not None else None,
                centroid=[round(float(v), CENTROID_DIGITS) for v in centroid] if centroid is not None else [],
            )
        )
    return out


def _display(transcript: Transcript) -> Transcript:
    """Words and segments carry each voice's name where it has one."""
    names = {s.label: s.display for s in transcript.speakers if s.name}
    if not names:
        return transcript

    def rename(value: str | None) -> str | None:
        return names.get(value, value) if value else value

    segments = [
        s.model_copy(
            update={
                "speaker": rename(s.speaker),
                "words": tuple(w.model_copy(update={"speaker": rename(w.speaker)}) for w in s.words),
            }
        )
        for s in transcript.segments
    ]
    return transcript.model_copy(update={"segments": segments})



