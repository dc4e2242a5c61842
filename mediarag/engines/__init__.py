"""Engines: where a batch's files are processed (`mediarag.pipeline.Engine`).

The driver (`mediarag.pipeline.ingest_files`) always commits to the index itself, one file at
a time; an engine only decides where and in what order the per-file pipeline runs.

* `mediarag.pipeline.LocalEngine` (the default): this process, one file after another.
* `PipelinedEngine`: this process, decoding and VAD of the next files on CPU threads while the
  model transcribes (keeps one GPU busy).
* `RayEngine` (``mediarag[ray]``): files spread over the workers of a Ray cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .pipelined import PipelinedEngine, StageTimes

if TYPE_CHECKING:
    from .ray import RayEngine

__all__ = ["PipelinedEngine", "RayEngine", "StageTimes"]


def __getattr__(name: str) -> Any:
    if name == "RayEngine":  # imports ray only when asked for
        from .ray import RayEngine

        return RayEngine
    raise AttributeError(name)
