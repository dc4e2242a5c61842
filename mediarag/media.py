"""Reading media files: find them, fingerprint them, decode their audio.

Audio is decoded with PyAV (FFmpeg's libraries, bundled in its wheel) straight to 16 kHz mono
float32, the format every Whisper model takes. The duration reported is that of the decoded audio,
not the container's, which may be padded to the video's length.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MediaError

SAMPLE_RATE = 16_000

#: Video containers among the media extensions.
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".mpeg", ".mpg", ".ts"})
#: Audio files among the media extensions.
AUDIO_EXTENSIONS = frozenset({".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".oga", ".opus", ".wma"})
#: File extensions treated as media when a directory is ingested.
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS


@dataclass(frozen=True)
class Audio:
    """Decoded audio: 16 kHz mono float32 samples in [-1, 1] and where they came from."""

    samples: np.ndarray
    source: str
    sample_rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    def slice(self, start: float, end: float) -> np.ndarray:
        """Samples between two times in seconds (a view, not a copy)."""
        a = max(0, int(round(start * self.sample_rate)))
        b = min(len(self.samples), int(round(end * self.sample_rate)))
        return self.samples[a:b]


def wav_bytes(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Mono float samples in [-1, 1] as a 16-bit PCM WAV file's bytes."""
    import io
    import wave

    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def is_media_file(path: Path) -> bool:
    """Whether a path has one of the `MEDIA_EXTENSIONS`."""
    return path.suffix.lower() in MEDIA_EXTENSIONS


def find_media(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Yield media files: each path given as a file (whatever its extension), and the media files
    found recursively under each directory, sorted. A missing path raises `MediaError`."""
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and is_media_file(p))
        elif path.exists():
            yield path
        else:
            raise MediaError(str(path.absolute()), "no such file or directory")


def file_sha256(path: str | os.PathLike[str], block: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def decode_audio(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> Audio:
    """Decode the first audio stream of a media file to mono float32 at ``sample_rate``.

    Raises `MediaError` naming the file when it is missing, empty, not media, or has no
    audio stream. Samples are written into one buffer that grows as needed, so a long file is
    held in memory about once.
    """
    import av  # PyAV is a core dependency, imported here to keep `import mediarag` light

    source = str(path)
    p = Path(path)
    if not p.is_file():
        raise MediaError(source, "no such file")
    if p.stat().st_size == 0:
        raise MediaError(source, "the file is empty (0 bytes)")
    try:
        container = av.open(source, metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise MediaError(source, f"not a readable media file ({_reason(exc)})") from exc
    with container:
        if not container.streams.audio:
            raise MediaError(source, "the file has no audio stream")
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        buffer = _SampleBuffer(_estimate_samples(stream, container, sample_rate))
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    buffer.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                buffer.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            if buffer.size == 0:
                raise MediaError(source, f"the audio stream cannot be decoded ({_reason(exc)})") from exc
            # A damaged tail: keep what decoded, as players do.
    samples = buffer.array()
    if samples.size == 0:
        raise MediaError(source, "the audio stream holds no samples")
    return Audio(samples=samples, source=source, sample_rate=sample_rate)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.split(": '", 1)[0] if text else type(exc).__name__


def _estimate_samples(stream, container, sample_rate: int) -> int:  # type: ignore[no-untyped-def]
    seconds = None
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration:
        seconds = container.duration / 1_000_000
    if not seconds or seconds <= 0:
        seconds = 60.0
    return int(seconds * sample_rate) + sample_rate


class _SampleBuffer:
    """A float32 array that grows by half its size when full."""

    def __init__(self, capacity: int) -> None:
        self._data = np.empty(max(capacity, 1024), dtype=np.float32)
        self.size = 0

    def append(self, values: np.ndarray) -> None:
        need = self.size + len(values)
        if need > len(self._data):
            grown = np.empty(max(need, int(len(self._data) * 1.5)), dtype=np.float32)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : need] = values
        self.size = need

    def array(self) -> np.ndarray:
        if self.size < len(self._data) * 0.9:
            return self._data[: self.size].copy()
        return self._data[: self.size]
