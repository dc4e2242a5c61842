"""S3 sources, outputs and indexes, and Amazon Transcribe, against moto in server mode on a
loopback port; Amazon Translate (which moto lacks) through botocore's Stubber."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path

import pytest

from conftest import wer
from mediarag import MediaQA, Settings
from mediarag.aws.clients import AwsConfig, make_client
from mediarag.aws.s3 import S3
from mediarag.errors import ConfigError, IndexStoreError, ServiceError
from mediarag.media import decode_audio
from mediarag.schema import Segment

DATA = Path(__file__).parent / "data"
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


@pytest.fixture
def moto(moto_server, monkeypatch, tmp_path):
    """moto's S3 and Transcribe for boto3 clients made the standard way (env endpoint URLs)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    monkeypatch.setenv("AWS_ENDPOINT_URL_TRANSCRIBE", moto_server)
    monkeypatch.setenv("MEDIARAG_CACHE", str(tmp_path / "cache"))
    return moto_server


@pytest.fixture
def s3(moto) -> S3:
    return S3()


def bucket(s3: S3, name: str) -> str:
    from contextlib import suppress

    with suppress(Exception):
        s3.client.create_bucket(Bucket=name)
    return name


# S3 sources, outputs and an index at an s3:// location ------------------------------------------


def test_s3_media_indexed_with_s3_citations_and_an_s3_index(s3, data_dir, tiny_en, embedder, tmp_path, monkeypatch):
    bucket(s3, "media"), bucket(s3, "indexes"), bucket(s3, "outputs")
    s3.upload(data_dir / "jfk.flac", "s3://media/talks/jfk.flac")
    s3.put("s3://media/talks/notes.txt", b"not media")
    settings = Settings(
        index_url="s3://indexes/main", transcripts_url="s3://outputs/transcripts", segmenter="window"
    )
    qa = MediaQA(settings=settings, transcriber=tiny_en, embedder=embedder)
    report = qa.ingest(["s3://media/talks/"])
    assert report.ok and [i.source for i in report.ingested] == ["s3://media/talks/jfk.flac"]

    answer = qa.ask("What did Kennedy ask his fellow Americans to do?")
    assert answer.grounded
    link = answer.citations[0].link
    assert link.startswith("s3://media/talks/jfk.flac#t=0.0,") and answer.citations[0].source == "s3://media/talks/jfk.flac"

    keys = s3.keys("s3://indexes/main/")
    assert "main/manifest.json" in keys and any(k.startswith("main/segments/seg-") for k in keys)
    outputs = s3.keys("s3://outputs/transcripts/")
    assert len(outputs) == 2 and all(k.startswith("transcripts/jfk.flac-") for k in outputs)
    transcript = json.loads(s3.get(f"s3://outputs/{[k for k in outputs if k.endswith('.transcript.json')][0]}"))
    assert transcript["source"] == "s3://media/talks/jfk.flac" and wer(JFK, " ".join(s["text"] for s in transcript["segments"])) < 0.1
    passages = json.loads(s3.get(f"s3://outputs/{[k for k in outputs if k.endswith('.passages.json')][0]}"))
    assert passages and passages[0]["source"] == "s3://media/talks/jfk.flac"

    # Another machine (another working copy) opens the same index; unchanged files are skipped.
    monkeypatch.setenv("MEDIARAG_CACHE", str(tmp_path / "other-machine"))
    other = MediaQA(settings=settings, transcriber=tiny_en, embedder=embedder)
    assert other.store.working_dir != qa.store.working_dir
    assert other.search("fellow Americans")[0].source == "s3://media/talks/jfk.flac"
    assert other.ingest("s3://media/talks/jfk.flac").skipped == ["s3://media/talks/jfk.flac"]
    assert "s3://media/talks/jfk.flac" in other.sources()
    assert other.remove("s3://media/talks/jfk.flac") > 0
    assert not any(k.startswith("main/transcripts/") for k in s3.keys("s3://indexes/main/"))
    assert len(MediaQA(settings=settings, embedder=embedder).sources()) == 0


def test_missing_s3_media_is_reported(s3, tiny_en, embedder, tmp_path):
    bucket(s3, "media")
    qa = MediaQA(tmp_path / "idx", transcriber=tiny_en, embedder=embedder)
    report = qa.ingest(["s3://media/nothing-here/", "s3://no-such-bucket-x/a.mp3"])
    assert len(report.failed) == 2 and not report.ingested
    assert "s3://media/nothing-here/" in report.failed[0].error and "not found" in report.failed[0].error


