"""Which frames of a video to read, decoding no more than needed, in bounded memory.

Two parts:

1. **Thumbnails.** The video is decoded with PyAV and each decoded frame (at most
   ``max_thumb_fps`` a second) becomes at once a small grey thumbnail (160x90, area-averaged by
   FFmpeg's scaler). Only the frames picked for OCR are converted at full size, to BGR, and
   downscaled to at most ``ocr_max_width`` first: an 8K video never holds more than the decoder's
   own buffers and one capped image. What is decoded (``ScreenConfig.decode``):

   - ``key``: keyframe packets only (the others never reach the decoder; FFmpeg's VP9 decoder
     ignores ``skip_frame``, so the packets are filtered here). A change is seen only at the next
     keyframe, so this is what ``auto`` picks when keyframes are at most ``auto_max_gop_s``
     apart (screen recorders and streaming encoders use 1-2 s);
   - ``nonref``: the decoder drops frames nothing refers to (B-frames): about half the work on
     x264 streams, nothing on VP8/VP9; ``auto`` picks it otherwise;
   - ``all``: every frame.

2. **Scheduler.** Each thumbnail is compared with the previous one (is the screen moving?) and
   with the thumbnail of the last frame read (has it changed?): a pixel changed when its grey
   level moved by more than ``pixel_delta``, the screen when more than ``change_fraction`` of the
   pixels did (a moving mouse cursor does not count; one new console line does). A change is
   read once the screen has been still ``settle_s`` seconds, or after ``max_wait_s`` when it
   never settles; token buckets cap reads at ``max_reads_per_min`` (settled) and
   ``max_forced_per_min`` (never settled) per minute of video. A slide held for two minutes is
   read once; a screen that changes every few seconds is read at each change; a cartoon at
   most at the forced rate. A settled change confined to a band of rows (a console line, a
   status bar) is marked on its sample (``band``), so that only those rows are read again.

Each `Sample` says since when its content has been on screen (``start``) and, for the previous
sample, when that content went (``prev_end``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MediaError
from ..media import open_container
from .config import ScreenConfig

if TYPE_CHECKING:
    import av

#: FFmpeg's AV_DISPOSITION_ATTACHED_PIC: a "video" stream that is an album cover.
_ATTACHED_PIC = 0x0400
#: Consecutive packets that fail to decode before the video stream is given up.
MAX_BAD_PACKETS = 25


@dataclass
class Sample:
    """A frame picked for OCR.

    ``time``: its timestamp; ``start``: since when the screen has shown it (the last motion
    before it settled); ``prev_end``: when the previous sample's content went (the first change
    after it; None for the first sample). ``image``: BGR ``uint8``, at most ``ocr_max_width``
    wide; ``scale`` turns its pixel coordinates into the video's. ``forced``: read before the
    screen settled. ``band``: when only these rows (top, bottom, in ``image`` pixels) changed
    since the previous sample; None when the whole screen is to be read.
    """

    time: float
    start: float
    prev_end: float | None
    image: np.ndarray
    scale: float
    forced: bool
    band: tuple[float, float] | None = None


@dataclass
class SampleStats:
    """What sampling did and cost (filled while the samples are consumed)."""

    decode_mode: str = ""
    frames_decoded: int = 0
    frames_thumbed: int = 0
    frames_sampled: int = 0
    partial_reads: int = 0
    changes_seen: int = 0
    deferred_by_cap: int = 0
    bad_packets: int = 0
    error: str | None = None
    decode_cpu_s: float = 0.0
    duration: float = 0.0
    width: int = 0
    height: int = 0
    fps: float = 0.0
    gop_s: float = 0.0


def video_stream(container: av.container.InputContainer) -> Any:
    """The first video stream that is a picture sequence (not an album cover), or None."""
    for stream in container.streams.video:
        if not int(getattr(stream, "disposition", 0) or 0) & _ATTACHED_PIC:
            return stream
    return None


def has_video(path: str | Path) -> bool:
    """Whether a media file has a video stream (an audio file's cover picture is none)."""
    with open_container(path) as container:
        return video_stream(container) is not None


def keyframe_gap(path: str | Path, count: int = 4) -> float:
    """Median seconds between the first ``count`` keyframes, from packet flags (no decoding)."""
    times: list[float] = []
    with open_container(path) as container:
        stream = video_stream(container)
        if stream is None:
            return float("inf")
        for packet in container.demux(stream):
            if packet.is_keyframe and packet.pts is not None and packet.time_base is not None:
                times.append(float(packet.pts * packet.time_base))
                if len(times) > count:
                    break
    if len(times) < 2:
        return float("inf")
    return float(np.median(np.diff(sorted(times))))


@dataclass
class _Decoded:
    """A decoded frame: its time, its thumbnail, and the frame (valid until the next one)."""

    time: float
    thumb: np.ndarray
    frame: Any


def thumbnails(path: str | Path, config: ScreenConfig, stats: SampleStats) -> Iterator[_Decoded]:
    """Decode ``path``'s video in ``config.decode`` mode, thumbnailing at most
    ``config.max_thumb_fps`` frames a second (the frames between are decoded as the codec needs,
    never converted). A stream that breaks off part-way ends here with ``stats.error`` set; one
    that decodes to nothing raises `MediaError`."""
    import av

    mode = config.decode
    if mode == "auto":
        stats.gop_s = keyframe_gap(path)
        mode = "key" if stats.gop_s <= config.auto_max_gop_s else "nonref"
    stats.decode_mode = mode
    source = str(path)
    with open_container(path) as container:
        stream = video_stream(container)
        if stream is None:
            raise MediaError(source, "the file has no video stream")
        context = stream.codec_context
        context.thread_count = config.decoder_threads
        if mode == "key":
            context.skip_frame = "NONKEY"
        elif mode == "nonref":
            context.skip_frame = "NONREF"
        stats.width, stats.height = context.width, context.height
        stats.fps = float(stream.average_rate or stream.guessed_rate or 0)
        origin = container.start_time / 1_000_000 if container.start_time is not None else 0.0
        step = 1.0 / config.max_thumb_fps - 1e-3
        last = float("-inf")
        packets = bad_in_a_row = 0
        for packet in container.demux(stream):
            flush = packet.size == 0
            if not flush:
                packets += 1
                if mode == "key" and not packet.is_keyframe:
                    continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                stats.bad_packets += 1
                bad_in_a_row += 1
                stats.error = _reason(exc)
                if bad_in_a_row >= MAX_BAD_PACKETS:
                    break
                continue
            bad_in_a_row = 0
            for frame in frames:
                t = (float(frame.time) if frame.time is not None else 0.0) - origin
                stats.frames_decoded += 1
                stats.duration = max(stats.duration, t + (1.0 / stats.fps if stats.fps else 0.0))
                if t - last < step:
                    continue
                last = t
                thumb = frame.reformat(
                    width=config.thumb_width, height=config.thumb_height, format="gray", interpolation="AREA"
                ).to_ndarray()
                stats.frames_thumbed += 1
                yield _Decoded(t, thumb, frame)
        if stats.frames_decoded == 0 and packets:
            raise MediaError(source, f"the video stream cannot be decoded ({stats.error or 'no frame came out'})")
        announced = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        if not announced and container.duration:  # WebM: no per-stream duration
            announced = container.duration / 1_000_000
        if stats.bad_packets == 0:
            stats.duration = max(stats.duration, announced)


def ocr_image(frame: Any, max_width: int) -> tuple[np.ndarray, float]:
    """A frame as BGR, area-downscaled to at most ``max_width`` wide (never upscaled), and the
    factor from its pixels back to the video's."""
    width, height = frame.width, frame.height
    if width > max_width:
        new_height = max(2, int(round(height * max_width / width / 2)) * 2)
        image = frame.reformat(width=max_width, height=new_height, format="bgr24", interpolation="AREA")
        return image.to_ndarray(), width / max_width
    return frame.to_ndarray(format="bgr24"), 1.0


def changed_rows(a: np.ndarray, b: np.ndarray, pixel_delta: int, min_pixels: int = 3) -> tuple[int, int] | None:
    """The first and last thumbnail rows with at least ``min_pixels`` changed pixels (a mouse
    cursor changes fewer per row), or None."""
    counts = np.count_nonzero(np.abs(a.astype(np.int16) - b.astype(np.int16)) > pixel_delta, axis=1)
    rows = np.flatnonzero(counts >= min_pixels)
    return (int(rows[0]), int(rows[-1])) if rows.size else None


def changed_fraction(a: np.ndarray, b: np.ndarray, pixel_delta: int) -> float:
    """Share of thumbnail pixels whose grey level differs by more than ``pixel_delta``."""
    difference = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return float(np.count_nonzero(difference > pixel_delta)) / difference.size


class TokenBucket:
    """At most ``rate_per_min`` events per minute of *video* time, ``burst`` at once."""

    def __init__(self, rate_per_min: float, burst: int) -> None:
        self.rate = rate_per_min / 60.0
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.last = 0.0

    def take(self, t: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + max(0.0, t - self.last) * self.rate)
        self.last = t
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def sample_frames(path: str | Path, config: ScreenConfig | None = None, stats: SampleStats | None = None) -> Iterator[Sample]:
    """The frames of ``path`` worth reading, in time order (see the module docstring).
    ``stats`` is filled as they are consumed; its ``decode_cpu_s`` leaves out the time the
    consumer spends between samples (the OCR)."""
    config = config or ScreenConfig()
    stats = stats if stats is not None else SampleStats()
    settled_reads = TokenBucket(config.max_reads_per_min, config.burst)
    forced_reads = TokenBucket(config.max_forced_per_min, config.forced_burst)
    previous: np.ndarray | None = None  # the last thumbnail
    reference: np.ndarray | None = None  # the thumbnail of the last frame read
    onset: float | None = 0.0  # first change since the last read (None: nothing to read)
    still_since = 0.0
    capped = False
    cpu0 = time.process_time()
    away = 0.0  # CPU seconds spent by the consumer
    for d in thumbnails(path, config, stats):
        if previous is not None and changed_fraction(d.thumb, previous, config.pixel_delta) > config.change_fraction:
            still_since = d.time
        previous = d.thumb
        if onset is None and reference is not None:
            if changed_fraction(d.thumb, reference, config.pixel_delta) > config.change_fraction:
                onset = d.time
                stats.changes_seen += 1
        if onset is None:
            continue
        settled = d.time - still_since >= config.settle_s or stats.decode_mode == "key"
        if not (settled or d.time - onset >= config.max_wait_s):
            continue
        if reference is not None and changed_fraction(d.thumb, reference, config.pixel_delta) <= config.change_fraction:
            onset = None  # it changed back before it was read
            continue
        if not (settled_reads if settled else forced_reads).take(d.time):
            stats.deferred_by_cap += 0 if capped else 1
            capped = True
            continue
        capped = False
        prev_end = onset if reference is not None else None
        image, scale = ocr_image(d.frame, config.ocr_max_width)
        band = None
        if config.partial_reads and settled and reference is not None:
            rows = changed_rows(d.thumb, reference, config.pixel_delta)
            if rows is not None and (rows[1] - rows[0] + 1) <= config.max_band_fraction * config.thumb_height:
                per_row = image.shape[0] / config.thumb_height
                band = (rows[0] * per_row, (rows[1] + 1) * per_row)
                stats.partial_reads += 1
        stats.frames_sampled += 1
        reference, onset = d.thumb, None
        start = min(still_since, d.time) if settled else d.time
        before = time.process_time()
        yield Sample(d.time, start, prev_end, image, scale, not settled, band)
        away += time.process_time() - before
    stats.decode_cpu_s = time.process_time() - cpu0 - away


def _reason(exc: BaseException) -> str:
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc).strip())
    return text.split(": '", 1)[0] if text else type(exc).__name__
