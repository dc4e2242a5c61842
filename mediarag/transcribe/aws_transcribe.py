"""Amazon Transcribe (speech to text) and Amazon Translate (text to another language).

`AmazonTranscriber` uploads the audio as WAV to an S3 staging prefix, starts a transcription
job, polls it with a growing interval until it ends or times out, reads the result JSON the job
wrote next to the audio, and turns its items into timed words and sentences. A job transcribes
one language per file; when the language is not given, Transcribe identifies it (or several,
with ``multiple_languages=True``). The staged audio, the result and the job are deleted after.

`AmazonTranslator` translates segments in batches under TranslateText's size limit, keeping
each segment's times; `AmazonTranscriber` uses it for ``task="translate"``.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from ..aws.clients import AwsConfig, make_client, service_errors
from ..aws.s3 import S3, S3Url
from ..errors import ConfigError, ServiceError
from ..media import Audio, wav_bytes
from ..schema import Segment, Task, Transcript, Word
from ..sentences import join_texts, merge_sentences
from .base import ProgressCallback
from .languages import main_language
from .timing import TimedPiece, timed_segments

#: Transcribe's language code for an ISO 639-1 code (its most common variant).
TRANSCRIBE_LANGUAGES = {
    "af": "af-ZA", "ar": "ar-SA", "ca": "ca-ES", "cs": "cs-CZ", "da": "da-DK", "de": "de-DE",
    "el": "el-GR", "en": "en-US", "es": "es-ES", "fa": "fa-IR", "fi": "fi-FI", "fr": "fr-FR",
    "he": "he-IL", "hi": "hi-IN", "hr": "hr-HR", "id": "id-ID", "it": "it-IT", "ja": "ja-JP",
    "ko": "ko-KR", "ms": "ms-MY", "nl": "nl-NL", "no": "no-NO", "pl": "pl-PL", "pt": "pt-BR",
    "ro": "ro-RO", "ru": "ru-RU", "sk": "sk-SK", "sv": "sv-SE", "ta": "ta-IN", "te": "te-IN",
    "th": "th-TH", "tr": "tr-TR", "uk": "uk-UA", "vi": "vi-VN", "zh": "zh-CN",
}  # fmt: skip

#: TranslateText takes at most 10,000 bytes of UTF-8 per request; batches keep a margin.
TRANSLATE_MAX_BYTES = 9_000


def transcribe_language(code: str) -> str:
    """A Transcribe language code (``en-US``) for ``en``, ``en-us`` or ``en-US``."""
    if "-" in code:
        lang, region = code.split("-", 1)
        return f"{lang.lower()}-{region.upper()}"
    try:
        return TRANSCRIBE_LANGUAGES[code.lower()]
    except KeyError:
        raise ConfigError(f"no Amazon Transcribe language for {code!r}; give one such as 'en-US'") from None


def iso_language(code: str | None) -> str | None:
    """``en`` for ``en-US``."""
    return code.split("-", 1)[0].lower() if code else None


class AmazonTranscriber:
    """A `mediarag.transcribe.base.Transcriber` over Amazon Transcribe.

    Args:
        staging_url: ``s3://bucket/prefix`` where audio is uploaded and results are written.
        language_options: Transcribe codes (``["en-US", "es-ES"]``) language identification
            chooses among; recommended when the language is not given.
        multiple_languages: identify several languages in one file (IdentifyMultipleLanguages).
        translate_to: target language of ``task="translate"`` (Amazon Translate).
        poll_seconds: the first wait between status checks.
        max_poll_seconds: the longest wait between status checks (the wait grows by half each time).
        timeout: seconds a job may take before `ServiceError` (``timeout``).
        keep_files: leave the staged audio, the result JSON and the job in place.
        config: region, credentials and retries; ``client``, ``s3`` and ``translator``: ready ones.
    """

    def __init__(
        self,
        staging_url: str,
        *,
        language_options: Sequence[str] | None = None,
        multiple_languages: bool = False,
        translate_to: str = "en",
        poll_seconds: float = 2.0,
        max_poll_seconds: float = 30.0,
        timeout: float = 4 * 3600.0,
        keep_files: bool = False,
        config: AwsConfig | None = None,
        client: Any = None,
        s3: S3 | None = None,
        translator: AmazonTranslator | None = None,
    ) -> None:
        self.staging = S3Url.parse(staging_url)
        self.language_options = [transcribe_language(c) for c in language_options or ()]
        self.multiple_languages = multiple_languages
        self.translate_to = translate_to
        self.poll_seconds = poll_seconds
        self.max_poll_seconds = max_poll_seconds
        self.timeout = timeout
        self.keep_files = keep_files
        self.config = config or AwsConfig()
        self._client = client
        self.s3 = s3 or S3(self.config)
        self._translator = translator

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("transcribe", self.config)
        return self._client

    @property
    def translator(self) -> AmazonTranslator:
        if self._translator is None:
            self._translator = AmazonTranslator(self.translate_to, config=self.config)
        return self._translator

    def warm_up(self) -> None:
        """Nothing to load."""

    def check_language(self, language: str | None) -> None:
        """`ConfigError` for a language code Amazon Transcribe has no code for."""
        if language is not None:
            transcribe_language(language)

    def job_request(self, job: str, media_url: str, sample_rate: int, language: str | None) -> dict[str, Any]:
        """The StartTranscriptionJob request for one staged audio file."""
        output = self.staging.child(f"{job}.json")
        request: dict[str, Any] = {
            "TranscriptionJobName": job,
            "Media": {"MediaFileUri": media_url},
            "MediaFormat": "wav",
            "MediaSampleRateHertz": sample_rate,
            "OutputBucketName": output.bucket,
            "OutputKey": output.key,
        }
        if language is not None:
            request["LanguageCode"] = transcribe_language(language)
        else:
            request["IdentifyMultipleLanguages" if self.multiple_languages else "IdentifyLanguage"] = True
            if self.language_options:
                request["LanguageOptions"] = self.language_options
        return request

    def transcribe(
        self,
        audio: Audio,
        *,
        language: str | None = None,
        task: Task = "transcribe",
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        job = f"mediarag-{uuid.uuid4().hex}"
        media_url = str(self.staging.child(f"{job}.wav"))
        result_url = str(self.staging.child(f"{job}.json"))
        request = self.job_request(job, media_url, audio.sample_rate, language)
        try:
            self.s3.put(media_url, wav_bytes(audio.samples, audio.sample_rate), "audio/wav")
            resource = f"Amazon Transcribe job '{job}'"
            with service_errors(resource):
                self.client.start_transcription_job(**request)
            self._wait(job, resource)
            result = json.loads(self.s3.get(result_url))
        finally:
            if not self.keep_files:
                self._clean_up(job, [media_url, result_url])
        segments, spoken = result_segments(result, audio.duration)
        if task == "translate":
            segments = self.translator.translate(segments)
        if progress:
            progress(audio.duration)
        main = iso_language(request.get("LanguageCode")) or spoken or "und"
        return Transcript(source=audio.source, language=main, duration=audio.duration, segments=segments, task=task)

    def _wait(self, job: str, resource: str) -> None:
        deadline = time.monotonic() + self.timeout
        delay = self.poll_seconds
        while True:
            with service_errors(resource):
                status = self.client.get_transcription_job(TranscriptionJobName=job)["TranscriptionJob"]
            state = status.get("TranscriptionJobStatus")
            if state == "COMPLETED":
                return
            if state == "FAILED":
                raise ServiceError(resource, "failed", status.get("FailureReason") or "no reason given")
            if time.monotonic() + delay > deadline:
                raise ServiceError(resource, "timeout", f"still {state} after {self.timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 1.5, self.max_poll_seconds)

    def _clean_up(self, job: str, urls: list[str]) -> None:
        with contextlib.suppress(ServiceError):
            self.s3.delete(urls)
        with contextlib.suppress(Exception):
            self.client.delete_transcription_job(TranscriptionJobName=job)


def result_segments(result: dict[str, Any], duration: float) -> tuple[list[Segment], str | None]:
    """Sentences with timed words from a Transcribe result JSON, and its main language (ISO).

    Pronunciation items become words (times clamped to ``[0, duration]``); punctuation items
    are attached to the word before them. Words are grouped by language (an item's own
    ``language_code`` when several languages were identified) and cut into sentences.
    """
    results = result.get("results", result)
    main = iso_language(results.get("language_code") or result.get("language_code"))
    runs: list[tuple[str | None, list[Word]]] = []
    for item in results.get("items", ()):
        alternatives = item.get("alternatives") or [{}]
        content = str(alternatives[0].get("content", "")).strip()
        if not content:
            continue
        if item.get("type") == "punctuation":
            if runs and runs[-1][1]:
                last = runs[-1][1][-1]
                runs[-1][1][-1] = last.model_copy(update={"text": last.text + content})
            continue
        start = min(max(float(item.get("start_time", 0.0)), 0.0), duration)
        end = min(max(float(item.get("end_time", start)), start), duration)
        confidence = float(alternatives[0].get("confidence") or 1.0)
        language = iso_language(item.get("language_code")) or main
        word = Word(start=start, end=end, text=content, probability=confidence)
        if runs and runs[-1][0] == language:
            runs[-1][1].append(word)
        else:
            runs.append((language, [word]))
    pieces = [
        TimedPiece(words[0].start, max(w.end for w in words), join_texts(w.text for w in words), words, language)
        for language, words in runs
    ]
    fragments = timed_segments(pieces, stop=duration)
    if main is None and fragments:
        main = main_language(fragments)
    return merge_sentences(fragments, duration=duration), main


class AmazonTranslator:
    """Translates segments with Amazon Translate, keeping their times.

    Consecutive segments of one language are sent together, one per line, in requests of at
    most ``max_bytes`` of UTF-8; if a batch comes back with another number of lines, its
    segments are sent one by one. Each result keeps the spoken text in ``original_text`` and
    drops word times (they belong to the spoken words). Segments already in the target
    language are left as they are.

    Args:
        target: the language to translate into (ISO 639-1, e.g. ``en``).
        max_bytes: the largest request.
        config: region, credentials and retries; ``client``: a ready ``translate`` client.
    """

    resource = "Amazon Translate"

    def __init__(
        self,
        target: str = "en",
        *,
        max_bytes: int = TRANSLATE_MAX_BYTES,
        config: AwsConfig | None = None,
        client: Any = None,
    ) -> None:
        self.target = target
        self.max_bytes = max_bytes
        self.config = config or AwsConfig()
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("translate", self.config)
        return self._client

    def translate(self, segments: Sequence[Segment]) -> list[Segment]:
        out = list(segments)
        todo = [i for i, s in enumerate(out) if s.text.strip() and iso_language(s.language) != self.target]
        for batch in self._batches(out, todo):
            source = out[batch[0]].language or "auto"
            lines = self._text("\n".join(_one_line(out[i].text) for i in batch), source).split("\n")
            if len(lines) != len(batch):
                lines = [self._long_text(_one_line(out[i].text), source) for i in batch]
            for i, line in zip(batch, lines):
                seg = out[i]
                out[i] = seg.model_copy(
                    update={"text": line.strip(), "original_text": seg.original_text or seg.text, "words": ()}
                )
        return out

    def _batches(self, segments: list[Segment], todo: list[int]) -> list[list[int]]:
        batches: list[list[int]] = []
        size = 0
        for i in todo:
            length = len(_one_line(segments[i].text).encode("utf-8")) + 1
            same = batches and segments[batches[-1][-1]].language == segments[i].language
            if same and size + length <= self.max_bytes:
                batches[-1].append(i)
                size += length
            else:
                batches.append([i])
                size = length
        return batches

    def _long_text(self, text: str, source: str) -> str:
        """Translate a text, in word-aligned pieces when it is over the request limit."""
        if len(text.encode("utf-8")) <= self.max_bytes:
            return self._call(text, source)
        pieces, current = [], ""
        for word in text.split(" "):
            while len(word.encode("utf-8")) > self.max_bytes:  # a "word" longer than a request
                cut = len(word.encode("utf-8")[: self.max_bytes].decode("utf-8", "ignore"))
                pieces.append(word[:cut])
                word = word[cut:]
            trial = f"{current} {word}".strip()
            if current and len(trial.encode("utf-8")) > self.max_bytes:
                pieces.append(current)
                current = word
            else:
                current = trial
        pieces.append(current)
        return " ".join(self._call(p, source) for p in pieces if p)

    def _text(self, text: str, source: str) -> str:
        return self._long_text(text, source)

    def _call(self, text: str, source: str) -> str:
        with service_errors(self.resource):
            answer = self.client.translate_text(
                Text=text, SourceLanguageCode=source, TargetLanguageCode=self.target
            )
        return str(answer["TranslatedText"])


def _one_line(text: str) -> str:
    return " ".join(text.split())


