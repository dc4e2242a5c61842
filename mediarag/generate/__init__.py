"""Generators: write an answer from retrieved passages."""

from .base import Generation, Generator
from .extractive import ExtractiveGenerator

__all__ = ["ExtractiveGenerator", "Generation", "Generator"]
