"""Reading media files: find them, fingerprint them, decode their audio.

Audio is decoded with PyAV (FFmpeg's libraries, bundled in its wheel) straight to 16 kHz mono
float32, the format every Whisper model takes. The duration reported is that of the decoded audio,
not the container's, which may be padded to the video's length.

Only regular files are read: a FIFO, a device, a socket or a directory given as a file is refused
by name before anything opens it (reading one would block or never end). A file is opened here
and FFmpeg gets the open file, never its name, so no name is read as an FFmpeg protocol
(``concat:a.flac|b.wav``, ``ep1:intro.flac``); and FFmpeg may open no other file or URL while
reading it, so a playlist or a concat list inside a file cannot pull in other files.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
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


#: Decoded audio shorter than this fraction of the duration a file announces is reported.
SHORT_AUDIO_FRACTION = 0.9
#: ... when at least this many seconds are missing.
SHORT_AUDIO_SECONDS = 0.5
#: Demuxers whose durations are guesses from the bit rate, not announced by the file.
_GUESSED_DURATION_FORMATS = frozenset({"aac"})


@dataclass(frozen=True)
class Audio:
    """Decoded audio: 16 kHz mono float32 samples in [-1, 1] and where they came from.

    ``warnings`` says, naming the file, what was decoded only in part: a damaged tail (decoding
    stopped at some second, the rest is left out, as players do), or audio much shorter than the
    duration the file announces (a truncated download, say). The audio is usable either way.
    """

    samples: np.ndarray
    source: str
    sample_rate: int = SAMPLE_RATE
    warnings: tuple[str, ...] = ()

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
    found recursively under each directory, sorted.

    A missing path, or one given as a file that is not a regular file (a FIFO, a device, a
    socket), raises `MediaError` naming it. Under a directory, only regular files are found:
    FIFOs, devices and sockets there are skipped, whatever their names.
    """
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if _is_regular(p) and is_media_file(p))
        elif os.path.lexists(path):
            check_regular_file(path.absolute())
            yield path
        else:
            raise MediaError(str(path.absolute()), "no such file or directory")


def check_regular_file(path: str | os.PathLike[str]) -> os.stat_result:
    """The ``os.stat`` of a regular file; `MediaError` naming ``path`` if it is missing, cannot be
    read, or is something else (a FIFO, a device, a socket, a directory), saying which."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise MediaError(str(path), _os_reason(exc)) from exc
    _require_regular(path, info.st_mode)
    return info


def open_regular_file(path: str | os.PathLike[str]) -> io.FileIO:
    """Open a regular file for reading, unbuffered; `MediaError` as in `check_regular_file`.

    The file is checked before it is opened and again once it is open, and opened without
    blocking, so a file swapped for a FIFO in between is refused instead of hanging.
    """
    check_regular_file(path)
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)  # a FIFO or a tty: no waiting
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise MediaError(str(path), _os_reason(exc)) from exc
    try:
        _require_regular(path, os.fstat(fd).st_mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def file_sha256(path: str | os.PathLike[str], block: int = 1 << 20) -> str:
    """SHA-256 of a regular file's bytes, read in blocks; `MediaError` for anything else."""
    digest = hashlib.sha256()
    with open_regular_file(path) as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _require_regular(path: str | os.PathLike[str], mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    )
    kind = next((name for test, name in kinds if test(mode)), "something else")
    raise MediaError(str(path), f"is {kind}, not a regular file")


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or type(exc).__name__


def decode_audio(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> Audio:
    """Decode the first audio stream of a media file to mono float32 at ``sample_rate``.

    Raises `MediaError` naming the file when it is missing, not a regular file, empty, not media,
    or has no audio stream. A file whose audio breaks off part-way keeps what decoded, with a
    warning in `Audio.warnings`, as does one whose audio is much shorter than the duration it
    announces. (Ogg and WAV files cut short announce the shorter duration, so they are not
    noticed.) Samples are written into one buffer that grows as needed, so a long file is held in
    memory about once.
    """
    import av  # PyAV is a core dependency, imported here to keep `import mediarag` light

    source = str(path)
    with open_regular_file(path) as raw:
        if os.fstat(raw.fileno()).st_size == 0:
            raise MediaError(source, "the file is empty (0 bytes)")
        # FFmpeg sees the open file under a neutral name that keeps only the extension (its
        # format probe uses it); "none" lets it open no other file or URL on this one's behalf.
        raw.name = "input" + _safe_suffix(source)
        try:
            container = av.open(raw, metadata_errors="ignore", options={"protocol_whitelist": "none"})
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise MediaError(source, f"not a readable media file ({_reason(exc)})") from exc
        with container:
            return _decode_stream(container, source, sample_rate)


def _decode_stream(container, source: str, sample_rate: int) -> Audio:  # type: ignore[no-untyped-def]
    import av

    if not container.streams.audio:
        raise MediaError(source, "the file has no audio stream")
    stream = container.streams.audio[0]
    stream.thread_type = "AUTO"
    announced, own = _announced_seconds(stream, container)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    buffer = _SampleBuffer(int((announced or 60.0) * sample_rate) + sample_rate)
    origin = container.start_time / 1_000_000 if container.start_time is not None else 0.0
    data_end = 0.0  # where the packets of all streams end: what the file really holds
    failure: av.error.FFmpegError | None = None
    try:
        for packet in container.demux():
            data_end = max(data_end, _packet_end(packet, origin))
            if packet.stream.index != stream.index:
                continue
            for frame in packet.decode():
                for out in resampler.resample(frame):
                    buffer.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            buffer.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as exc:
        if buffer.size == 0:
            raise MediaError(source, f"the audio stream cannot be decoded ({_reason(exc)})") from exc
        failure = exc  # a damaged tail: keep what decoded, as players do, and say so
    samples = buffer.array()
    if samples.size == 0:
        raise MediaError(source, "the audio stream holds no samples")
    got = samples.size / sample_rate
    if container.format.name in _GUESSED_DURATION_FORMATS:
        announced = None
    warnings: list[str] = []
    if failure is not None:
        of = f" of the {announced:.1f} s the file announces" if announced and announced > got else ""
        warnings.append(
            f"{source}: decoding stopped at {got:.1f} s{of} ({_reason(failure)}); the rest is left out"
        )
    elif (
        announced
        and got < SHORT_AUDIO_FRACTION * announced
        and announced - got >= SHORT_AUDIO_SECONDS
        # The container's duration may be the video's: count it only if no stream gets there.
        and (own or data_end < SHORT_AUDIO_FRACTION * announced)
    ):
        warnings.append(
            f"{source}: only {got:.1f} s of audio decoded, but the file announces {announced:.1f} s; "
            "it may be truncated"
        )
    return Audio(samples=samples, source=source, sample_rate=sample_rate, warnings=tuple(warnings))


def _safe_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def _announced_seconds(stream, container) -> tuple[float | None, bool]:  # type: ignore[no-untyped-def]
    """The duration the file announces for its audio, and whether the audio stream itself
    announces it (else it is the container's, which may be the video's)."""
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
        if seconds > 0:
            return seconds, True
    if container.duration:
        seconds = container.duration / 1_000_000
        if seconds > 0:
            return seconds, False
    return None, False


def _packet_end(packet, origin: float) -> float:  # type: ignore[no-untyped-def]
    when = packet.pts if packet.pts is not None else packet.dts
    if when is None or packet.time_base is None:
        return 0.0
    return float((when + (packet.duration or 0)) * packet.time_base) - origin


def _reason(exc: BaseException) -> str:
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc).strip())
    return text.split(": '", 1)[0] if text else type(exc).__name__


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
