"""The `Stage` protocol, and the registry through which new kinds of evidence plug in.

The core stages (`mediarag.pipeline.stages`) run in this order::

    decode -> transcribe -> sentences -> passages -> embed

A registered stage runs after the core stage it names (``after="transcribe"`` for one that
labels the transcript, ``after="passages"`` for one that adds passages of its own), in the order
stages were registered. Adding a kind of evidence is writing one stage and registering it::

    from mediarag.pipeline import StageContext, register_stage

    class Keywords:
        name = "keywords"
        def warm_up(self) -> None: ...
        def run(self, item) -> None:  # item: a MediaFile
            item.extras["keywords"] = sorted({w for s in item.sentences for w in s.text.split()})

    register_stage("keywords", lambda context: Keywords(), after="sentences")

`MediaQA`, the CLI, the app and every engine then run it on each file they ingest.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..embed.base import Embedder
    from ..segment.base import Segmenter
    from ..settings import Settings
    from ..transcribe.base import Transcriber
    from .item import MediaFile

#: The core stages, in order; a registered stage names the one it follows.
CORE_STAGES = ("decode", "transcribe", "sentences", "passages", "embed")


@runtime_checkable
class Stage(Protocol):
    """One step of the per-file path: reads what earlier stages left on the `MediaFile` and
    adds its own part. ``warm_up`` loads models (called once before a batch)."""

    name: str

    def warm_up(self) -> None: ...

    def run(self, item: MediaFile) -> None: ...


@dataclass(frozen=True)
class StageContext:
    """What a registered stage's factory may build on: the settings and the core components."""

    settings: Settings
    transcriber: Transcriber
    segmenter: Segmenter
    embedder: Embedder


#: Builds a stage for a pipeline.
StageFactory = Callable[[StageContext], Stage]


@dataclass(frozen=True)
class StageSpec:
    """A registered stage.

    Attributes:
        name: how settings and messages name it.
        after: the core stage it runs after.
        factory: builds it, or ``"package.module:function"`` naming a factory imported only
            when a pipeline with the stage is built (so registering costs no import).
        default: run unless the settings leave it out (`Settings.stages`).
        optional: a failure becomes a warning on the file, which is still indexed.
    """

    name: str
    after: str
    factory: StageFactory | str
    default: bool = True
    optional: bool = True

    def build(self, context: StageContext) -> Stage:
        factory = self.factory
        if isinstance(factory, str):
            module, _, attribute = factory.partition(":")
            factory = getattr(importlib.import_module(module), attribute)
        return factory(context)  # type: ignore[operator]


_REGISTRY: dict[str, StageSpec] = {}


def register_stage(
    name: str,
    factory: StageFactory | str,
    *,
    after: str,
    default: bool = True,
    optional: bool = True,
) -> StageSpec:
    """Add a stage to every pipeline built from now on (see the module's example); registering
    a name again replaces it."""
    if after not in CORE_STAGES:
        raise ConfigError(f"stage {name!r}: after must be one of {', '.join(CORE_STAGES)}, not {after!r}")
    if name in CORE_STAGES:
        raise ConfigError(f"stage {name!r}: that name belongs to a core stage")
    spec = StageSpec(name, after, factory, default, optional)
    _REGISTRY[name] = spec
    return spec


def unregister_stage(name: str) -> None:
    """Remove a registered stage (no error if there is none)."""
    _REGISTRY.pop(name, None)


def registered_stages() -> list[StageSpec]:
    """The registered stages, in the order they were registered."""
    return list(_REGISTRY.values())


def chosen_stages(names: list[str] | None) -> list[StageSpec]:
    """The registered stages a pipeline runs: ``names`` (in registration order), or those on
    by default when ``names`` is None."""
    if names is None:
        return [s for s in _REGISTRY.values() if s.default]
    unknown = sorted(set(names) - set(_REGISTRY))
    if unknown:
        known = ", ".join(_REGISTRY) or "none"
        raise ConfigError(f"unknown pipeline stages {unknown}; registered: {known}")
    return [s for s in _REGISTRY.values() if s.name in names]

