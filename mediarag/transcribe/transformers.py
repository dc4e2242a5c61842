"""Transcription with a Hugging Face ``transformers`` Whisper model: the PyTorch path.

Two ways to cut a long file (``windows``):

``"vad"``
    Batched VAD-cut windows of at most 30 s (`mediarag.transcribe.batched`): fp16 and SDPA
    attention on a GPU, word timestamps, the language detected per window. The way to run on a
    GPU where CTranslate2's CUDA build is not available.
``"chunks"`` (the default, kept as the AWS sample's mode)
    ``pipeline("automatic-speech-recognition")``, audio cut into overlapping chunks
    (``chunk_length_s`` with ``stride_length_s`` on each side), segment timestamps from Whisper's
    timestamp tokens, and ``language``/``task`` passed to ``generate``. Its chunk merging repeats
    and drops words at chunk joins (benchmarks/results/asr.md).

The packaged models (``base``, ``tiny.en``) ship in CTranslate2 format and are
converted once into a transformers checkpoint in the cache (see `._ct2_to_hf`). ``torch`` and
``transformers`` are imported when the model is loaded, not when this module is.
"""

from __future__ import annotations


import math
import threading
from typing import Any

from ..errors import ConfigError, MissingDependencyError, ModelError
from ..media import SAMPLE_RATE, Audio
from ..schema import Segment, Task, Transcript
from .base import ProgressCallback
from .batched import WINDOW_SECONDS, WindowDecoder, decode_windows
from .batching import WindowBatcher
from .languages import check_whisper_language, main_language
from .timing import TimedPiece, timed_segments
from .vad import RegionCache, VadOptions, speech_regions

#: Seconds of audio the language is detected from (one Whisper window).
DETECT_SECONDS = 30.0
_TASKS = ("transcribe", "translate")
_WINDOWS = ("chunks", "vad")
#: Windows decoded together in ``windows="vad"`` mode when no batch size is given.
VAD_BATCH_CPU = 8
VAD_BATCH_GPU = 32
#: Seconds the thread holding the model waits for a full batch when no ``batch_linger`` is
#: given: on a GPU a batch costs about the same whether full or not (an H200, base, beam 5,
#: 48 files: 997x real time without waiting, 1,013x and 1,112x with 1.5 s;
#: benchmarks/results/scale.md); on a CPU it does not wait.
VAD_LINGER_GPU = 1.5


