"""What a worker process runs: the pipeline built from `Settings`, then one job at a time.

A pipeline with loaded models is not something to send between processes; its settings are.
An engine's workers (`mediarag.engines.RayEngine`'s actors, a SageMaker Processing instance)
build their own pipeline once from the driver's settings and the registered stages the driver
chose, and run `mediarag.pipeline.run_job` on each file, the same per-file code the local path
runs. What they hand back is the processed `MediaFile` (its audio released), which the driver
commits.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..pipeline.base import StageContext, StageSpec, chosen_stages
from ..pipeline.ingest import IngestJob, IngestOptions, failure_message, run_job
from ..pipeline.pipeline import Pipeline

if TYPE_CHECKING:
    from ..pipeline.item import MediaFile
    from ..progress import FileProgress
    from ..settings import Settings


def build_pipeline(settings: Settings, stages: Sequence[StageSpec] | None = None) -> Pipeline:
    """The pipeline ``settings`` describe, its components made by their factories (as
    `mediarag.MediaQA` makes them), with ``stages`` as the registered stages (default: those
    the settings choose from this process's registry)."""
    from ..embed import make_embedder
    from ..segment import make_segmenter
    from ..transcribe import make_transcriber

    transcriber = make_transcriber(settings.transcription, settings.aws)
    embedder = make_embedder(settings.embedding, settings.aws)
    segmenter = make_segmenter(settings.segmentation, embedder)
    specs = chosen_stages(settings.stages) if stages is None else list(stages)
    context = StageContext(settings, transcriber, segmenter, embedder)
    pipeline = Pipeline.of(transcriber, segmenter, embedder, [(spec, spec.build(context)) for spec in specs])
    pipeline.settings = settings
    return pipeline


#: What a worker hands back for a job: ``("done", MediaFile)``, ``("unchanged", None)`` or
#: ``("failed", message naming the file)``.
JobResult = tuple[str, "MediaFile | str | None"]


class FileWorker:
    """Builds the pipeline once (models loaded), then processes jobs one at a time."""

    def __init__(self, settings: Settings, stages: Sequence[StageSpec] | None = None) -> None:
        os.environ.setdefault("MEDIARAG_PROGRESS", "0")
        self.pipeline = build_pipeline(settings, stages)
        self.pipeline.warm_up()

    def run(self, job: IngestJob, options: IngestOptions, progress: FileProgress | None = None) -> JobResult:
        """Process one job; its failure is returned (as the message a report shows), not raised."""
        try:
            item = run_job(self.pipeline, job, options, progress)
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
            return "failed", failure_message(exc, job.source)
        if item is None:
            return "unchanged", None
        item.progress = None  # a callback of this process: nothing the driver can use
        return "done", item

    def pid(self) -> int:
        """This worker's process id."""
        return os.getpid()
