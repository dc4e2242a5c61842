"""mediarag: answers about video and audio files, with timestamped citations.

The public surface is re-exported here; heavy dependencies (faster-whisper, torch, FAISS) load
only when a model or an index is first used, so ``import mediarag`` stays fast.
"""

from .conversation import AttachedFile, Conversation, ConversationState
from .errors import (
    ConfigError,
    GeneratorError,
    IndexStoreError,
    MediaError,
    MediaRagError,
    MissingDependencyError,
    ModelError,
    ServiceError,
)
from .media import Audio, decode_audio
from .qa import AnswerStream, IngestFailure, IngestReport, MediaQA
from .schema import Answer, Chunk, Citation, Hit, Message, Moment, Segment, SourceInfo, Transcript, Word
from .settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "AnswerStream",
    "AttachedFile",
    "Audio",
    "Chunk",
    "Citation",
    "ConfigError",
    "Conversation",
    "ConversationState",
    "GeneratorError",
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
    "Moment",
    "Segment",
    "ServiceError",
    "Settings",
    "SourceInfo",
    "Transcript",
    "Word",
    "decode_audio",
    "__version__",
]
