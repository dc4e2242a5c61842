"""SageMaker Processing: ingest an S3 prefix on several instances, then merge their indexes.

Three steps, each a subcommand of ``python -m mediarag.aws.processing``:

``launch``
    Builds and submits a CreateProcessingJob request (`ProcessingJob`): the media under an
    ``s3://`` prefix are spread over ``instance_count`` instances (``ShardedByS3Key``: each
    instance is handed a share of the objects), and each instance runs the ``ingest`` step in a
    container image that has ``mediarag[aws]`` installed.
``ingest``
    The container entry point. It indexes every media file under ``--input`` (a directory;
    ``/opt/ml/processing/input/media`` in the job) into ``--output/<host>/index`` and writes
    ``--output/<host>/report.json`` (files that failed are listed there; the step still exits
    0, so the other files' index is uploaded); sources are recorded as ``--source-prefix`` plus each
    file's path under ``--input``, so citations keep the ``s3://`` URLs. ``<host>`` is the
    instance's name (``algo-1``...), so instances never write over each other. It runs the same
    way on a local directory.
``merge``
    Opens the indexes the instances wrote (a local directory or an ``s3://`` prefix, searched
    for ``manifest.json`` files) and writes them as one index (a directory or ``s3://`` prefix).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MediaRagError, ServiceError, exit_status
from .clients import AwsConfig, make_client, service_errors

CONTAINER_INPUT = "/opt/ml/processing/input/media"
CONTAINER_OUTPUT = "/opt/ml/processing/output"
RESOURCE_CONFIG = Path("/opt/ml/config/resourceconfig.json")
ENTRY_POINT = ["python3", "-m", "mediarag.aws.processing"]
#: SageMaker's limit on each container argument and environment value.
MAX_ARGUMENT_CHARS = 256


@dataclass(frozen=True)
class ProcessingJob:
    """One distributed ingest: what `request` turns into a CreateProcessingJob request.

    Args:
        name: the job's name (letters, digits and hyphens, at most 63).
        image_uri: a container image with ``mediarag[aws]`` installed (see docs/aws.md).
        role_arn: the IAM role the job runs as (reads ``input_url``, writes ``output_url``).
        input_url: ``s3://`` prefix of the media.
        output_url: ``s3://`` prefix the instances' indexes are uploaded to.
        instance_count: instances the media are shared out among.
        instance_type: the instances' type (GPU types need a CUDA image and ``device=cuda``).
        volume_size_gb: each instance's disk, which holds its share of the media.
        settings: `mediarag.Settings` fields (``{"whisper_model": "base"}``), passed as
            ``--set name=value`` arguments.
        environment: extra environment variables of the container.
        max_runtime_seconds: the job is stopped after this long.
    """

    name: str
    image_uri: str
    role_arn: str
    input_url: str
    output_url: str
    instance_count: int = 2
    instance_type: str = "ml.g4dn.xlarge"
    volume_size_gb: int = 30
    settings: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)
    max_runtime_seconds: int = 24 * 3600

    def arguments(self) -> list[str]:
        """The container's arguments: the ``ingest`` step with its settings."""
        args = ["ingest", "--input", CONTAINER_INPUT, "--output", CONTAINER_OUTPUT, "--source-prefix", self.input_url]
        for key, value in self.settings.items():
            args += ["--set", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
        return args

    def request(self) -> dict[str, Any]:
        """The CreateProcessingJob request (boto3 ``sagemaker`` client keyword arguments)."""
        from ..settings import Settings

        if self.instance_count < 1:
            raise ConfigError(f"instance_count must be at least 1, got {self.instance_count}")
        for url in (self.input_url, self.output_url):
            if not url.lower().startswith("s3://"):
                raise ConfigError(f"expected an s3:// prefix, got {url!r}")
        unknown = set(self.settings) - Settings.names()
        if unknown:
            raise ConfigError(f"unknown settings for the ingest step: {sorted(unknown)}")
        arguments = self.arguments()
        environment = {"MEDIARAG_PROGRESS": "0", **self.environment}
        for text in arguments + list(environment.values()):
            if len(text) > MAX_ARGUMENT_CHARS:
                raise ConfigError(f"SageMaker takes arguments of at most {MAX_ARGUMENT_CHARS} characters: {text[:60]}...")
        input_url = self.input_url if self.input_url.endswith("/") else self.input_url + "/"
        return {
            "ProcessingJobName": self.name,
            "RoleArn": self.role_arn,
            "AppSpecification": {
                "ImageUri": self.image_uri,
                "ContainerEntrypoint": list(ENTRY_POINT),
                "ContainerArguments": arguments,
            },
            "ProcessingInputs": [
                {
                    "InputName": "media",
                    "S3Input": {
                        "S3Uri": input_url,
                        "LocalPath": CONTAINER_INPUT,
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "ShardedByS3Key",
                    },
                }
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "indexes",
                        "S3Output": {"S3Uri": self.output_url, "LocalPath": CONTAINER_OUTPUT, "S3UploadMode": "EndOfJob"},
                    }
                ]
            },
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": self.instance_count,
                    "InstanceType": self.instance_type,
                    "VolumeSizeInGB": self.volume_size_gb,
                }
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_runtime_seconds},
            "Environment": environment,
        }