def test_s3_index_refuses_a_stale_writer_and_keeps_the_committed_generation(s3, embedder, tmp_path):
    from mediarag.schema import Chunk, SourceInfo, Transcript
    from mediarag.store.layout import generation_files, parse_manifest
    from mediarag.store.s3 import S3SyncedStore

    bucket(s3, "indexes")

    def add(store, name: str) -> None:
        source = f"s3://media/{name}.mp3"
        info = SourceInfo(source=source, sha256=name * 8, duration=5, language="en", chunks=1)
        chunk = Chunk(id=name, source=source, start=0, end=5, text=f"talk about {name}")
        transcript = Transcript(source=source, language="en", duration=5)
        store.add_source(info, transcript, [chunk], embedder.embed_passages([chunk.text]))

    s3.put("s3://indexes/race/index-page.html", b"<p>not ours</p>")  # never deleted by a commit
    first = S3SyncedStore("s3://indexes/race", tmp_path / "a", embedder_name=embedder.name)
    add(first, "apples")
    first.commit()
    second = S3SyncedStore("s3://indexes/race", tmp_path / "b", embedder_name=embedder.name)
    add(first, "pears")
    first.commit()
    add(second, "plums")
    with pytest.raises(IndexStoreError, match="changed by another writer"):
        second.commit()
    manifest = json.loads(s3.get("s3://indexes/race/manifest.json"))
    assert manifest["generation"] == 3  # 1: the new index, empty; 2: apples; 3: pears
    fresh = S3SyncedStore("s3://indexes/race", tmp_path / "c")
    assert sorted(fresh.sources()) == ["s3://media/apples.mp3", "s3://media/pears.mp3"]
    assert [h.chunk.source for h in fresh.keyword_search("pears", k=3)] == ["s3://media/pears.mp3"]
    keys = s3.keys("s3://indexes/race/")
    assert any(k.endswith(".terms.npz") for k in keys)  # the keyword data went up with the segments
    assert not any("seg-00000004" in k for k in keys)  # nothing of the refused commit
    assert "race/index-page.html" in keys  # not an index file: never deleted by a commit
    needed = generation_files(fresh.working_dir, parse_manifest(s3.get("s3://indexes/race/manifest.json"), "m"))
    assert sorted(keys) == sorted(["race/index-page.html", "race/manifest.json"] + [f"race/{n}" for n in needed])


# Amazon Transcribe -------------------------------------------------------------------------------


def reference_turns(media: bytes) -> list[tuple[float, float, str]]:
    """The reference speaker turns (tests/data/*.rttm) of the test file whose audio was staged."""
    from mediarag.media import wav_bytes

    for rttm in sorted(DATA.glob("*.rttm")):
        staged = wav_bytes(decode_audio(rttm.with_suffix(".flac")).samples)
        if hashlib.sha256(staged).digest() == hashlib.sha256(media).digest():
            rows = [line.split() for line in rttm.read_text().splitlines() if line.startswith("SPEAKER")]
            return [(float(f[3]), float(f[3]) + float(f[4]), f[7]) for f in rows]
    return []


def amazon_transcript(transcript, job: str, turns: list[tuple[float, float, str]] = ()) -> dict:
    """A transcript in Amazon Transcribe's documented output format, from a real Whisper run;
    with ``turns``, speaker labels as ShowSpeakerLabels gives them (``spk_0``... on each word
    and in a ``speaker_labels`` section), taken from the file's reference turns."""
    items = []
    names: dict[str, str] = {}
    for segment in transcript.segments:
        for word in segment.words:
            text = word.text.strip()
            core = text.rstrip(".,?!")
            item = {"type": "pronunciation", "start_time": f"{word.start:.3f}", "end_time": f"{word.end:.3f}",
                    "alternatives": [{"confidence": f"{word.probability:.4f}", "content": core}]}  # fmt: skip
            if turns:
                middle = (word.start + word.end) / 2
                who = min(turns, key=lambda t: 0 if t[0] <= middle <= t[1] else min(abs(t[0] - middle), abs(t[1] - middle)))[2]
                item["speaker_label"] = names.setdefault(who, f"spk_{len(names)}")
            items.append(item)
            if text != core:
                items.append({"type": "punctuation", "alternatives": [{"confidence": "0.0", "content": text[len(core):]}]})
    results = {"language_code": "en-US", "transcripts": [{"transcript": transcript.text}], "items": items}
    if turns:
        segments = [{"start_time": i["start_time"], "end_time": i["end_time"], "speaker_label": i["speaker_label"],
                     "items": [{k: i[k] for k in ("start_time", "end_time", "speaker_label")}]}
                    for i in items if "speaker_label" in i]  # fmt: skip
        results["speaker_labels"] = {"channel_label": "ch_0", "speakers": len(names), "segments": segments}
    return {"jobName": job, "accountId": "123456789012", "status": "COMPLETED", "results": results}


