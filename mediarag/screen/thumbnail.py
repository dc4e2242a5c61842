"""The frame a video shows at a moment, small: the app's thumbnail beside a screen citation.

Nothing is stored: the frame is decoded again from the media file when it is asked for (a seek
to the keyframe before the moment, then decoding up to it), so a thumbnail needs the file where
it was indexed. A source the browser cannot fetch either (an ``s3://`` object) gets none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MediaError
from ..media import open_container
from .frames import video_stream

#: Width of a thumbnail, in pixels.
THUMBNAIL_WIDTH = 320


def frame_at(path: str | Path, seconds: float, max_width: int = THUMBNAIL_WIDTH) -> np.ndarray:
    """The RGB frame shown at ``seconds`` (the last one before it, or the first after it when
    none is before), scaled to at most ``max_width`` pixels wide. `MediaError` naming the file
    when it has no video stream or no frame can be decoded."""
    import av

    source = str(path)
    with open_container(path) as container:
        stream = video_stream(container)
        if stream is None:
            raise MediaError(source, "the file has no video stream")
        stream.codec_context.thread_count = 1
        origin = container.start_time / 1_000_000 if container.start_time is not None else 0.0
        target = max(0.0, seconds)
        if stream.time_base is not None and target > 0:
            container.seek(int((target + origin) / stream.time_base), stream=stream, backward=True, any_frame=False)
        chosen = None
        try:
            for frame in container.decode(stream):
                t = (float(frame.time) if frame.time is not None else 0.0) - origin
                if chosen is not None and t > target + 1e-3:
                    break
                chosen = frame
                if t >= target - 1e-3:
                    break
        except av.error.FFmpegError as exc:
            if chosen is None:
                raise MediaError(source, f"no frame can be decoded at {seconds:.1f} s ({exc})") from exc
        if chosen is None:
            raise MediaError(source, f"no frame can be decoded at {seconds:.1f} s")
        return _small(chosen, max_width)


def _small(frame: object, max_width: int) -> np.ndarray:
    width, height = frame.width, frame.height  # type: ignore[attr-defined]
    if width > max_width:
        height = max(2, int(round(height * max_width / width / 2)) * 2)
        width = max_width
    return frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()  # type: ignore[attr-defined]
