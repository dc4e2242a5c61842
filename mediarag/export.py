"""Transcript export: SubRip (SRT), WebVTT, JSON and plain text."""

from __future__ import annotations

from typing import Literal

from .errors import ConfigError
from .schema import Transcript

Format = Literal["srt", "vtt", "json", "txt"]
FORMATS: tuple[str, ...] = ("srt", "vtt", "json", "txt")


def _stamp(seconds: float, separator: str) -> str:
    ms = int(round(max(seconds, 0.0) * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def to_srt(transcript: Transcript) -> str:
    blocks = [
        f"{i}\n{_stamp(s.start, ',')} --> {_stamp(s.end, ',')}\n{s.text}\n"
        for i, s in enumerate(transcript.segments, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(transcript: Transcript) -> str:
    cues = [f"{_stamp(s.start, '.')} --> {_stamp(s.end, '.')}\n{s.text}\n" for s in transcript.segments]
    return "WEBVTT\n\n" + "\n".join(cues)


def to_json(transcript: Transcript) -> str:
    return transcript.model_dump_json(indent=2)


def to_text(transcript: Transcript) -> str:
    return "\n".join(s.text for s in transcript.segments) + ("\n" if transcript.segments else "")


def export(transcript: Transcript, fmt: str) -> str:
    """Render a transcript as ``srt``, ``vtt``, ``json`` or ``txt``."""
    writers = {"srt": to_srt, "vtt": to_vtt, "json": to_json, "txt": to_text}
    if fmt not in writers:
        raise ConfigError(f"unknown transcript format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return writers[fmt](transcript)