_TRANSCRIPTS: dict = {}


@pytest.fixture
def transcribe_service(moto, tiny_en):
    """Plays Amazon Transcribe's worker: for each job moto holds, transcribes the staged audio
    with Whisper tiny.en and writes the result JSON where the job asked for it."""
    from moto.moto_api import state_manager
    from moto.transcribe.models import transcribe_backends

    # Jobs stay QUEUED until this worker has written their result, then move on one state per
    # GetTranscriptionJob, as moto does by default.
    model = "transcribe::transcriptionjob"
    state_manager.set_transition(model, {"progression": "manual", "times": 10**9})
    backend = transcribe_backends["123456789012"]["us-east-1"]
    s3 = S3()
    done: set[str] = set()
    stop = threading.Event()
    requests: list[dict] = []

    def work() -> None:
        while not stop.wait(0.02):
            for name, job in list(backend.transcriptions.items()):
                if name in done:
                    job._tick = 10**9  # released: the next status check moves it on
                    continue
                requests.append(job.response_object("GET")["TranscriptionJob"])
                try:
                    media = s3.get(job.media["MediaFileUri"])
                except ServiceError:  # a job of an earlier test, already cleaned up
                    done.add(name)
                    continue
                key = hashlib.sha256(media).hexdigest()
                if key not in _TRANSCRIPTS:  # the same audio is transcribed once per session
                    with s3.downloaded(job.media["MediaFileUri"]) as path:
                        _TRANSCRIPTS[key] = tiny_en.transcribe(decode_audio(path), language="en")
                transcript = _TRANSCRIPTS[key]
                asked = (requests[-1].get("Settings") or {}).get("ShowSpeakerLabels")
                turns = reference_turns(media) if asked else []
                result = amazon_transcript(transcript, name, turns)
                s3.put(f"s3://{job._output_bucket_name}/{job.output_key}", json.dumps(result).encode())
                done.add(name)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield requests
    stop.set()
    thread.join()
    state_manager.unset_transition(model)


def test_amazon_transcribe_job_becomes_timed_sentences(s3, transcribe_service, data_dir):
    from mediarag.transcribe.aws_transcribe import AmazonTranscriber

    bucket(s3, "staging")
    transcriber = AmazonTranscriber("s3://staging/jobs/", language_options=["en-US", "es"], poll_seconds=0.3, timeout=300)
    audio = decode_audio(data_dir / "jfk.flac")
    transcript = transcriber.transcribe(audio)
    assert wer(JFK, transcript.text) < 0.1
    assert transcript.language == "en" and transcript.duration == pytest.approx(11.0, abs=0.1)
    assert all(s.language == "en" and s.words and 0 <= s.start <= s.end <= audio.duration for s in transcript.segments)
    assert transcript.segments[-1].text.endswith("country.")
    job = transcribe_service[-1]
    assert job["IdentifyLanguage"] is True and job["LanguageOptions"] == ["en-US", "es-ES"]
    assert job["MediaFormat"] == "wav" and job["Media"]["MediaFileUri"].startswith("s3://staging/jobs/mediarag-")
    assert s3.keys("s3://staging/jobs/") == []  # staged audio and result are cleaned up
    assert job["TranscriptionJobName"] not in transcriber.client.list_transcription_jobs()["TranscriptionJobSummaries"]


