"""Text analysis shared by retrieval and evaluation: numbers written one way
(`mediarag.text.numbers`), and the per-language terms of the keyword index
(`mediarag.text.analysis`)."""

from .numbers import normalize_numbers

__all__ = ["normalize_numbers"]
