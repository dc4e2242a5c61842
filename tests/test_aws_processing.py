"""SageMaker Processing: the CreateProcessingJob request checked against botocore's service
model, the container entry point run locally on directories, and the merge of its shards."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from mediarag import MediaQA, Settings
from mediarag.aws.clients import AwsConfig, make_client
from mediarag.aws.processing import CONTAINER_INPUT, ProcessingJob, find_shards, launch, main, merge
from mediarag.errors import ConfigError, IndexStoreError, ServiceError

ROLE = "arn:aws:iam::123456789012:role/mediarag-processing"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mediarag:latest"


def job(**changes) -> ProcessingJob:
    fields = dict(name="mediarag-ingest-test", image_uri=IMAGE, role_arn=ROLE, input_url="s3://media/batch",
                  output_url="s3://outputs/job-1/", instance_count=3,
                  settings={"whisper_model": "tiny.en", "segmenter": "window", "k": 6})  # fmt: skip
    fields.update(changes)
    return ProcessingJob(**fields)


def sagemaker_stub():
    from botocore.stub import Stubber

    client = make_client("sagemaker", AwsConfig(endpoint_url="http://127.0.0.1:9"))  # never reached
    return client, Stubber(client)


def test_launch_sends_a_request_valid_for_the_service_model(aws_env):
    from botocore.validate import validate_parameters

    request = job().request()
    client, stub = sagemaker_stub()
    validate_parameters(request, client.meta.service_model.operation_model("CreateProcessingJob").input_shape)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/mediarag-ingest-test"
    stub.add_response("create_processing_job", {"ProcessingJobArn": arn}, expected_params=request)
    with stub:
        assert launch(job(), client=client) == arn
    stub.assert_no_pending_responses()

    s3_input = request["ProcessingInputs"][0]["S3Input"]
    assert s3_input["S3DataDistributionType"] == "ShardedByS3Key" and s3_input["S3Uri"] == "s3://media/batch/"
    assert s3_input["LocalPath"] == CONTAINER_INPUT
    assert request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 3
    args = request["AppSpecification"]["ContainerArguments"]
    assert args[:1] == ["ingest"] and "whisper_model=tiny.en" in args and "k=6" in args
    assert args[args.index("--source-prefix") + 1] == "s3://media/batch"


def test_bad_jobs_are_refused_before_any_call(aws_env):
    with pytest.raises(ConfigError, match="instance_count"):
        job(instance_count=0).request()
    with pytest.raises(ConfigError, match="s3://"):
        job(input_url="/local/media").request()
    with pytest.raises(ConfigError, match="unknown settings"):
        job(settings={"whisper": "base"}).request()
    with pytest.raises(ConfigError, match="256 characters"):
        job(settings={"whisper_model": "x" * 300}).request()


def test_failed_processing_job_names_the_job(aws_env):
    from mediarag.aws.processing import wait

    client, stub = sagemaker_stub()
    stub.add_response("describe_processing_job", {
        "ProcessingJobName": "mediarag-ingest-test", "ProcessingJobStatus": "Failed",
        "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/mediarag-ingest-test",
        "FailureReason": "AlgorithmError: See job logs for more information",
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": IMAGE}, "CreationTime": "2026-11-25T00:00:00Z",
    }, {"ProcessingJobName": "mediarag-ingest-test"})  # fmt: skip
    with stub, pytest.raises(ServiceError, match="Processing job 'mediarag-ingest-test': failed \\(AlgorithmError"):
        wait("mediarag-ingest-test", client=client, poll_seconds=0.01)


def test_module_runs_as_the_container_entry_point():
    out = subprocess.run([sys.executable, "-m", "mediarag.aws.processing", "ingest", "--help"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "--source-prefix" in out and CONTAINER_INPUT in out


@pytest.fixture(scope="module")
def shards(tmp_path_factory, data_dir):
    """Two instances' outputs, from the entry point run locally on two shards of the media."""
    root = tmp_path_factory.mktemp("processing")
    for host, names in (("algo-1", ["jfk.flac"]), ("algo-2", ["fleurs-en-000.ogg"])):
        shard = root / "input" / host / "talks"
        shard.mkdir(parents=True)
        for name in names:
            shutil.copy(data_dir / name, shard / name)
        status = main(["ingest", "--input", str(root / "input" / host), "--output", str(root / "output"),
                       "--source-prefix", "s3://media/batch/", "--host", host,
                       "--set", "whisper_model=tiny.en", "--set", "segmenter=window"])  # fmt: skip
        assert status == 0
    return root / "output"