def test_mediaqa_with_amazon_transcribe(s3, transcribe_service, data_dir, embedder, tmp_path):
    bucket(s3, "staging")
    settings = Settings(index_dir=tmp_path / "idx", transcriber="aws-transcribe", language="en-US",
                        aws_staging_url="s3://staging/qa", segmenter="window")  # fmt: skip
    qa = MediaQA(settings=settings, embedder=embedder)
    qa.transcriber.poll_seconds, qa.transcriber.timeout = 0.3, 300
    report = qa.ingest(data_dir / "jfk.flac")
    assert report.ok, report.failed
    assert transcribe_service[-1]["LanguageCode"] == "en-US"
    assert qa.ask("What did Kennedy ask his fellow Americans?").grounded


def test_amazon_transcribe_speaker_labels_become_the_speakers(s3, transcribe_service, data_dir, embedder, tmp_path):
    from mediarag.transcribe.aws_transcribe import AmazonTranscriber

    bucket(s3, "staging")
    shutil.copy(data_dir / "sample.flac", tmp_path / "sample.flac")  # the stand-in labels it from sample.rttm
    transcriber = AmazonTranscriber("s3://staging/spk/", max_speakers=4, poll_seconds=0.3, timeout=300)
    transcript = transcriber.transcribe(decode_audio(tmp_path / "sample.flac"), language="en")
    assert transcribe_service[-1]["Settings"] == {"ShowSpeakerLabels": True, "MaxSpeakerLabels": 4}
    words = [w for s in transcript.segments for w in s.words]
    assert words and {w.speaker for w in words} == {"SPEAKER_00", "SPEAKER_01"}
    assert all(len({w.speaker for w in s.words}) == 1 and s.speaker == s.words[0].speaker for s in transcript.segments)
    diane = next(s for s in transcript.segments if "Diane" in s.text)
    chicago = next(s for s in transcript.segments if "originally from Chicago" in s.text and "also" not in s.text)
    assert diane.speaker != chicago.speaker
    # Through the pipeline: the speaker stage keeps Amazon's labels and adds the voices' centroids.
    settings = Settings(index_dir=tmp_path / "idx", transcriber="aws-transcribe", language="en-US",
                        aws_staging_url="s3://staging/qa-spk", segmenter="window")  # fmt: skip
    qa = MediaQA(settings=settings, embedder=embedder)
    qa.transcriber.poll_seconds, qa.transcriber.timeout = 0.3, 300
    assert qa.ingest(tmp_path / "sample.flac").ok
    stored = qa.transcript(tmp_path / "sample.flac")
    assert [s.label for s in stored.speakers] == ["SPEAKER_00", "SPEAKER_01"]
    assert {s.speaker for s in stored.segments} == {"SPEAKER_00", "SPEAKER_01"}
    assert next(s for s in stored.segments if "Diane" in s.text).speaker == diane.speaker


def test_transcribe_result_speaker_labels_section_only():
    from mediarag.transcribe.aws_transcribe import result_segments

    def word(text, start, end):
        return {"type": "pronunciation", "start_time": str(start), "end_time": str(end),
                "alternatives": [{"confidence": "0.9", "content": text}]}  # fmt: skip

    items = [word("Hi", 0.5, 0.9), word("there", 1.0, 1.3), word("Hello", 2.0, 2.4), word("you", 2.5, 2.9)]
    labels = {"speakers": 2, "segments": [
        {"start_time": "0.5", "end_time": "1.3", "speaker_label": "spk_1", "items": [{"start_time": "0.5", "speaker_label": "spk_1", "end_time": "0.9"}]},
        {"start_time": "2.0", "end_time": "2.9", "speaker_label": "spk_0", "items": []}]}  # fmt: skip
    segments, _ = result_segments({"results": {"items": items, "speaker_labels": labels}}, duration=3.0)
    assert [(s.text, s.speaker) for s in segments] == [("Hi there", "SPEAKER_00"), ("Hello you", "SPEAKER_01")]


def test_settings_ask_transcribe_for_several_languages(aws_env):
    settings = Settings(transcriber="aws-transcribe", aws_staging_url="s3://staging/x",
                        transcribe_language_options=["en-US", "es"], transcribe_multiple_languages=True)  # fmt: skip
    request = MediaQA(settings=settings).transcriber.job_request("job-1", "s3://staging/x/job-1.wav", 16000, None)
    assert request["IdentifyMultipleLanguages"] is True and request["LanguageOptions"] == ["en-US", "es-ES"]
    assert "LanguageCode" not in request and request["OutputKey"] == "x/job-1.json"
    with pytest.raises(ConfigError, match="aws_staging_url"):
        MediaQA(settings=Settings(transcriber="aws-transcribe")).transcriber  # noqa: B018


