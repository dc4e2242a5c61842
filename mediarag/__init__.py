"""mediarag: answers about video and audio files, with timestamped citations.

The public surface is re-exported here; heavy dependencies (faster-whisper, torch, FAISS) load
only when a model or an index is first used, so ``import mediarag`` stays fast.
"""

from .errors import (
    ConfigError,
    IndexStoreError,
    MediaError,
    MediaRagError,
    MissingDependencyError,
    ModelError,
    ServiceError,
)
from .media import Audio, decode_audio
from .qa import IngestFailure, IngestReport, MediaQA
from .schema import Answer, Chunk, Citation, Hit, Message, Segment, SourceInfo, Transcript, Word
from .settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "Audio",
    "Chunk",
    "Citation",
    "ConfigError",
    "Hit",
    "IndexStoreError",
    "IngestFailure",
    "IngestReport",
    "MediaError",
    "MediaQA",
    "MediaRagError",
    "Message",
    "MissingDependencyError",
    "ModelError",
    "Segment",
    "ServiceError",
    "Settings",
    "SourceInfo",
    "Transcript",
    "Word",
    "decode_audio",
    "__version__",
]
