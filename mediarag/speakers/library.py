"""The speakers of an index: enrolling voices, naming and renaming them, forgetting them.

Every indexed file keeps its voices (`mediarag.schema.Speaker`: label, name, centroid) in its
stored transcript, so names change without transcribing or embedding anything again: the
file's transcript and passages are rewritten with the new names, and added back with the
vectors the index already holds (`VectorStore.vectors`), then committed.

Rules:

- A name goes to at most one voice of a file. Naming a second voice of a file with a name one
  already has merges the two (they were one person that diarization split).
- Enrolling a voiceprint names, in every indexed file, the unnamed voices that match it.
- Forgetting a name removes its voiceprint (if enrolled) and the name from every file: those
  voices go back to their per-file labels.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from ..links import is_url
from ..schema import Chunk, Segment, Speaker
from .voiceprints import Voiceprint, VoiceprintStore, check_name, is_label, match_names

if TYPE_CHECKING:
    from ..store.base import VectorStore
    from .config import SpeakerConfig


@dataclass
class Enrollment:
    """What enrolling did: the voiceprint, and the files in which a voice took its name."""

    voiceprint: Voiceprint
    named: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FileVoice:
    """One voice of one indexed file."""

    source: str
    label: str
    name: str | None
    named_by: str | None
    seconds: float


def source_key(source: str | os.PathLike[str]) -> str:
    """How the index names a file: a URL as it is, a path made absolute."""
    return str(source) if is_url(str(source)) else str(Path(source).resolve())


class SpeakerLibrary:
    """Enrolled voiceprints and the voices of every file of one index.

    Args:
        store: the index.
        voiceprints: where its voiceprints are kept.
        config: the speaker settings (encoder, thresholds).
    """

    def __init__(self, store: VectorStore, voiceprints: VoiceprintStore, config: SpeakerConfig) -> None:
        self.store = store
        self.voiceprints = voiceprints
        self.config = config

    # Reading ------------------------------------------------------------------------------------

    def enrolled(self) -> list[Voiceprint]:
        """The enrolled voiceprints (`IndexStoreError` when the file is damaged)."""
        return list(self.voiceprints.load().voiceprints)

    def voices(self) -> list[FileVoice]:
        """Every voice of every indexed file, by file then label."""
        out = []
        for source in sorted(self.store.sources()):
            if not self.store.has_transcript(source):
                continue
            for s in self.store.transcript(source).speakers:
                out.append(FileVoice(source, s.label, s.name, s.named_by, s.seconds))
        return out

    def names(self) -> list[str]:
        """Every name and label a passage of the index is attributed to, sorted."""
        found: set[str] = set()
        for source in self.store.sources():
            for chunk in self.store.chunks(source):
                found.update(s.speaker for s in chunk.sentences if s.speaker)
                if chunk.speaker:
                    found.add(chunk.speaker)
        return sorted(found, key=lambda n: (is_label(n), n.casefold()))

    # Changing -----------------------------------------------------------------------------------

    def enroll(self, name: str, clip: str | os.PathLike[str]) -> Enrollment:
        """Enroll the one voice of ``clip`` as ``name`` and name it in every indexed file where
        an unnamed voice matches (`mediarag.speakers.voiceprints.enroll_clip` for the clip's rules)."""
        from .diarize import DiarizationConfig
        from .encoders import load_encoder
        from .voiceprints import enroll_clip

        name = check_name(name)
        book = self.voiceprints.load()
        if book.get(name) is not None:
            raise ConfigError(f"{name!r} is already enrolled; forget it first ('mediarag speakers forget {name}')")
        encoder = load_encoder(self.config.encoder, self.config.weights)
        book.for_encoder(encoder.name, encoder.dimension, self.voiceprints.where)
        config = DiarizationConfig.for_encoder(self.config.encoder, threshold=self.config.cluster_threshold)
        voiceprint = enroll_clip(name, clip, encoder, config)
        self.voiceprints.save(book.model_copy(update={"voiceprints": [*book.voiceprints, voiceprint]}))
        return Enrollment(voiceprint, self.relabel())

    def relabel(self) -> list[str]:
        """Name, in every indexed file, the unnamed voices that match an enrolled voiceprint;
        the files changed."""
        book = self.voiceprints.load()
        if not book.voiceprints:
            return []
        encoder = book.voiceprints[0].encoder
        prints = book.for_encoder(encoder, book.voiceprints[0].dimension, self.voiceprints.where)
        threshold = self.config.name_threshold if self.config.name_threshold is not None else _threshold(encoder)

        def name_matches(speakers: list[Speaker]) -> list[Speaker]:
            taken = {s.name for s in speakers if s.name}
            centroids = {
                s.label: np.asarray(s.centroid, dtype=np.float32)
                for s in speakers
                if s.name is None and s.encoder == encoder and len(s.centroid) == len(prints[0].vector)
            }
            named = match_names(centroids, prints, threshold, taken)
            return [
                s.model_copy(update={"name": named[s.label], "named_by": "enrollment"}) if s.label in named else s
                for s in speakers
            ]

        return self._change_every_file(name_matches)

    def rename(self, old: str, new: str, *, source: str | os.PathLike[str] | None = None) -> list[str]:
        """Call a voice ``new``: in one file (``source``: its per-file label or its name there),
        or everywhere ``old`` is a name (the enrolled voiceprint too). The files changed."""
        new = check_name(new)
        old = " ".join(str(old).split())
        if source is not None:
            key = source_key(source)
            if key not in self.store.sources():
                raise ConfigError(f"{source} is not in the index")

            def rename_one(speakers: list[Speaker]) -> list[Speaker]:
                voice = next((s for s in speakers if s.display == old or s.label == old), None)
                if voice is None:
                    heard = ", ".join(s.display for s in speakers) or "no speakers"
                    raise ConfigError(f"{key} has no speaker {old!r} (it has {heard})")
                return _name_voice(speakers, voice.label, new)

            return self._change_files([key], rename_one)
        if is_label(old):
            raise ConfigError(f"{old!r} is a per-file label: name it in one file with --source FILE")
        book = self.voiceprints.load()
        enrolled = book.get(old)
        if enrolled is not None:
            if book.get(new) is not None:
                raise ConfigError(f"{new!r} is already enrolled; forget one of them first")
            prints = [p.model_copy(update={"name": new}) if p.name == old else p for p in book.voiceprints]
            self.voiceprints.save(book.model_copy(update={"voiceprints": prints}))

        def rename_all(speakers: list[Speaker]) -> list[Speaker]:
            voice = next((s for s in speakers if s.name == old), None)
            return speakers if voice is None else _name_voice(speakers, voice.label, new, keep_origin=True)

        changed = self._change_every_file(rename_all)
        if enrolled is None and not changed:
            raise ConfigError(f"no speaker is called {old!r} in the index")
        return changed

    def forget(self, name: str) -> list[str]:
        """Remove ``name``'s voiceprint and the name from every file (its voices go back to
        their per-file labels); the files changed."""
        name = " ".join(str(name).split())
        book = self.voiceprints.load()
        enrolled = book.get(name) is not None
        if enrolled:
            self.voiceprints.save(
                book.model_copy(update={"voiceprints": [p for p in book.voiceprints if p.name != name]})
            )

        def unname(speakers: list[Speaker]) -> list[Speaker]:
            return [s.model_copy(update={"name": None, "named_by": None}) if s.name == name else s for s in speakers]

        changed = self._change_every_file(unname)
        if not enrolled and not changed:
            raise ConfigError(f"no speaker is called {name!r} in the index")
        return changed

    # Rewriting files ----------------------------------------------------------------------------

    def _change_every_file(self, change: Callable[[list[Speaker]], list[Speaker]]) -> list[str]:
        sources = [s for s in sorted(self.store.sources()) if self.store.has_transcript(s)]
        return self._change_files(sources, change)

    def _change_files(self, sources: list[str], change: Callable[[list[Speaker]], list[Speaker]]) -> list[str]:
        changed = []
        try:
            for source in sources:
                if self._change_file(source, change):
                    changed.append(source)
            if changed:
                self.store.commit()
        except BaseException:
            self.store.rollback()
            raise
        return changed

    def _change_file(self, source: str, change: Callable[[list[Speaker]], list[Speaker]]) -> bool:
        """Apply ``change`` to one file's voices and rewrite its transcript and passages with
        the names that result (vectors reused); whether anything changed."""
        transcript = self.store.transcript(source)
        if not transcript.speakers:
            return False
        speakers, merged = _merge_same_names(change([s.model_copy() for s in transcript.speakers]))
        if speakers == transcript.speakers:
            return False
        now = {s.label: s.display for s in speakers}
        mapping = {s.display: now[merged.get(s.label, s.label)] for s in transcript.speakers}
        rewritten = transcript.model_copy(
            update={"speakers": speakers, "segments": [_relabel_segment(s, mapping) for s in transcript.segments]}
        )
        chunks = [_relabel_chunk(c, mapping) for c in self.store.chunks(source)]
        vectors = self.store.vectors(source)
        info = self.store.sources()[source]
        self.store.add_source(info, rewritten, chunks, vectors)
        return True


def _threshold(encoder: str) -> float:
    from .config import NAME_THRESHOLDS

    return NAME_THRESHOLDS.get(encoder, 1.0)


def _name_voice(speakers: list[Speaker], label: str, name: str, *, keep_origin: bool = False) -> list[Speaker]:
    """``speakers`` with voice ``label`` called ``name`` (named by the user unless ``keep_origin``)."""
    return [
        s.model_copy(update={"name": name, "named_by": s.named_by if keep_origin else "user"}) if s.label == label else s
        for s in speakers
    ]


def _merge_same_names(speakers: list[Speaker]) -> tuple[list[Speaker], dict[str, str]]:
    """Voices of one file that share a name become one (the first keeps its label; centroids
    weighted by seconds of speech); also returns which label went into which."""
    kept: list[Speaker] = []
    merged: dict[str, str] = {}
    for voice in speakers:
        holder = next((k for k in kept if voice.name and k.name == voice.name), None)
        if holder is None:
            kept.append(voice)
            continue
        merged[voice.label] = holder.label
        total = holder.seconds + voice.seconds
        centroid = holder.centroid
        same_space = holder.encoder == voice.encoder and len(holder.centroid) == len(voice.centroid) > 0
        if same_space and total > 0:
            mean = (np.asarray(holder.centroid) * holder.seconds + np.asarray(voice.centroid) * voice.seconds) / total
            centroid = [round(float(v), 5) for v in mean / max(float(np.linalg.norm(mean)), 1e-12)]
        kept[kept.index(holder)] = holder.model_copy(update={"seconds": round(total, 2), "centroid": centroid})
    return kept, merged


def _relabel_segment(segment: Segment, mapping: dict[str, str]) -> Segment:
    if not segment.speaker or segment.speaker not in mapping:
        return segment
    return segment.model_copy(update={"speaker": mapping[segment.speaker]})


def _relabel_chunk(chunk: Chunk, mapping: dict[str, str]) -> Chunk:
    sentences = tuple(_relabel_segment(s, mapping) for s in chunk.sentences)
    speaker = mapping.get(chunk.speaker, chunk.speaker) if chunk.speaker else None
    if not chunk.speaker and sentences and all(s.speaker for s in sentences) and len({s.speaker for s in sentences}) == 1:
        speaker = sentences[0].speaker  # a merge can make a passage one speaker's
    return chunk.model_copy(update={"sentences": sentences, "speaker": speaker})


