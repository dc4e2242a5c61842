"""Batched decoding of VAD-cut windows with a transformers Whisper model (the PyTorch path).

How a file is transcribed (`TransformersTranscriber` with ``windows="vad"``):

1. Silero VAD (`mediarag.transcribe.vad`) finds the speech regions; quiet regions are raised
   (`level_speech`), and consecutive regions are packed into windows of at most 30 s, cut at
   pauses (always at one longer than `WINDOW_GAP_SECONDS`). Nothing is cut mid-word, and
   windows do not overlap, so no word is repeated or lost at a join (the chunk-and-stride pipeline of the AWS sample does both).
2. Windows are decoded ``batch_size`` at a time: log-mel features (on the model's device), one
   encoder pass, the language of each window from that encoder output (multilingual models,
   when no language is given), then decoding with timestamps by `BatchDecoder`
   (`mediarag.transcribe.decoding`: greedy with one beam, else beam search), on the device.
3. Word times come from the cross-attention of the alignment heads in one teacher-forced
   decoder pass over each window's text (`mediarag.transcribe.alignment`: DTW, as
   openai/whisper does it); a word lasts from the start of its first token to the start of the
   token after it.

`WindowDecoder` does steps 2-3 for a batch of windows, in two parts: `WindowDecoder.decode`
does the model's work (features, encoder, search, word times: the alignment heads' weights on
the device, DTW on the CPU) and gives a `DecodedPass` per window, with the rest of the window
still to decode, if any; `WindowDecoder.finish` makes a window's segments from its passes.
`decode_windows` cuts a file into windows and hands them to a
`mediarag.transcribe.batching.WindowBatcher`, which decodes the windows of files transcribed at
the same time together, rests beside new windows, and lets each file's thread finish its own
windows while the model decodes the next batch.
``torch`` is imported by the caller (the model is already loaded).
"""

from __future__ import annotations

import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..media import SAMPLE_RATE
from ..schema import Segment, Task, Word
from .alignment import alignment_costs, dtw, token_start_times
from .batching import WindowBatcher
from .decoding import BatchDecoder
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
#: A window is decoded again from its last timestamp at most this many times (see
#: `WindowDecoder.decode`), when at least `MIN_REST_SECONDS` of it are left.
MAX_SEEKS = 3
MIN_REST_SECONDS = 0.5
#: Tokens per second of speech the decoding is given room for (dense speech needs about 8).
TOKENS_PER_SECOND = 12.0
#: Whisper's rule for looping output: text that compresses this well is dropped.
MAX_COMPRESSION_RATIO = 2.4
#: Languages written without spaces between words: a word is a run of tokens that decodes to
#: whole characters.
UNSPACED_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "yue"})


@dataclass(frozen=True)
class Window:
    """Speech to decode: samples (at most 30 s) and where they start in the file; ``seeks``:
    how many decodings of the same window came before (this is the rest they left)."""

    start: float
    samples: np.ndarray
    seeks: int = 0

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / SAMPLE_RATE


#: A window's decoded text: ``(start, end, text tokens)`` per pair of timestamps (file times).
Pieces = list[tuple["float | None", "float | None", list[int]]]


@dataclass(frozen=True)
class DecodedPass:
    """One decoding of (the rest of) a window: its pieces, language, where its text stops
    (the rest is decoded again, `WindowDecoder.decode`) and the start of each text token, then
    the end of the last one (seconds into the window), None without word times."""

    window: Window
    pieces: Pieces
    language: str
    stop: float
    times: np.ndarray | None