class TransformersTranscriber:
    """A :class:`~mediarag.transcribe.base.Transcriber` running Whisper through ``transformers``.

    ``model`` is a packaged alias (``base``, ``tiny.en``), a local transformers or CTranslate2
    Whisper directory, or a hub name. ``device`` is ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or
    ``auto``. ``dtype`` (``float32``, ``float16``, ``bfloat16`` or a ``torch.dtype``) defaults to
    float16 on a GPU and float32 otherwise.

    Audio longer than one Whisper window (30 s) is cut into ``chunk_length_s`` chunks (at most 30)
    overlapping by ``stride_length_s`` on each side, decoded ``batch_size`` at a time and merged
    by the pipeline; ``chunk_length_s=0`` leaves it to Whisper's sequential long-form decoding
    instead, which measured both faster and more accurate on 2 CPU cores. Shorter audio is
    decoded whole. ``generate_kwargs`` go to ``generate``; decoding follows the pipeline's
    default (5 beams), ``{"num_beams": 1}`` makes it greedy and about 2x faster on a CPU.

    With ``language=None`` the language is detected once, from the first 30 s, and every segment
    is tagged with it; English-only models always report ``en``. With ``task="translate"`` the
    text is English and the languages reported are still the spoken one.

    ``windows="vad"`` transcribes the way `mediarag.transcribe.batched` describes instead:
    ``batch_size`` windows (default 8 on a CPU, 32 on a GPU; when several threads transcribe at
    once (`share`), the thread holding the model waits up to ``batch_linger`` seconds for a full
    batch: default 1.5 on a GPU, 0 on a CPU) decoded with ``beam_size`` beams,
    words timed (``word_timestamps``), the language detected per window, SDPA attention, by
    mediarag's own batched search on the device (`mediarag.transcribe.decoding`); the chunk and
    stride settings and ``generate_kwargs`` are not used. `prepare` runs its VAD ahead of
    `transcribe`. Threads transcribing at the same time share `batcher`, so their files' windows
    are decoded together.
    """

    def __init__(
        self,
        model: str = "base",
        device: str = "cpu",
        chunk_length_s: float | None = 20.0,
        stride_length_s: float | None = 5.0,
        batch_size: int | None = None,
        dtype: Any = None,
        *,
        generate_kwargs: dict[str, Any] | None = None,
        windows: str = "chunks",
        beam_size: int = 5,
        word_timestamps: bool = True,
        batch_linger: float | None = None,
    ) -> None:
        chunk = float(chunk_length_s or 0.0)
        if not math.isfinite(chunk) or chunk < 0 or chunk > 30:
            raise ConfigError(
                f"chunk_length_s must be between 0 and 30 seconds, got {chunk_length_s}"
            )
        stride = float(stride_length_s) if stride_length_s is not None else chunk / 6
        if chunk and (not math.isfinite(stride) or stride < 0 or 2 * stride >= chunk):
            raise ConfigError(
                f"stride_length_s ({stride_length_s}) must be at least 0 and less than half of "
                f"chunk_length_s ({chunk_length_s})"
            )
        if batch_size is not None and int(batch_size) < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        if batch_linger is not None and not (math.isfinite(batch_linger) and batch_linger >= 0):
            raise ConfigError(f"batch_linger must be 0 or more seconds, got {batch_linger}")
        if windows not in _WINDOWS:
            raise ConfigError(f"windows must be 'chunks' or 'vad', got {windows!r}")
        if int(beam_size) < 1:
            raise ConfigError(f"beam_size must be at least 1, got {beam_size}")
        self.model_name = model
        self.device = device
        self.chunk_length_s = chunk
        self.stride_length_s = stride
        self.batch_size = int(batch_size) if batch_size is not None else None
        self.dtype = dtype
        self.generate_kwargs = dict(generate_kwargs or {})
        self.windows = windows
        self.beam_size = int(beam_size)
        self.word_timestamps = word_timestamps
        self.batch_linger = batch_linger
        self._senders = 1
        self._regions = RegionCache()
        self._decoder: WindowDecoder | None = None
        self._batcher: WindowBatcher | None = None
        self._pipe: Any = None
        self._model: Any = None
        self._processor: Any = None
        self._path: str | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"transformers:{self.model_name}"

    @property
    def is_multilingual(self) -> bool:
        self.warm_up()
        gen = self._model.generation_config
        flag = getattr(gen, "is_multilingual", None)
        if flag is None:
            flag = int(self._model.config.vocab_size) >= 51865
        return bool(flag) and bool(getattr(gen, "lang_to_id", None))

    # ------------------------------------------------------------------ loading

    def warm_up(self) -> None:
        if self._pipe is not None:
            return
        with self._lock:
            if self._pipe is not None:
                return
            self._load()

    def _load(self) -> None:
        try:
            import torch
            import transformers
        except ImportError as exc:
            raise MissingDependencyError(
                "transformers", extra="transformers", purpose="the transformers transcriber"
            ) from exc
        from ._ct2_to_hf import hf_whisper_dir

        path = hf_whisper_dir(self.model_name)  # raises ModelError itself
        self._path = path
        device = _torch_device(self.device, torch)
        dtype = _torch_dtype(self.dtype, device, torch)
        try:
            processor = transformers.AutoProcessor.from_pretrained(path)
            extra = {"attn_implementation": "sdpa"} if self.windows == "vad" else {}
            model = transformers.AutoModelForSpeechSeq2Seq.from_pretrained(
                path, **{_dtype_kwarg(transformers): dtype}, **extra
            )
            model = model.to(device).eval()
            pipe = transformers.pipeline(
                "automatic-speech-recognition",
                model=model,
                tokenizer=processor.tokenizer,
                feature_extractor=processor.feature_extractor,
                device=device,
            )
        except Exception as exc:  # noqa: BLE001 - any loading failure becomes one clear error
            where = f" ({path})" if path != self.model_name else ""
            raise ModelError(
                f"cannot load Whisper model '{self.model_name}'{where} with transformers: {exc}"
            ) from exc
        if getattr(model.config, "model_type", "") != "whisper":
            raise ModelError(
                f"'{self.model_name}' is a {model.config.model_type!r} model; the transformers "
                "transcriber needs a Whisper model"
            )
        self._processor, self._model, self._pipe = processor, model, pipe
        if self.windows == "vad":
            self._decoder = WindowDecoder(
                model,
                processor,
                beam_size=self.beam_size,
                word_timestamps=self.word_timestamps,
            )
            self._batcher = WindowBatcher(
                self._decoder.decode,
                self.vad_batch_size_for(model),
                finish=self._decoder.finish,
                linger=self.linger_for(model),
            )
            self._batcher.senders = self._senders

    @property
    def vad_batch_size(self) -> int:
        """Windows decoded together in ``windows="vad"`` mode."""
        self.warm_up()
        return self.vad_batch_size_for(self._model)

    def vad_batch_size_for(self, model: Any) -> int:
        if self.batch_size is not None:
            return self.batch_size
        return VAD_BATCH_GPU if model.device.type == "cuda" else VAD_BATCH_CPU

    def share(self, threads: int) -> None:
        """Say how many threads transcribe with this transcriber at the same time
        (`mediarag.engines.PipelinedEngine` does): with more than one, the thread holding the
        model waits up to ``batch_linger`` for the others' windows to fill a batch."""
        self._senders = max(1, int(threads))
        if self._batcher is not None:
            self._batcher.senders = self._senders

    def linger_for(self, model: Any) -> float:
        """Seconds the thread holding the model waits for a full batch (``windows="vad"``)."""
        if self.batch_linger is not None:
            return float(self.batch_linger)
        return VAD_LINGER_GPU if model.device.type == "cuda" else 0.0

    @property
    def batcher(self) -> WindowBatcher:
        """What decodes the windows (``windows="vad"``), shared by the threads that transcribe
        with this transcriber at the same time: their windows are decoded in common batches."""
        self.warm_up()
        if self._batcher is None:
            raise ConfigError('only windows="vad" decodes windows in batches')
        return self._batcher

    def prepare(self, audio: Audio) -> None:
        """Find the speech in ``audio`` now (CPU work), so that `transcribe` of the same audio
        starts decoding at once: an engine calls this on a worker thread while the model is busy
        with another file. Does nothing in ``windows="chunks"`` mode."""
        if self.windows == "vad" and audio.samples.size:
            self._regions.put(audio, self._speech(audio))

    def _speech(self, audio: Audio) -> list[tuple[float, float]]:
        return speech_regions(audio, VadOptions(max_region_seconds=WINDOW_SECONDS))

    # ------------------------------------------------------------------ transcription

    def transcribe(
        self,
        audio: Audio,
        *,
        language: str | None = None,
        task: Task = "transcribe",
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        if task not in _TASKS:
            raise ConfigError(f"task must be 'transcribe' or 'translate', got {task!r}")
        if audio.sample_rate != SAMPLE_RATE:
            raise ConfigError(f"audio must be sampled at {SAMPLE_RATE} Hz, got {audio.sample_rate}")
        self.warm_up()
        multilingual = self.is_multilingual
        if not multilingual:
            if task == "translate":
                raise ConfigError(
                    f"model '{self.model_name}' is English-only and cannot translate; "
                    "use a multilingual model such as 'base'"
                )
            if language is not None and _normalize_language(language) != "en":
                raise ConfigError(
                    f"model '{self.model_name}' is English-only; got language={language!r}"
                )
            lang = "en"
        elif language is not None:
            lang = self._check_language(language)
        else:
            lang = ""  # detected below
        duration = audio.duration
        if audio.samples.size == 0:
            if progress:
                progress(0.0)
            return Transcript(source=audio.source, language=lang or "und", duration=0.0, task=task)

        if self.windows == "vad":
            return self._transcribe_windows(audio, lang or None, task, progress)
        try:
            if not lang:
                lang = self.detect_language(audio)
            generate_kwargs = dict(self.generate_kwargs)
            if multilingual:
                generate_kwargs.update(language=lang, task=task)
            call: dict[str, Any] = {
                "return_timestamps": True,
                "generate_kwargs": generate_kwargs,
                "batch_size": self.batch_size or 1,
            }
            # Audio that fits one Whisper window is decoded whole: chunking it would only add the
            # pipeline's chunk-merging errors (text repeated or lost where chunks overlap).
            window = float(getattr(self._processor.feature_extractor, "chunk_length", 30) or 30)
            if self.chunk_length_s and duration > window:
                call["chunk_length_s"] = self.chunk_length_s
                call["stride_length_s"] = self.stride_length_s
                call["ignore_warning"] = True  # the caveat about chunking seq2seq models
            import numpy as np

            samples = np.ascontiguousarray(audio.samples, dtype=np.float32)
            result = self._pipe({"raw": samples, "sampling_rate": SAMPLE_RATE}, **call)
        except (ConfigError, ModelError):
            raise
        except Exception as exc:  # noqa: BLE001 - inference failures name the model and file
            raise ModelError(
                f"Whisper model '{self.model_name}' (transformers) failed on {audio.source}: {exc}"
            ) from exc

        segments = _segments_from_chunks(_chunks_of(result), duration, lang)
        if progress:
            progress(duration)
        return Transcript(
            source=audio.source, language=lang, duration=duration, segments=segments, task=task
        )

    def _transcribe_windows(
        self, audio: Audio, language: str | None, task: Task, progress: ProgressCallback | None
    ) -> Transcript:
        regions = self._regions.pop(audio)
        if regions is None:
            regions = self._speech(audio)
        try:
            segments = decode_windows(
                self.batcher,
                audio.samples,
                regions,
                sample_rate=audio.sample_rate,
                language=language,
                task=task,
                progress=progress,
            )
        except (ConfigError, ModelError):
            raise
        except Exception as exc:  # noqa: BLE001 - inference failures name the model and file
            raise ModelError(
                f"Whisper model '{self.model_name}' (transformers) failed on {audio.source}: {exc}"
            ) from exc
        if progress:
            progress(audio.duration)
        return Transcript(
            source=audio.source,
            language=language or main_language(segments),
            duration=audio.duration,
            segments=segments,
            task=task,
        )

    def detect_language(self, audio: Audio) -> str:
        """The language spoken in the first 30 s as an ISO code; ``en`` for English-only models."""
        self.warm_up()
        if not self.is_multilingual:
            return "en"
        import torch

        model, fe = self._model, self._processor.feature_extractor
        lang_to_id: dict[str, int] = dict(model.generation_config.lang_to_id)
        head = audio.samples[: int(DETECT_SECONDS * audio.sample_rate)]
        try:
            features = fe(head, sampling_rate=audio.sample_rate, return_tensors="pt").input_features
            features = features.to(model.device, dtype=model.dtype)
            start = torch.tensor(
                [[model.generation_config.decoder_start_token_id]], device=model.device
            )
            with torch.inference_mode():
                logits = model(
                    input_features=features, decoder_input_ids=start, use_cache=False
                ).logits[0, -1]
            ids = torch.tensor(list(lang_to_id.values()), device=logits.device)
            best = int(ids[int(torch.argmax(logits[ids]))])
        except Exception as exc:  # noqa: BLE001
            raise ModelError(
                f"Whisper model '{self.model_name}' (transformers) could not detect the language "
                f"of {audio.source}: {exc}"
            ) from exc
        token = next(t for t, i in lang_to_id.items() if i == best)
        return token.strip("<|>")

    def check_language(self, language: str | None) -> None:
        """`ConfigError` for a language (an ISO code or a name, e.g. 'english') Whisper does not
        know, before any audio is read."""
        if language is not None:
            check_whisper_language(_normalize_language(language))

    def _check_language(self, language: str) -> str:
        code = _normalize_language(language)
        known = {t.strip("<|>") for t in self._model.generation_config.lang_to_id}
        if code not in known:
            raise ConfigError(
                f"language {language!r} is not one model '{self.model_name}' knows; "
                f"use an ISO code such as {', '.join(sorted(known)[:8])}, ..."
            )
        return code


# ---------------------------------------------------------------------- helpers


def _normalize_language(language: str) -> str:
    code = language.strip().lower().removeprefix("<|").removesuffix("|>")
    try:
        from transformers.models.whisper.tokenization_whisper import TO_LANGUAGE_CODE
    except ImportError:  # pragma: no cover - transformers is present whenever this runs
        return code
    return str(TO_LANGUAGE_CODE.get(code, code))


def _chunks_of(result: Any) -> list[dict[str, Any]]:
    if isinstance(result, list):  # a batch of one
        result = result[0] if result else {}
    chunks = result.get("chunks") if isinstance(result, dict) else None
    if chunks is None:  # no timestamps came back: one chunk over the whole audio
        text = result.get("text", "") if isinstance(result, dict) else ""
        return [{"timestamp": (0.0, None), "text": text}]
    return list(chunks)


def _as_time(value: Any) -> float | None:
    if value is None:
        return None
    try:
        t = float(value)
    except (TypeError, ValueError):
        return None
    return t if math.isfinite(t) else None


def _segments_from_chunks(chunks: list[dict[str, Any]], duration: float, language: str) -> list[Segment]:
    """The pipeline's chunks as segments (`mediarag.transcribe.timing.timed_segments`: empty
    chunks dropped, the open end of the last chunk is the audio's end, times clamped and
    ordered)."""
    pieces = []
    for chunk in chunks:
        stamp = chunk.get("timestamp") or (None, None)
        start, end = (_as_time(stamp[0]), _as_time(stamp[1])) if len(stamp) == 2 else (None, None)
        pieces.append(TimedPiece(start, end, str(chunk.get("text") or "")))
    return timed_segments(pieces, stop=duration, language=language)


def _torch_device(device: str, torch: Any) -> Any:
    name = (device or "cpu").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"device {device!r} is not a torch device (cpu, cuda, cuda:N, mps, auto)"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} was asked for but torch sees no CUDA GPU")
    return dev


def _torch_dtype(dtype: Any, device: Any, torch: Any) -> Any:
    if dtype is None or dtype == "auto":
        return torch.float16 if device.type in ("cuda", "mps") else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    value = getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise ConfigError(
            f"dtype {dtype!r} is not a floating torch dtype (float32, float16, bfloat16)"
        )
    return value


def _dtype_kwarg(transformers: Any) -> str:
    """``from_pretrained`` takes ``dtype`` from transformers 4.56 on, ``torch_dtype`` before."""
    try:
        major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    except ValueError:
        return "dtype"
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
