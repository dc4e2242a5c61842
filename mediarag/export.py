"""Transcript export: SubRip (SRT), WebVTT, RTTM, JSON and plain text.

Sentences with a known speaker carry it: ``[Sheila] ...`` in SRT, a ``<v Sheila>`` voice span in
WebVTT, ``Sheila: ...`` in plain text, and one RTTM line per run of a speaker's sentences.
JSON leaves out the voices' centroids (embeddings of voices: personal data, kept in the index).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from .errors import ConfigError
from .schema import Segment, Transcript

Format = Literal["srt", "vtt", "rttm", "json", "txt"]
FORMATS: tuple[str, ...] = ("srt", "vtt", "rttm", "json", "txt")


def _stamp(seconds: float, separator: str) -> str:
    ms = int(round(max(seconds, 0.0) * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def _cue_text(text: str) -> str:
    """Text that cannot end a cue early (a blank line ends an SRT or WebVTT cue)."""
    return "\n".join(line for line in text.splitlines() if line.strip()) or text


def to_srt(transcript: Transcript) -> str:
    blocks = []
    for i, s in enumerate(transcript.segments, start=1):
        text = f"[{s.speaker}] {s.text}" if s.speaker else s.text
        blocks.append(f"{i}\n{_stamp(s.start, ',')} --> {_stamp(s.end, ',')}\n{_cue_text(text)}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(transcript: Transcript) -> str:
    cues = []
    for s in transcript.segments:
        text = _vtt_escape(_cue_text(s.text))
        if s.speaker:
            text = f"<v {_vtt_escape(s.speaker)}>{text}</v>"
        cues.append(f"{_stamp(s.start, '.')} --> {_stamp(s.end, '.')}\n{text}\n")
    return "WEBVTT\n\n" + "\n".join(cues)


def to_rttm(transcript: Transcript, *, gap: float = 0.5) -> str:
    """Standard RTTM speaker turns (``SPEAKER file 1 start duration <NA> <NA> who <NA> <NA>``):
    consecutive sentences of one speaker less than ``gap`` seconds apart make one turn. The file
    id is the source's file name without extension; spaces in ids and names become ``_``."""
    uri = _rttm_token(Path(transcript.source.split("?", 1)[0].split("#", 1)[0]).stem or "file")
    turns: list[list] = []
    for s in transcript.segments:
        if not s.speaker:
            continue
        if turns and turns[-1][2] == s.speaker and s.start - turns[-1][1] < gap:
            turns[-1][1] = max(turns[-1][1], s.end)
        else:
            turns.append([s.start, s.end, s.speaker])
    return "".join(
        f"SPEAKER {uri} 1 {start:.3f} {end - start:.3f} <NA> <NA> {_rttm_token(who)} <NA> <NA>\n"
        for start, end, who in turns
    )


def _rttm_token(text: str) -> str:
    return re.sub(r"\s+", "_", text.strip()) or "_"


def to_json(transcript: Transcript) -> str:
    """The transcript as JSON, without its voices' centroids: those are embeddings of people's
    voices (personal data, kept in the index only); labels, names and seconds stay."""
    return transcript.model_dump_json(indent=2, exclude={"speakers": {"__all__": {"centroid"}}})


def _line(s: Segment) -> str:
    return f"{s.speaker}: {s.text}" if s.speaker else s.text


def to_text(transcript: Transcript) -> str:
    return "\n".join(_line(s) for s in transcript.segments) + ("\n" if transcript.segments else "")


def export(transcript: Transcript, fmt: str) -> str:
    """Render a transcript as ``srt``, ``vtt``, ``rttm``, ``json`` or ``txt``."""
    writers = {"srt": to_srt, "vtt": to_vtt, "rttm": to_rttm, "json": to_json, "txt": to_text}
    if fmt not in writers:
        raise ConfigError(f"unknown transcript format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return writers[fmt](transcript)