def stubbed(service: str):
    from botocore.stub import Stubber

    client = make_client(service, AwsConfig(endpoint_url="http://127.0.0.1:9"))  # never reached
    return client, Stubber(client)


def test_failed_transcription_job_names_the_job(s3, data_dir):
    from botocore.stub import ANY

    from mediarag.transcribe.aws_transcribe import AmazonTranscriber

    bucket(s3, "staging")
    client, stub = stubbed("transcribe")
    stub.add_response("start_transcription_job", {"TranscriptionJob": {"TranscriptionJobStatus": "IN_PROGRESS"}},
                      {"TranscriptionJobName": ANY, "Media": ANY, "MediaFormat": "wav", "MediaSampleRateHertz": 16000,
                       "OutputBucketName": "staging", "OutputKey": ANY, "LanguageCode": "en-US",
                       "Settings": {"ShowSpeakerLabels": True, "MaxSpeakerLabels": 10}})  # fmt: skip
    stub.add_response("get_transcription_job", {"TranscriptionJob": {"TranscriptionJobStatus": "IN_PROGRESS"}}, {"TranscriptionJobName": ANY})
    stub.add_response("get_transcription_job", {"TranscriptionJob": {
        "TranscriptionJobStatus": "FAILED", "FailureReason": "The media format provided does not match the detected media format."}},
        {"TranscriptionJobName": ANY})  # fmt: skip
    stub.add_response("delete_transcription_job", {}, {"TranscriptionJobName": ANY})
    transcriber = AmazonTranscriber("s3://staging/failing", client=client, poll_seconds=0.05)
    with stub, pytest.raises(ServiceError, match=r"Amazon Transcribe job 'mediarag-[0-9a-f]+': failed \(The media format"):
        transcriber.transcribe(decode_audio(data_dir / "jfk.flac"), language="en")
    stub.assert_no_pending_responses()
    assert s3.keys("s3://staging/failing") == []


def test_transcription_job_that_never_ends_times_out(s3, data_dir):
    from botocore.stub import ANY

    from mediarag.transcribe.aws_transcribe import AmazonTranscriber

    bucket(s3, "staging")
    client, stub = stubbed("transcribe")
    stub.add_response("start_transcription_job", {"TranscriptionJob": {"TranscriptionJobStatus": "QUEUED"}}, None)
    for _ in range(20):
        stub.add_response("get_transcription_job", {"TranscriptionJob": {"TranscriptionJobStatus": "IN_PROGRESS"}}, {"TranscriptionJobName": ANY})
    transcriber = AmazonTranscriber("s3://staging/slow", client=client, poll_seconds=0.05, timeout=0.3)
    with stub, pytest.raises(ServiceError, match="job 'mediarag-.*': timeout \\(still IN_PROGRESS after 0.3 s\\)"):
        transcriber.transcribe(decode_audio(data_dir / "jfk.flac"), language="en")


def test_transcribe_result_items_with_several_languages():
    from mediarag.transcribe.aws_transcribe import result_segments

    def word(text, start, end, lang):
        return {"type": "pronunciation", "start_time": str(start), "end_time": str(end), "language_code": lang,
                "alternatives": [{"confidence": "0.9", "content": text}]}  # fmt: skip

    items = [word("Hello", 0.5, 0.9, "en-US"), word("there", 1.0, 1.3, "en-US"),
             {"type": "punctuation", "alternatives": [{"confidence": "0.0", "content": "."}]},
             word("Hola", 2.0, 2.4, "es-US"), word("amigos", 2.5, 3.0, "es-US"),
             {"type": "punctuation", "alternatives": [{"confidence": "0.0", "content": "."}]}]  # fmt: skip
    segments, main = result_segments({"results": {"items": items, "transcripts": []}}, duration=2.8)
    assert [(s.text, s.language) for s in segments] == [("Hello there.", "en"), ("Hola amigos.", "es")]
    assert segments[1].end == 2.8 and segments[0].words[1].text == "there."
    assert main in ("en", "es")


# Amazon Translate (Stubber: moto has no Translate) --------------------------------------------