def test_entry_point_writes_one_index_per_instance(shards):
    assert sorted(p.name for p in shards.iterdir()) == ["algo-1", "algo-2"]
    report = json.loads((shards / "algo-2" / "report.json").read_text())
    assert [i["source"] for i in report["ingested"]] == ["s3://media/batch/talks/fleurs-en-000.ogg"]
    assert find_shards(str(shards)) == [str(shards / "algo-1" / "index"), str(shards / "algo-2" / "index")]


def test_merge_opens_the_instances_output_as_one_index(shards, tmp_path, embedder):
    merged = tmp_path / "merged"
    assert main(["merge", str(shards), "--index", str(merged)]) == 0
    # the default embedder, as the entry point and the CLI use
    qa = MediaQA(settings=Settings(index_dir=merged))
    assert sorted(qa.sources()) == ["s3://media/batch/talks/fleurs-en-000.ogg", "s3://media/batch/talks/jfk.flac"]
    hit = qa.search("ask not what your country can do for you")[0]
    assert hit.source == "s3://media/batch/talks/jfk.flac" and hit.link.startswith("s3://media/batch/talks/jfk.flac#t=")
    assert qa.transcript("s3://media/batch/talks/jfk.flac").segments
    # Merging the same shards again changes nothing; a shard with another embedder is refused.
    assert sorted(merge(find_shards(str(shards)), str(merged))) == sorted(qa.sources())
    from mediarag.store.faiss import FaissStore

    odd = tmp_path / "odd"
    FaissStore(odd, embedder_name="sagemaker:gpt-j", dimension=384).commit()
    store = FaissStore(odd)
    from mediarag.schema import Chunk, SourceInfo, Transcript

    source = "s3://media/other.mp3"
    store.add_source(SourceInfo(source=source, sha256="0" * 64, duration=1, language="en", chunks=1),
                     Transcript(source=source, language="en", duration=1),
                     [Chunk(id="x", source=source, start=0, end=1, text="x")], embedder.embed_passages(["x"]))  # fmt: skip
    store.commit()
    before = (merged / "manifest.json").read_bytes()
    with pytest.raises(IndexStoreError, match="embedder"):
        merge([str(odd)], str(merged))
    assert (merged / "manifest.json").read_bytes() == before  # nothing partial was committed


def test_merge_from_and_to_s3(shards, moto_server, monkeypatch, tmp_path):
    from mediarag.aws.s3 import S3

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    monkeypatch.setenv("MEDIARAG_CACHE", str(tmp_path / "cache"))
    s3 = S3()
    for name in ("outputs", "indexes"):
        s3.client.create_bucket(Bucket=name)
    for path in shards.rglob("*"):  # what SageMaker uploads from /opt/ml/processing/output
        if path.is_file() and path.name != ".lock":
            s3.upload(path, f"s3://outputs/job-1/{path.relative_to(shards).as_posix()}")
    assert find_shards("s3://outputs/job-1") == ["s3://outputs/job-1/algo-1/index/", "s3://outputs/job-1/algo-2/index/"]
    assert main(["merge", "s3://outputs/job-1/", "--index", "s3://indexes/batch"]) == 0
    # the default embedder, as the entry point and the CLI use
    qa = MediaQA(settings=Settings(index_url="s3://indexes/batch"))
    assert len(qa.sources()) == 2
    assert qa.ask("What did Kennedy ask his fellow Americans?").citations[0].source == "s3://media/batch/talks/jfk.flac"