class WindowDecoder:
    """Decodes batches of windows with a loaded transformers Whisper model.

    Args:
        model: a ``WhisperForConditionalGeneration`` (on its device, in its dtype).
        processor: its processor (feature extractor and tokenizer).
        beam_size: beams per window; 1 is greedy.
        word_timestamps: time each word (cross-attention DTW).
    """

    def __init__(
        self,
        model: Any,
        processor: Any,
        *,
        beam_size: int = 5,
        word_timestamps: bool = True,
    ) -> None:
        self.model = model
        self.processor = processor
        self.beam_size = beam_size
        self.word_timestamps = word_timestamps
        gen = model.generation_config
        self.multilingual = bool(getattr(gen, "is_multilingual", False)) and bool(getattr(gen, "lang_to_id", None))
        self.timestamp_begin = int(gen.no_timestamps_token_id) + 1
        self.eot = int(gen.eos_token_id if not isinstance(gen.eos_token_id, list) else gen.eos_token_id[0])
        self._languages = {int(i): t.strip("<|>") for t, i in (getattr(gen, "lang_to_id", None) or {}).items()}
        tokenizer = processor.tokenizer
        self._tokens: Callable[[list[int]], list[str]] = tokenizer.convert_ids_to_tokens
        self._decode: Callable[[list[int]], str] = tokenizer.decode
        #: Its own decoder pass: the search, language detection and the alignment heads.
        self.fast = BatchDecoder(model)
        #: Seconds spent per phase, summed over batches: on the model (`decode`), log-mel
        #: ``features``, ``encode`` (with language detection), ``search``, ``align`` (word
        #: times: the alignment heads' weights and DTW); on a GPU each of these waits for its
        #: kernels, so the figures are its own. Without the model (`finish`, summed over the
        #: threads that finish windows): ``words`` (text and segments).
        self.times: dict[str, float] = defaultdict(float)

    # ------------------------------------------------------------------ one batch

    def decode_batch(self, windows: Sequence[Window], language: str | None, task: Task) -> list[list[Segment]]:
        """Each window's segments (file times), each tagged with its window's language
        (``language``, or the one detected from that window): `decode` until no rest is left,
        then `finish`."""
        done: list[list[DecodedPass]] = [[] for _ in windows]
        todo = list(range(len(windows)))
        current, languages = list(windows), [language] * len(windows)
        while todo:
            decoded = self.decode(current, languages, task)
            for index, (found, _) in zip(todo, decoded):
                done[index].append(found)
            again = [(index, rest) for index, (_, rest) in zip(todo, decoded) if rest is not None]
            todo = [index for index, _ in again]
            current = [window for _, (window, _) in again]
            languages = [lang for _, (_, lang) in again]
        return [self.finish(passes) for passes in done]

    def decode(
        self, windows: Sequence[Window], languages: Sequence[str | None], task: Task
    ) -> list[tuple[DecodedPass, tuple[Window, str] | None]]:
        """The model's part: one decoding of each window (in its language, or the one detected
        when None), its word times included, and the rest of the window left to decode, with
        its language, or None.

        Where decoding of a window ends on a pair of timestamps well before the window's end,
        the rest of the window is to be decoded again from the last timestamp (Whisper's own
        "seek", as openai/whisper and transformers' ``generate`` do), at most `MAX_SEEKS`
        times: the model often closes a window early when its last sentence runs close to the
        end."""
        import torch

        model = self.model
        fe = self.processor.feature_extractor
        device = model.device
        clock = _PhaseClock(self.times, device)
        # Every window is padded to 30 s, as Whisper was trained.
        if device.type == "cuda":
            inputs = log_mel(fe, [w.samples for w in windows], device).to(model.dtype)
        else:
            features = fe([w.samples for w in windows], sampling_rate=fe.sampling_rate, return_tensors="pt")
            inputs = features.input_features.to(device, dtype=model.dtype)
        clock.lap("features")
        with torch.inference_mode(), attention_kernels():
            encoded = model.get_encoder()(inputs).last_hidden_state
            cross = self.fast.layers.cross_cache(encoded)
            spoken: list[str]
            if not self.multilingual:
                spoken = ["en"] * len(windows)
            elif any(lang is None for lang in languages):
                start = int(model.generation_config.decoder_start_token_id)
                detected = self.fast.languages(cross, start, self._languages)
                spoken = [lang or found for lang, found in zip(languages, detected)]
            else:
                spoken = [str(lang) for lang in languages]
            clock.lap("encode")
            sequences = self._search(cross, windows, spoken, task)
            clock.lap("search")
            rests = [self._rest(tokens, window) for tokens, window in zip(sequences, windows)]
            parsed = [self._parse(tokens, window) for tokens, window in zip(sequences, windows)]
            times = (
                self._token_times(cross, windows, parsed, spoken, task)
                if self.word_timestamps
                else [None] * len(windows)
            )
            clock.lap("align")
        return [
            (
                DecodedPass(window, pieces, language, rest.start if rest is not None else window.end, starts),
                (rest, language) if rest is not None else None,
            )
            for window, pieces, language, rest, starts in zip(windows, parsed, spoken, rests, times)
        ]

    def finish(self, passes: Sequence[DecodedPass]) -> list[Segment]:
        """A window's segments from its decodings, in order (CPU work that needs no model)."""
        started = time.perf_counter()
        segments: list[Segment] = []
        for one in passes:
            timed = self._pieces(one.pieces, one.times, one.window, one.language)
            segments += timed_segments(timed, start=one.window.start, stop=one.stop, language=one.language)
        self.times["words"] += time.perf_counter() - started
        return segments

    def _rest(self, tokens: list[int], window: Window) -> Window | None:
        """What is left of ``window`` after decoding that ended on two timestamps at least
        `MIN_REST_SECONDS` before its end; else None."""
        if window.seeks >= MAX_SEEKS:
            return None
        if len(tokens) < 2 or tokens[-1] < self.timestamp_begin or tokens[-2] < self.timestamp_begin:
            return None
        seconds = (tokens[-1] - self.timestamp_begin) * TIME_PRECISION
        if window.end - window.start - seconds < MIN_REST_SECONDS:
            return None
        cut = int(round(seconds * SAMPLE_RATE))
        return Window(start=window.start + cut / SAMPLE_RATE, samples=window.samples[cut:], seeks=window.seeks + 1)

    def _max_new_tokens(self, window: Window) -> int:
        # Speech runs at 2-5 tokens a second: a window that needs far more is looping.
        return min(MAX_NEW_TOKENS, int(TOKENS_PER_SECOND * (window.end - window.start)) + 32)

    def _search(self, cross: Any, windows: Sequence[Window], languages: list[str], task: Task) -> list[list[int]]:
        """Each window's tokens: greedy with one beam, else beam search."""
        prompts = [self._prompt(lang, task, timestamps=True) for lang in languages]
        durations = [w.end - w.start for w in windows]
        limits = [self._max_new_tokens(w) for w in windows]
        if self.beam_size == 1:
            return self.fast.decode(cross, prompts, durations, limits)
        return self.fast.beam_search(cross, prompts, durations, limits, self.beam_size)

    # ------------------------------------------------------------------ reading the tokens

    def _parse(self, tokens: list[int], window: Window) -> Pieces:
        """A window's tokens as ``(start, end, text tokens)`` per pair of timestamp tokens
        (file times; an unclosed last piece ends at the window's end)."""
        pieces: Pieces = []
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
        parsed: Pieces,
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

    def _token_times(
        self,
        cross: Any,
        windows: Sequence[Window],
        parsed: list[Pieces],
        languages: list[str],
        task: Task,
    ) -> list[np.ndarray | None]:
        """Each window's token start times (seconds into the window; one more for the end of
        the last token; None without text) by DTW over the alignment heads' cross-attention,
        from one teacher-forced decoder pass over the text with ``<|notimestamps|>``."""
        gen = self.model.generation_config
        heads = [tuple(h) for h in (getattr(gen, "alignment_heads", None) or ())]
        texts = [[t for _, _, tokens in pieces for t in tokens] for pieces in parsed]
        if not heads or not any(texts):
            return [None] * len(windows)
        prompts = [self._prompt(lang, task) for lang in languages]
        rows = [len(text) + 1 for text in texts]  # the text tokens and <|endoftext|>
        weights = self.fast.cross_attention(cross, [p + t + [self.eot] for p, t in zip(prompts, texts)], heads)
        frames = [max(1, min(weights.shape[-1], int(round((w.end - w.start) * 50)))) for w in windows]
        # the row of <|notimestamps|> predicts the first token
        costs = alignment_costs(weights, [(len(p) - 1, n, f) for p, n, f in zip(prompts, rows, frames)])
        paths = dtw(costs, rows, frames)  # on the CPU, the batch's matrices over threads
        return [token_start_times(path) if text else None for path, text in zip(paths, texts)]

    def _prompt(self, language: str, task: Task, *, timestamps: bool = False) -> list[int]:
        """The decoder's start tokens: start of transcript, the language and the task
        (multilingual models), then no timestamps unless ``timestamps``."""
        gen = self.model.generation_config
        prompt = [int(gen.decoder_start_token_id)]
        if self.multilingual:
            prompt += [int(gen.lang_to_id[f"<|{language}|>"]), int(gen.task_to_id[task])]
        return prompt if timestamps else prompt + [int(gen.no_timestamps_token_id)]


