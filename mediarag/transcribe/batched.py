"""Batched decoding of VAD-cut windows with a transformers Whisper model (the PyTorch path).

How a file is transcribed (`TransformersTranscriber` with ``windows="vad"``):

1. Silero VAD (`mediarag.transcribe.vad`) finds the speech regions; quiet regions are raised
   (`level_speech`), and consecutive regions are packed into windows of at most 30 s, cut at
   pauses (always at one longer than `WINDOW_GAP_SECONDS`). Nothing is cut mid-word, and windows do not overlap, so no word is repeated or lost
   at a join (the chunk-and-stride pipeline of the AWS sample does both).
2. Windows are decoded ``batch_size`` at a time: log-mel features (on the model's device), one
   encoder pass, the language of each window from that encoder output (multilingual models,
   when no language is given), then ``generate`` with timestamps (which runs its own encoder
   pass: see `WindowDecoder.decode`).
3. Word times come from the cross-attention of the alignment heads in one teacher-forced
   decoder pass over each window's text (`mediarag.transcribe.alignment`: DTW, as
   openai/whisper does it); a word lasts from the start of its first token to the start of the
   token after it.

`WindowDecoder` does steps 2-3 for a batch of windows; `decode_windows` cuts a file into them.
``torch`` is imported by the caller (the model is already loaded).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..media import SAMPLE_RATE
from ..schema import Segment, Task, Word
from .alignment import dtw, normalize_weights, token_start_times
from .timing import TimedPiece, timed_segments
from .vad import level_speech, pack_regions

#: The longest window Whisper takes.
WINDOW_SECONDS = 30.0
#: A pause longer than this starts a new window: what is said after a long silence (often
#: another speaker or language) is decoded, and its language detected, on its own.
WINDOW_GAP_SECONDS = 3.0
#: Seconds per timestamp token.
TIME_PRECISION = 0.02
#: The most tokens a window's decoding may add: openai/whisper's sample length (half of the
#: decoder's 448 positions). With room for 392, beam search on an H200 (transformers 5.17, 64
#: windows of a 20-minute file) ran past the decoder's last position.
MAX_NEW_TOKENS = 224
#: Tokens per second of speech the decoding is given room for (dense speech needs about 8).
TOKENS_PER_SECOND = 12.0
#: Whisper's rule for looping output: text that compresses this well is dropped.
MAX_COMPRESSION_RATIO = 2.4
#: Languages written without spaces between words: a word is a run of tokens that decodes to
#: whole characters.
UNSPACED_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "yue"})


@dataclass(frozen=True)
class Window:
    """Speech to decode: samples (at most 30 s) and where they start in the file."""

    start: float
    samples: np.ndarray

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / SAMPLE_RATE


class WindowDecoder:
    """Decodes batches of windows with a loaded transformers Whisper model.

    Args:
        model: a ``WhisperForConditionalGeneration`` (on its device, in its dtype).
        processor: its processor (feature extractor and tokenizer).
        beam_size: beams per window; 1 is greedy.
        word_timestamps: time each word (cross-attention DTW).
        generate_kwargs: passed on to ``generate``.
    """

    def __init__(
        self,
        model: Any,
        processor: Any,
        *,
        beam_size: int = 5,
        word_timestamps: bool = True,
        generate_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.processor = processor
        self.beam_size = beam_size
        self.word_timestamps = word_timestamps
        self.generate_kwargs = dict(generate_kwargs or {})
        gen = model.generation_config
        self.multilingual = bool(getattr(gen, "is_multilingual", False)) and bool(getattr(gen, "lang_to_id", None))
        self.timestamp_begin = int(gen.no_timestamps_token_id) + 1
        self.eot = int(gen.eos_token_id if not isinstance(gen.eos_token_id, list) else gen.eos_token_id[0])
        self._languages = {int(i): t.strip("<|>") for t, i in (getattr(gen, "lang_to_id", None) or {}).items()}
        tokenizer = processor.tokenizer
        self._tokens: Callable[[list[int]], list[str]] = tokenizer.convert_ids_to_tokens
        self._decode: Callable[[list[int]], str] = tokenizer.decode

    # ------------------------------------------------------------------ one batch

    def decode(self, windows: Sequence[Window], language: str | None, task: Task) -> list[Segment]:
        """The segments of ``windows`` (file times), each tagged with its window's language
        (``language``, or the one detected from that window)."""
        if not windows:
            return []
        import torch

        model = self.model
        fe = self.processor.feature_extractor
        device = model.device
        features = fe(
            [w.samples for w in windows],
            sampling_rate=fe.sampling_rate,
            return_tensors="pt",
            device=str(device) if device.type == "cuda" else "cpu",
        )
        # Every window is padded to 30 s, as Whisper was trained: no attention mask is given
        # (handed one, generate ran several times slower and the result was the same).
        inputs = features.input_features.to(device, dtype=model.dtype)
        longest = max(w.end - w.start for w in windows)
        kwargs: dict[str, Any] = {
            "num_beams": self.beam_size,
            # A beam search ends once it holds num_beams finished candidates (as openai/whisper's
            # and CTranslate2's do); transformers' default searches on towards max_length.
            **({"early_stopping": True} if self.beam_size > 1 else {}),
            # Speech runs at 2-5 tokens a second: a window that needs far more is looping.
            "max_new_tokens": min(MAX_NEW_TOKENS, int(TOKENS_PER_SECOND * longest) + 32),
            **self.generate_kwargs,
        }
        with torch.inference_mode(), attention_kernels():
            encoded = model.get_encoder()(inputs)
            if self.multilingual:
                if language is None:
                    ids = model.detect_language(encoder_outputs=encoded).reshape(-1).tolist()
                    languages = [self._languages.get(int(i), "und") for i in ids]
                else:
                    languages = [language] * len(windows)
                kwargs.update(language=list(languages), task=task)
            else:
                languages = ["en"] * len(windows)
            # generate runs the encoder again: handed ``encoder_outputs`` (transformers 5.x), its
            # timestamp rules let a window run past 30 s and repeat its text (seen on
            # tests/data/librivox_en_concat.wav), so the encoder output above serves only the
            # language detection and the word alignment.
            out = model.generate(
                input_features=inputs,
                return_timestamps=True,
                **kwargs,
            )
            sequences = (out["sequences"] if isinstance(out, dict) else out).tolist()
            parsed = [self._parse(tokens, window) for tokens, window in zip(sequences, windows)]
            starts = (
                self._align(encoded.last_hidden_state, windows, parsed, languages, task)
                if self.word_timestamps
                else [None] * len(windows)
            )
        segments: list[Segment] = []
        for window, pieces, times, spoken in zip(windows, parsed, starts, languages):
            timed = self._pieces(pieces, times, window, spoken)
            segments += timed_segments(timed, start=window.start, stop=window.end, language=spoken)
        return segments

    # ------------------------------------------------------------------ reading the tokens

    def _parse(self, tokens: list[int], window: Window) -> list[tuple[float | None, float | None, list[int]]]:
        """A window's tokens as ``(start, end, text tokens)`` per pair of timestamp tokens
        (file times; an unclosed last piece ends at the window's end)."""
        pieces: list[tuple[float | None, float | None, list[int]]] = []
        start: float | None = None
        text: list[int] = []
        for token in tokens:
            if token >= self.timestamp_begin:
                t = min(window.start + (token - self.timestamp_begin) * TIME_PRECISION, window.end)
                if text:
                    pieces.append((start, t, text))
                    start, text = None, []
                else:
                    start = t
            elif token < self.eot:
                text.append(token)
            elif token == self.eot:
                break
        if text:
            pieces.append((start, window.end, text))
        return pieces

    def _pieces(
        self,
        parsed: list[tuple[float | None, float | None, list[int]]],
        times: np.ndarray | None,
        window: Window,
        language: str,
    ) -> list[TimedPiece]:
        """Timed pieces with their words (``times``: each text token's start, then the end of
        the last one, in window time); looping text is dropped."""
        out: list[TimedPiece] = []
        first = 0  # index of the piece's first token among the window's text tokens
        for start, end, text in parsed:
            words: tuple[Word, ...] = ()
            if times is not None:
                words = tuple(
                    Word(start=window.start + float(times[a]), end=window.start + float(times[b]), text=word)
                    for word, a, b in self._split_words(text, first, language)
                )
            first += len(text)
            body = self._decode(text).strip()
            if body and not _loops(body):
                out.append(TimedPiece(start, end, body, words, language))
        return out

    def _split_words(self, text: list[int], first: int, language: str) -> list[tuple[str, int, int]]:
        """The words of a piece's tokens: ``(text, index of its first token, index of the token
        after it)``, indices counted from ``first``."""
        unspaced = language in UNSPACED_LANGUAGES
        groups: list[list[int]] = []
        for k, piece in enumerate(self._tokens(text)):
            if not groups:
                new_word = True
            elif unspaced:
                new_word = _valid(self._decode([text[j] for j in groups[-1]]))
            else:
                new_word = (piece or "").startswith("Ġ") and not _is_punctuation(self._decode([text[k]]))
            if new_word:
                groups.append([k])
            else:
                groups[-1].append(k)
        words = []
        for group in groups:
            word = self._decode([text[j] for j in group])
            if word.strip():
                words.append((word, first + group[0], first + group[-1] + 1))
        return words

    # ------------------------------------------------------------------ word times

    def _align(
        self,
        encoded: Any,
        windows: Sequence[Window],
        parsed: list[list[tuple[float | None, float | None, list[int]]]],
        languages: list[str],
        task: Task,
    ) -> list[np.ndarray | None]:
        """Each window's token start times (seconds into the window; one more for the end of
        the last token) by DTW over the alignment heads' cross-attention, from one
        teacher-forced decoder pass over the text with ``<|notimestamps|>``."""
        import torch

        gen = self.model.generation_config
        heads = [tuple(h) for h in (getattr(gen, "alignment_heads", None) or ())]
        texts = [[t for _, _, tokens in pieces for t in tokens] for pieces in parsed]
        if not heads or not any(texts):
            return [None] * len(windows)
        prompts = [self._prompt(lang, task) for lang in languages]
        rows = [len(text) + 1 for text in texts]  # the text tokens and <|endoftext|>
        length = max(len(p) + len(t) + 1 for p, t in zip(prompts, texts))
        ids = torch.full((len(windows), length), self.eot, dtype=torch.long)
        for b, (prompt, text) in enumerate(zip(prompts, texts)):
            ids[b, : len(prompt) + len(text)] = torch.tensor(prompt + text)
        decoder = self.model.model.decoder
        self.model.set_attn_implementation("eager")  # the attention weights are needed
        try:
            out = decoder(input_ids=ids.to(encoded.device), encoder_hidden_states=encoded, output_attentions=True)
        finally:
            self.model.set_attn_implementation("sdpa")
        weights = torch.stack([out.cross_attentions[layer][:, head] for layer, head in heads], dim=1)
        weights = weights.float().cpu().numpy()  # (windows, heads, tokens, frames)
        frames = [max(1, min(weights.shape[-1], int(round((w.end - w.start) * 50)))) for w in windows]
        costs = np.zeros((len(windows), max(rows), max(frames)), np.float32)
        for b, (prompt, n) in enumerate(zip(prompts, rows)):
            first = len(prompt) - 1  # the row of <|notimestamps|>, which predicts the first token
            matrix = normalize_weights(weights[b, :, first : first + n, : frames[b]])
            costs[b, :n, : frames[b]] = -matrix
        paths = dtw(costs, rows, frames)
        return [token_start_times(path) if text else None for path, text in zip(paths, texts)]

    def _prompt(self, language: str, task: Task) -> list[int]:
        """The decoder's start tokens without timestamps: start of transcript, the language and
        the task (multilingual models), no timestamps."""
        gen = self.model.generation_config
        prompt = [int(gen.decoder_start_token_id)]
        if self.multilingual:
            prompt += [int(gen.lang_to_id[f"<|{language}|>"]), int(gen.task_to_id[task])]
        return prompt + [int(gen.no_timestamps_token_id)]


def attention_kernels() -> Any:
    """A context in which SDPA attention uses the flash, memory-efficient or plain kernels, not
    cuDNN's: cuDNN plans its kernel for each new key length, and a decoder's cache grows by one
    every step (measured on an H200, base, 64 windows: 33x real time with it, 58x without)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])


def decode_windows(
    decoder: WindowDecoder,
    samples: np.ndarray,
    regions: list[tuple[float, float]],
    *,
    sample_rate: int,
    language: str | None,
    task: Task,
    batch_size: int,
    progress: Callable[[float], None] | None = None,
) -> list[Segment]:
    """Transcribe ``samples`` over its speech ``regions``: packed into windows of at most 30 s,
    quiet regions raised, decoded ``batch_size`` windows at a time."""
    spans = pack_regions(regions, WINDOW_SECONDS, max_gap=WINDOW_GAP_SECONDS)
    segments: list[Segment] = []
    for first in range(0, len(spans), batch_size):
        batch: list[Window] = []
        for a, b in spans[first : first + batch_size]:
            piece = samples[int(a * sample_rate) : int(b * sample_rate)].copy()
            inside = [(max(s, a) - a, min(e, b) - a) for s, e in regions if e > a and s < b]
            level_speech(piece, inside, sample_rate)
            batch.append(Window(start=a, samples=piece))
        segments += decoder.decode(batch, language, task)
        if progress:
            progress(batch[-1].end)
    segments.sort(key=lambda s: (s.start, s.end))
    return segments


def _loops(text: str) -> bool:
    data = text.encode("utf-8")
    return len(data) > 0 and len(data) / len(zlib.compress(data)) > MAX_COMPRESSION_RATIO


def _valid(text: str) -> bool:
    """Whether a token run decodes to whole characters (no replacement character)."""
    return bool(text.strip()) and "\ufffd" not in text


def _is_punctuation(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and all(not c.isalnum() for c in stripped)