def launch(job: ProcessingJob, *, config: AwsConfig | None = None, client: Any = None) -> str:
    """Submit the job; return its ARN."""
    client = client or make_client("sagemaker", config)
    request = job.request()
    with service_errors(f"SageMaker Processing job '{job.name}'"):
        return str(client.create_processing_job(**request)["ProcessingJobArn"])


def wait(
    name: str,
    *,
    config: AwsConfig | None = None,
    client: Any = None,
    poll_seconds: float = 30.0,
    timeout: float = 48 * 3600.0,
) -> dict[str, Any]:
    """Poll a Processing job until it ends; return its description, or raise `ServiceError`
    naming the job when it failed, was stopped or outlived ``timeout``."""
    client = client or make_client("sagemaker", config)
    resource = f"SageMaker Processing job '{name}'"
    deadline = time.monotonic() + timeout
    while True:
        with service_errors(resource):
            description = client.describe_processing_job(ProcessingJobName=name)
        status = description["ProcessingJobStatus"]
        if status == "Completed":
            return description
        if status in ("Failed", "Stopped"):
            raise ServiceError(resource, "failed", description.get("FailureReason") or status)
        if time.monotonic() + poll_seconds > deadline:
            raise ServiceError(resource, "timeout", f"still {status} after {timeout:g} s")
        time.sleep(poll_seconds)


# The container entry point ---------------------------------------------------------------------


def current_host() -> str:
    """This instance's name in the job (``algo-1``...), else the machine's host name."""
    try:
        return str(json.loads(RESOURCE_CONFIG.read_text())["current_host"])
    except (OSError, ValueError, KeyError):
        return socket.gethostname()