def log_mel(fe: Any, pieces: Sequence[np.ndarray], device: Any) -> Any:
    """Whisper's log-mel features of ``pieces`` (each padded to 30 s with silence) computed on
    ``device``, as the feature extractor ``fe`` computes them with torch (same window, hop,
    filters and scaling), with the samples copied to the device once, not padded on the CPU."""
    import torch

    length = int(fe.n_samples)
    batch = torch.zeros((len(pieces), length), dtype=torch.float32, device=device)
    for row, piece in enumerate(pieces):
        n = min(len(piece), length)
        batch[row, :n] = torch.from_numpy(np.ascontiguousarray(piece[:n], dtype=np.float32)).to(device, non_blocking=True)
    window = torch.hann_window(fe.n_fft, device=device)
    spectrum = torch.stft(batch, fe.n_fft, fe.hop_length, window=window, return_complex=True)
    power = spectrum[..., :-1].abs() ** 2
    filters = torch.as_tensor(fe.mel_filters, dtype=torch.float32, device=device)
    mel = torch.clamp(filters.T @ power, min=1e-10).log10()
    mel = torch.maximum(mel, mel.amax(dim=(1, 2), keepdim=True) - 8.0)
    return (mel + 4.0) / 4.0


class _PhaseClock:
    """Adds the seconds since the last lap to ``times[name]`` (waiting for a GPU's kernels)."""

    def __init__(self, times: dict[str, float], device: Any) -> None:
        self.times = times
        self.cuda = getattr(device, "type", "") == "cuda"
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        now = time.perf_counter()
        self.times[name] += now - self.last
        self.last = now


