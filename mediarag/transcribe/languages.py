"""Spoken languages: the codes Whisper knows, and which one a file mostly speaks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..errors import ConfigError
from ..schema import Segment

#: The ISO 639 codes of the languages Whisper models are trained on (large-v3 adds ``yue``).
WHISPER_LANGUAGES = frozenset(
    """en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur
    hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km
    sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba
    jw su yue""".split()
)


def check_whisper_language(language: str | None) -> str | None:
    """``language`` as a Whisper code (lower case), or None to detect it; `ConfigError` when
    Whisper does not know it."""
    if language is None:
        return None
    code = language.strip().lower()
    if code not in WHISPER_LANGUAGES:
        raise ConfigError(f"language {language!r} is not a Whisper language code (e.g. 'en', 'es', 'de')")
    return code


def main_language(segments: Iterable[Segment], default: str = "und") -> str:
    """The language spoken longest in ``segments`` (``default`` when none is tagged): the one
    rule every transcriber uses for a file's ``language``."""
    spoken: Counter[str] = Counter()
    for segment in segments:
        if segment.language:
            spoken[segment.language] += max(segment.end - segment.start, 0.01)
    return spoken.most_common(1)[0][0] if spoken else default
