"""Shared fixtures: real test media (tests/data, see its README) and models loaded once."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def clip_spans() -> dict[str, list[dict]]:
    """True spans of the clips inside the concatenated files, by file name."""
    spans: dict[str, list[dict]] = {}
    for line in (DATA / "segments.jsonl").read_text().splitlines():
        row = json.loads(line)
        spans.setdefault(Path(row["file"]).name, []).append(row)
    return spans


def normalize(text: str) -> list[str]:
    text = re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "")
    return text.split()


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate after lower-casing and removing punctuation."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / max(len(ref), 1)


def write_video_without_audio(path: Path, frames: int = 10) -> Path:
    """A real mp4 holding a few black frames and no audio stream."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=5)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def tiny_en():
    from mediarag.transcribe import FasterWhisperTranscriber

    t = FasterWhisperTranscriber("tiny.en")
    t.warm_up()
    return t


@pytest.fixture(scope="session")
def whisper_base():
    from mediarag.transcribe import FasterWhisperTranscriber

    t = FasterWhisperTranscriber("base")
    t.warm_up()
    return t


@pytest.fixture(scope="session")
def e5():
    """The default embedder (multilingual-e5-small), for indexes that the CLI opens with defaults."""
    from mediarag.embed import E5Embedder

    e = E5Embedder()
    e.warm_up()
    return e


@pytest.fixture(scope="session")
def embedder():
    from mediarag.embed import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder()
    e.warm_up()
    return e


# AWS stand-ins (real wire protocols on loopback ports); see tests/aws_fakes.py.
from aws_fakes import aws_env, moto_server, runtime, sagemaker_runtime  # noqa: E402, F401
