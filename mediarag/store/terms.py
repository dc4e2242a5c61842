"""The keyword data of a segment: the analyzed terms of its passages, as stored beside its vectors.

A segment's passages follow each other in its FAISS index; `PassageTerms` holds, in the same
order, each passage's terms (`mediarag.text.analysis.analyze`) with their counts: a vocabulary and
a compressed sparse row matrix (``indptr``, ``ids``, ``counts``). It is written once, with the
segment, as ``segments/<name>.terms.npz`` (NumPy arrays only, read without pickle), and never
changed; merges write the terms of the merged segment, taken from those of its parts.
Collection statistics (how many passages hold a term, their mean length) are not stored: they
depend on which passages are still served, and are computed over all segments when the keyword
index is built (`mediarag.store.keywords.KeywordIndex`).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IndexStoreError
from ..schema import Chunk
from ..text.analysis import ANALYSIS_VERSION, analyze

#: Version of the file layout below (not of the analysis, which is `ANALYSIS_VERSION`).
TERMS_FORMAT = 1


@dataclass(frozen=True)
class PassageTerms:
    """Terms of consecutive passages: passage ``i`` holds ``ids[indptr[i]:indptr[i + 1]]``
    (indices into ``vocab``) with ``counts`` of the same slice."""

    vocab: tuple[str, ...]
    indptr: np.ndarray
    ids: np.ndarray
    counts: np.ndarray
    analysis: int = ANALYSIS_VERSION

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def empty(cls) -> PassageTerms:
        return cls((), np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32))

    @classmethod
    def of_texts(cls, texts: Sequence[Sequence[tuple[str, str | None]]]) -> PassageTerms:
        """The terms of passages given as their ``(text, language)`` pieces."""
        vocab: dict[str, int] = {}
        indptr = [0]
        ids: list[int] = []
        counts: list[int] = []
        for pieces in texts:
            counted = Counter(t for text, language in pieces for t in analyze(text, language))
            for term, count in counted.items():
                ids.append(vocab.setdefault(term, len(vocab)))
                counts.append(count)
            indptr.append(len(ids))
        return cls(
            tuple(vocab),
            np.asarray(indptr, np.int64),
            np.asarray(ids, np.int32),
            np.asarray(counts, np.int32),
        )

    @classmethod
    def of_chunks(cls, chunks: Sequence[Chunk], language: str | None, task: str = "transcribe") -> PassageTerms:
        """The terms of ``chunks`` (their text in their language, else ``language``; a
        translated passage also under its spoken words)."""
        return cls.of_texts([passage_texts(c, language, task) for c in chunks])

    def rows(self, first: int, count: int) -> PassageTerms:
        """The passages ``first .. first + count`` (same vocabulary)."""
        lo, hi = int(self.indptr[first]), int(self.indptr[first + count])
        return PassageTerms(
            self.vocab, self.indptr[first : first + count + 1] - lo, self.ids[lo:hi], self.counts[lo:hi], self.analysis
        )

    @classmethod
    def concat(cls, parts: Sequence[PassageTerms]) -> PassageTerms:
        """The passages of ``parts`` one after the other, over one vocabulary of the terms used."""
        vocab: dict[str, int] = {}
        indptr = [np.zeros(1, np.int64)]
        ids, counts = [], []
        offset = 0
        for part in parts:
            used = np.unique(part.ids)
            mapping = np.zeros(len(part.vocab), np.int32)
            mapping[used] = [vocab.setdefault(part.vocab[i], len(vocab)) for i in used.tolist()]
            ids.append(mapping[part.ids])
            counts.append(part.counts)
            indptr.append(part.indptr[1:] + offset)
            offset += len(part.ids)
        return cls(
            tuple(vocab),
            np.concatenate(indptr).astype(np.int64),
            np.concatenate(ids).astype(np.int32) if ids else np.zeros(0, np.int32),
            np.concatenate(counts).astype(np.int32) if counts else np.zeros(0, np.int32),
        )

    # Files -------------------------------------------------------------------------------------

    def writer(self) -> Callable[[Path], None]:
        """What `mediarag.files.write_atomic` calls to write the file."""

        def write(path: Path) -> None:
            with open(path, "wb") as handle:
                np.savez_compressed(
                    handle,
                    format=np.asarray([TERMS_FORMAT, self.analysis], np.int64),
                    vocab=np.asarray(self.vocab, dtype=str) if self.vocab else np.zeros(0, "<U1"),
                    indptr=self.indptr,
                    ids=self.ids,
                    counts=self.counts,
                )

        return write

    @classmethod
    def read(cls, path: Path, passages: int) -> PassageTerms:
        """The terms file of a segment of ``passages`` passages; FileNotFoundError when it is
        gone, `IndexStoreError` when it is corrupt or does not match."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise IndexStoreError(f"{path}: cannot read keyword data: {exc}") from exc
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                fmt, analysis = (int(x) for x in arrays["format"])
                terms = cls(
                    tuple(arrays["vocab"].tolist()),
                    arrays["indptr"].astype(np.int64),
                    arrays["ids"].astype(np.int32),
                    arrays["counts"].astype(np.int32),
                    analysis,
                )
        except (ValueError, KeyError, OSError, EOFError) as exc:
            raise IndexStoreError(f"{path}: corrupt keyword data: {exc}") from exc
        ok = (
            fmt == TERMS_FORMAT
            and len(terms) == passages
            and terms.indptr[0] == 0
            and terms.indptr[-1] == len(terms.ids) == len(terms.counts)
            and bool(np.all(np.diff(terms.indptr) >= 0))
            and (not len(terms.ids) or (0 <= terms.ids.min() and terms.ids.max() < len(terms.vocab)))
        )
        if not ok:
            raise IndexStoreError(f"{path}: keyword data does not match its segment ({passages} passages)")
        return terms


def analysis_language(chunk: Chunk, language: str | None, task: str = "transcribe") -> str | None:
    """The language a passage is searched in: its own (else its file's), English for a
    passage translated by Whisper."""
    if task == "translate" and chunk.original_text and chunk.original_text != chunk.text:
        return "en"
    return chunk.language or language


def passage_texts(chunk: Chunk, language: str | None, task: str = "transcribe") -> list[tuple[str, str | None]]:
    """The texts a passage is indexed under, each with its language: its text, and its spoken
    words when the text is a translation (Whisper translates to English)."""
    spoken = chunk.language or language
    if chunk.original_text and chunk.original_text != chunk.text:
        return [(chunk.text, "en" if task == "translate" else None), (chunk.original_text, spoken)]
    return [(chunk.text, spoken)]
