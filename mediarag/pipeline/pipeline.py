"""`Pipeline`: the per-file path as a list of stages, the one every caller runs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..media import file_sha256
from ..schema import Task
from .base import CORE_STAGES, Stage, StageContext, StageSpec, chosen_stages
from .item import MediaFile
from .stages import Decode, Embed, Passages, Sentences, Transcribe

if TYPE_CHECKING:
    from ..embed.base import Embedder
    from ..progress import FileProgress
    from ..segment.base import Segmenter
    from ..settings import Settings
    from ..transcribe.base import Transcriber


class Pipeline:
    """Runs a file through its stages: decode, transcribe, the registered stages in their
    places, sentences, passages, embed (see `mediarag.pipeline.base`).

    The result, a `MediaFile` with its passages and their vectors, is ready for
    `mediarag.pipeline.ingest.commit_file`; nothing here touches an index, so the same pipeline
    runs in a worker process or on another machine.

    ``optional`` names stages whose failure becomes a warning on the file instead of failing it.
    """

    def __init__(self, stages: Sequence[Stage], optional: Sequence[str] = ()) -> None:
        self.stages = list(stages)
        self.optional = frozenset(optional)
        #: The settings the pipeline was built from (`from_settings`), for engines whose
        #: workers build their own copy; None when it was assembled from parts.
        self.settings: Settings | None = None

    @classmethod
    def of(
        cls,
        transcriber: Transcriber,
        segmenter: Segmenter,
        embedder: Embedder,
        extra: Sequence[tuple[StageSpec, Stage]] = (),
    ) -> Pipeline:
        """The core stages over these components, with ``extra`` registered stages in place."""
        core: dict[str, Stage] = {
            "decode": Decode(),
            "transcribe": Transcribe(transcriber),
            "sentences": Sentences(),
            "passages": Passages(segmenter),
            "embed": Embed(embedder),
        }
        stages: list[Stage] = []
        for name in CORE_STAGES:
            stages.append(core[name])
            stages += [stage for spec, stage in extra if spec.after == name]
        return cls(stages, [spec.name for spec, _ in extra if spec.optional])

    @classmethod
    def from_settings(
        cls, settings: Settings, transcriber: Transcriber, segmenter: Segmenter, embedder: Embedder
    ) -> Pipeline:
        """The pipeline ``settings`` describe over these components: the core stages and the
        registered stages it chooses (`Settings.stages`)."""
        context = StageContext(settings, transcriber, segmenter, embedder)
        extra = [(spec, spec.build(context)) for spec in chosen_stages(settings.stages)]
        pipeline = cls.of(transcriber, segmenter, embedder, extra)
        pipeline.settings = settings
        return pipeline

    @property
    def names(self) -> list[str]:
        """The stages' names, in the order they run."""
        return [stage.name for stage in self.stages]

    def stage(self, name: str) -> Stage:
        """The stage called ``name`` (KeyError if there is none)."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def warm_up(self) -> None:
        """Load every stage's models now rather than on the first file."""
        for stage in self.stages:
            stage.warm_up()

    def run(self, item: MediaFile, *, until: str | None = None) -> MediaFile:
        """Pass ``item`` through every stage (``until``: up to that core stage and the
        registered stages before it); the decoded audio is released at the end."""
        stages = self.stages
        if until is not None:
            stages = stages[: self.names.index(until) + 1]
        try:
            for stage in stages:
                self.run_stage(stage, item)
        finally:
            item.audio = None
        return item

    def run_stage(self, stage: Stage, item: MediaFile) -> None:
        """Run one of the stages on ``item``; an optional stage's failure becomes a warning.
        (Engines that spread a file's stages over threads call this; `run` does it for all.)"""
        if stage.name in self.optional:
            try:
                stage.run(item)
            except Exception as exc:  # noqa: BLE001 - an optional stage never fails the file
                item.warnings.append(f"{item.source}: the {stage.name} stage failed: {type(exc).__name__}: {exc}")
        else:
            stage.run(item)

    def process(
        self,
        path: str | os.PathLike[str],
        source: str | None = None,
        *,
        sha256: str | None = None,
        language: str | None = None,
        task: Task = "transcribe",
        id_prefix: str = "",
        progress: FileProgress | None = None,
        until: str | None = None,
    ) -> MediaFile:
        """Run one local file through the pipeline (``until``: see `run`); ``source`` defaults
        to its absolute path."""
        file = Path(path)
        item = MediaFile(
            path=file,
            source=source or str(file.resolve()),
            sha256=sha256 or file_sha256(file),
            language=language,
            task=task,
            id_prefix=id_prefix,
            progress=progress,
        )
        return self.run(item, until=until)
