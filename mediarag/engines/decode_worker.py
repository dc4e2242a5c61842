"""A decoding worker of `mediarag.engines.decoders.DecoderProcesses` (``python -m
mediarag.engines.decode_worker``): for each JSON line read from standard input (``path``,
``out``), decode the file, write its samples to ``out`` as a ``.npy`` array, and answer with
one JSON line (``source``, ``sample_rate``, ``warnings``; or ``source`` and ``reason``)."""

from __future__ import annotations

import json
import sys

import numpy as np

from ..errors import MediaError
from ..media import decode_audio


def main() -> None:
    for line in sys.stdin:
        job = json.loads(line)
        try:
            audio = decode_audio(job["path"])
            np.save(job["out"], np.ascontiguousarray(audio.samples, dtype=np.float32), allow_pickle=False)
            reply = {"source": audio.source, "sample_rate": audio.sample_rate, "warnings": list(audio.warnings)}
        except MediaError as exc:
            reply = {"source": exc.source, "reason": exc.reason}
        except Exception as exc:  # noqa: BLE001 - any failure names the file, and the worker goes on
            reply = {"source": job["path"], "reason": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