def attention_kernels() -> Any:
    """A context in which SDPA attention uses the flash, memory-efficient or plain kernels, not
    cuDNN's: cuDNN plans its kernel for each new key length, and a decoder's cache grows by one
    every step (measured on an H200, base, 64 windows: 33x real time with it, 58x without)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])


def decode_windows(
    batcher: WindowBatcher,
    samples: np.ndarray,
    regions: list[tuple[float, float]],
    *,
    sample_rate: int,
    language: str | None,
    task: Task,
    progress: Callable[[float], None] | None = None,
) -> list[Segment]:
    """Transcribe ``samples`` over its speech ``regions``: packed into windows of at most 30 s,
    quiet regions raised, handed to ``batcher`` a batch at a time (where they may be decoded
    together with other files' windows)."""
    spans = pack_regions(regions, WINDOW_SECONDS, max_gap=WINDOW_GAP_SECONDS)
    segments: list[Segment] = []
    size = batcher.batch_size
    for first in range(0, len(spans), size):
        group: list[Window] = []
        for a, b in spans[first : first + size]:
            piece = samples[int(a * sample_rate) : int(b * sample_rate)].copy()
            inside = [(max(s, a) - a, min(e, b) - a) for s, e in regions if e > a and s < b]
            level_speech(piece, inside, sample_rate)
            group.append(Window(start=a, samples=piece))

        def advance(done: int, group: list[Window] = group) -> None:
            if progress and done:
                progress(group[done - 1].end)

        for window_segments in batcher.decode(group, language, task, progress=advance):
            segments += window_segments
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