def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """``["whisper_model=tiny.en", "k=6"]`` as settings; values are JSON where they parse."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set takes name=value, got {pair!r}")
        try:
            values[key.strip()] = json.loads(raw)
        except ValueError:
            values[key.strip()] = raw
    return values


def ingest(input_dir: str | Path, output_dir: str | Path, source_prefix: str | None, host: str, settings: Mapping[str, Any]) -> Any:
    """Index ``input_dir`` into ``output_dir/<host>/index``; write the report beside it."""
    from ..qa import MediaQA
    from ..settings import Settings

    target = Path(output_dir) / host
    try:
        config = Settings(**{**settings, "index_dir": target / "index"})
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    qa = MediaQA(settings=config)
    report = qa.ingest([str(input_dir)], base_url=source_prefix)
    if not len(qa.store.sources()):  # an instance handed no media still leaves a valid index
        qa.store.commit()
    (target / "report.json").write_text(report.model_dump_json(indent=2))
    return report


# Merge -----------------------------------------------------------------------------------------


def find_shards(location: str, s3: Any = None) -> list[str]:
    """Index locations under ``location``: directories (or ``s3://`` prefixes) holding a
    ``manifest.json``, sorted."""
    from ..store.faiss import MANIFEST

    if location.lower().startswith("s3://"):
        from .s3 import S3, S3Url

        s3 = s3 or S3()
        base = S3Url.parse(location)
        folder = base if not base.key or base.key.endswith("/") else S3Url(base.bucket, base.key + "/")
        keys = [k for k in s3.keys(folder) if k == MANIFEST or k.endswith("/" + MANIFEST)]
        return [str(S3Url(base.bucket, k[: -len(MANIFEST)])) for k in keys]
    root = Path(location)
    return sorted(str(p.parent) for p in root.rglob(MANIFEST))


def merge(shards: Sequence[str], destination: str, *, config: AwsConfig | None = None) -> list[str]:
    """Merge the indexes at ``shards`` into one at ``destination`` (a directory or ``s3://``
    prefix, new or existing); return the sources merged. It is committed once, at the end."""
    from ..store.faiss import FaissStore
    from ..store.merge import merge_stores

    if not shards:
        raise ConfigError("no indexes to merge")
    with tempfile.TemporaryDirectory(prefix="mediarag-merge-") as tmp:
        opened = []
        for i, shard in enumerate(shards):
            if shard.lower().startswith("s3://"):
                from ..store.s3 import S3SyncedStore

                opened.append(S3SyncedStore(shard, Path(tmp) / f"shard-{i}", config=config).local)
            else:
                opened.append(FaissStore(shard))
        embedder = next((s.embedder_name for s in opened if s.embedder_name), None)
        if destination.lower().startswith("s3://"):
            from ..store.s3 import S3SyncedStore

            target: Any = S3SyncedStore(destination, Path(tmp) / "merged", embedder_name=embedder, config=config)
        else:
            target = FaissStore(destination, embedder_name=embedder)
        return merge_stores(target, opened)


# Command line ----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mediarag.aws.processing", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="container entry point: index a directory")
    p.add_argument("--input", default=CONTAINER_INPUT, help=f"media directory (default {CONTAINER_INPUT})")
    p.add_argument("--output", default=CONTAINER_OUTPUT, help=f"output directory (default {CONTAINER_OUTPUT})")
    p.add_argument("--source-prefix", help="URL the input directory was copied from (s3://...)")
    p.add_argument("--host", default=None, help="this instance's name (default: from the job's resource config)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a Settings field")

    p = sub.add_parser("merge", help="merge the instances' indexes into one")
    p.add_argument("shards", nargs="+", help="directories or s3:// prefixes searched for indexes")
    p.add_argument("--index", required=True, help="the merged index: a directory or s3:// prefix")

    p = sub.add_parser("launch", help="submit a Processing job")
    p.add_argument("--name", default=None, help="job name (default mediarag-ingest-<time>)")
    p.add_argument("--image", required=True, help="container image URI with mediarag[aws]")
    p.add_argument("--role", required=True, help="IAM role ARN the job runs as")
    p.add_argument("--input", required=True, help="s3:// prefix of the media")
    p.add_argument("--output", required=True, help="s3:// prefix for the instances' indexes")
    p.add_argument("--instance-count", type=int, default=2)
    p.add_argument("--instance-type", default="ml.g4dn.xlarge")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a Settings field")
    p.add_argument("--wait", action="store_true", help="wait for the job to end")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one step; exit status 0 on success, 1 on failure, 2 on bad arguments."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "ingest":
            report = ingest(args.input, args.output, args.source_prefix, args.host or current_host(), parse_settings(args.set))
            # Files that failed are listed in report.json; the job still succeeds so that the
            # index of the others is uploaded.
            print(json.dumps({"ingested": len(report.ingested), "failed": [f.model_dump() for f in report.failed]}))
            return 0
        if args.command == "merge":
            shards = [s for location in args.shards for s in find_shards(location)]
            sources = merge(shards, args.index)
            print(json.dumps({"shards": shards, "sources": len(sources), "index": args.index}))
            return 0
        job = ProcessingJob(
            name=args.name or time.strftime("mediarag-ingest-%Y%m%d-%H%M%S", time.gmtime()),
            image_uri=args.image,
            role_arn=args.role,
            input_url=args.input,
            output_url=args.output,
            instance_count=args.instance_count,
            instance_type=args.instance_type,
            settings=parse_settings(args.set),
        )
        print(launch(job))
        if args.wait:
            wait(job.name)
        return 0
    except MediaRagError as exc:
        print(f"mediarag: error: {exc}", file=sys.stderr)
        return exit_status(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
