"""The per-file path as public stages, and the batch ingest that drives it.

``decode -> transcribe -> [registered stages] -> sentences -> passages -> embed``, then the
index: `Pipeline` runs the stages on a `MediaFile`; `ingest_files` plans, runs (on an
`Engine`) and commits a batch. `MediaQA`, the CLI, the app, SageMaker Processing, the
benchmarks and the distributed engines all go through here. See `mediarag.pipeline.base` for
adding a stage.
"""

from .base import CORE_STAGES, Stage, StageContext, StageSpec, register_stage, registered_stages, unregister_stage
from .ingest import (
    Engine,
    IngestFailure,
    IngestJob,
    IngestOptions,
    IngestReport,
    LocalEngine,
    Outcome,
    commit_file,
    failure_message,
    ingest_files,
    job_file,
    open_job,
    plan_jobs,
    run_job,
)
from .item import MediaFile
from .pipeline import Pipeline
from .stages import Decode, Embed, Passages, Sentences, Transcribe

# The built-in registered stages, named by "module:function" so that nothing heavy is imported
# until a pipeline is built with them.
register_stage("speakers", "mediarag.speakers.stage:build", after="transcribe")
register_stage("screen", "mediarag.screen.stage:build", after="decode")

__all__ = [
    "CORE_STAGES",
    "Decode",
    "Embed",
    "Engine",
    "IngestFailure",
    "IngestJob",
    "IngestOptions",
    "IngestReport",
    "LocalEngine",
    "MediaFile",
    "Outcome",
    "Passages",
    "Pipeline",
    "Sentences",
    "Stage",
    "StageContext",
    "StageSpec",
    "Transcribe",
    "commit_file",
    "failure_message",
    "ingest_files",
    "job_file",
    "open_job",
    "plan_jobs",
    "register_stage",
    "registered_stages",
    "run_job",
    "unregister_stage",
]