def test_translate_in_batches_keeping_times():
    from mediarag.transcribe.aws_transcribe import AmazonTranslator

    client, stub = stubbed("translate")
    segs = [
        Segment(start=0.0, end=2.0, text="Hola a todos.", language="es"),
        Segment(start=2.5, end=4.0, text="Gracias por venir.", language="es"),
        Segment(start=4.0, end=5.0, text="Thank you.", language="en"),
        Segment(start=5.5, end=7.0, text="El río crece en primavera.", language="es"),
        Segment(start=7.0, end=8.0, text="Adiós.", language="es"),
    ]

    def answer(text: str, source: str = "es") -> dict:
        return {"TranslatedText": text, "SourceLanguageCode": source, "TargetLanguageCode": "en"}

    stub.add_response("translate_text", answer("Hello everyone.\nThanks for coming."),
                      {"Text": "Hola a todos.\nGracias por venir.", "SourceLanguageCode": "es", "TargetLanguageCode": "en"})
    # A batch whose line breaks do not survive is sent again one segment at a time.
    stub.add_response("translate_text", answer("The river rises in spring. Goodbye."),
                      {"Text": "El río crece en primavera.\nAdiós.", "SourceLanguageCode": "es", "TargetLanguageCode": "en"})
    stub.add_response("translate_text", answer("The river rises in spring."),
                      {"Text": "El río crece en primavera.", "SourceLanguageCode": "es", "TargetLanguageCode": "en"})
    stub.add_response("translate_text", answer("Goodbye."),
                      {"Text": "Adiós.", "SourceLanguageCode": "es", "TargetLanguageCode": "en"})  # fmt: skip
    with stub:
        out = AmazonTranslator("en", client=client, max_bytes=40).translate(segs)
    stub.assert_no_pending_responses()
    assert [s.text for s in out] == ["Hello everyone.", "Thanks for coming.", "Thank you.", "The river rises in spring.", "Goodbye."]
    assert [(s.start, s.end) for s in out] == [(s.start, s.end) for s in segs]
    assert out[0].original_text == "Hola a todos." and out[2].original_text is None
    assert [s.language for s in out] == ["es", "es", "en", "es", "es"]


def test_translate_splits_a_segment_over_the_request_limit():
    from mediarag.transcribe.aws_transcribe import AmazonTranslator

    client, stub = stubbed("translate")
    long = Segment(start=0, end=30, text="uno dos tres cuatro cinco seis", language="es")
    for piece, english in (("uno dos tres", "one two three"), ("cuatro cinco", "four five"), ("seis", "six")):
        stub.add_response("translate_text", {"TranslatedText": english, "SourceLanguageCode": "es", "TargetLanguageCode": "en"},
                          {"Text": piece, "SourceLanguageCode": "es", "TargetLanguageCode": "en"})  # fmt: skip
    with stub:
        out = AmazonTranslator("en", client=client, max_bytes=13).translate([long])
    assert out[0].text == "one two three four five six" and (out[0].start, out[0].end) == (0, 30)


def test_translate_errors_name_the_service():
    from mediarag.transcribe.aws_transcribe import AmazonTranslator

    client, stub = stubbed("translate")
    stub.add_client_error("translate_text", "TextSizeLimitExceededException", "Input text size exceeds limit", 400)
    with stub, pytest.raises(ServiceError, match="Amazon Translate: invalid.*TextSizeLimitExceeded"):
        AmazonTranslator("en", client=client).translate([Segment(start=0, end=1, text="Hola.", language="es")])


def test_cli_with_an_index_on_s3(s3, data_dir, tiny_en, capsys):
    from mediarag.cli import main

    bucket(s3, "cli-index")
    assert main(["sources", "--index", "s3://cli-index/idx"]) == 1
    assert "no index at s3://cli-index/idx" in capsys.readouterr().err
    # the default embedder, as the CLI uses
    qa = MediaQA(settings=Settings(index_url="s3://cli-index/idx", segmenter="window"), transcriber=tiny_en)
    assert qa.ingest(data_dir / "jfk.flac").ok
    assert main(["sources", "--index", "s3://cli-index/idx", "--json"]) == 0
    sources = json.loads(capsys.readouterr().out)["sources"]
    assert [s["source"] for s in sources] == [str((data_dir / "jfk.flac").resolve())]
