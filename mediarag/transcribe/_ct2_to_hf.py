"""Convert a CTranslate2 Whisper model back into a Hugging Face ``transformers`` checkpoint.

The only Whisper weights that can be installed offline ship in CTranslate2 format (for
faster-whisper). The transformers backend needs a ``WhisperForConditionalGeneration`` checkpoint,
so the packaged models are converted once into ``cache_dir()/hf/<name>/``: ``model.safetensors``,
``config.json``, ``generation_config.json``, the tokenizer files and ``preprocessor_config.json``.

``model.bin`` layout (written by ``ctranslate2.specs.model_spec.ModelSpec._serialize``, all
little-endian)::

    u32 binary_version
    str spec_name; u32 spec_revision               (binary_version >= 2)
    u32 n_variables
    n_variables x { str name; u8 rank; u32 dims[rank];
                    u8 dtype_id; u32 n_bytes   (version >= 4; before: u8 item_size; u32 n_bytes)
                    bytes data }
    u32 n_aliases; n_aliases x { str alias; str target }   (binary_version >= 3)

where ``str`` is a u16 length (counting a trailing NUL) and the UTF-8 bytes with that NUL. dtype
ids follow ``ctranslate2::DataType``: float32, int8, int16, int32, float16, bfloat16. Quantized
weights (int8 per output row, int16 per tensor) carry a ``<name>_scale`` companion and are
dequantized here as ``value / scale``.

This module imports numpy only; safetensors is imported when a checkpoint is written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import ModelError
from ..files import atomic_directory
from ..progress import progress_bar
from ..weights import WHISPER_ALIASES, cache_dir, resolve_whisper

#: Bump when the written checkpoint changes, so caches made by older code are rebuilt.
CONVERTER_VERSION = 1
MARKER_FILE = ".mediarag-converted.json"

_DTYPES: tuple[str, ...] = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
_ITEM_SIZE_DTYPES = {4: "float32", 2: "int16", 1: "int8"}  # binary versions < 4

#: Whisper vocabularies from this size up are multilingual (the rule openai/whisper uses).
MULTILINGUAL_VOCAB_SIZE = 51865

_NON_LANGUAGE_TOKENS = frozenset(
    {
        "<|endoftext|>", "<|startoftranscript|>", "<|translate|>", "<|transcribe|>",
        "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|nospeech|>", "<|notimestamps|>",
    }
)  # fmt: skip


# --------------------------------------------------------------------------- reading model.bin


@dataclass
class CT2Model:
    """The variables of a CTranslate2 ``model.bin``, floats dequantized, aliases resolved."""

    spec: str
    revision: int
    binary_version: int
    variables: dict[str, np.ndarray] = field(default_factory=dict)
    #: The dtype the weights were stored in, by variable name (before dequantization).
    stored_dtypes: dict[str, str] = field(default_factory=dict)
    #: Names that were aliases of another variable (e.g. the tied output projection).
    aliases: dict[str, str] = field(default_factory=dict)


class _Reader:
    def __init__(self, fh: BinaryIO, bar: Any) -> None:
        self.fh = fh
        self.bar = bar

    def read(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise ValueError("model.bin is truncated")
        self.bar.update(n)
        return data

    def u8(self) -> int:
        return int(self.read(1)[0])

    def u16(self) -> int:
        return int(struct.unpack("<H", self.read(2))[0])

    def u32(self) -> int:
        return int(struct.unpack("<I", self.read(4))[0])

    def string(self) -> str:
        raw = self.read(self.u16())
        return raw.rstrip(b"\0").decode("utf-8")


def read_ct2_model(path: str | os.PathLike[str], *, label: str | None = None) -> CT2Model:
    """Parse a CTranslate2 ``model.bin``; quantized weights come back as float32."""
    path = Path(path)
    size = path.stat().st_size
    raw: dict[str, np.ndarray] = {}
    stored: dict[str, str] = {}
    aliases: dict[str, str] = {}
    with (
        open(path, "rb") as fh,
        progress_bar(
            total=size, desc=f"Reading {label or path.parent.name}", unit="B", unit_scale=True
        ) as bar,
    ):
        r = _Reader(fh, bar)
        version = r.u32()
        if version < 1 or version > 6:
            raise ValueError(f"unsupported CTranslate2 binary version {version}")
        spec, revision = "", 1
        if version >= 2:
            spec = r.string()
            revision = r.u32()
        for _ in range(r.u32()):
            name = r.string()
            shape = tuple(r.u32() for _ in range(r.u8()))
            if version >= 4:
                type_id = r.u8()
                if type_id >= len(_DTYPES):
                    raise ValueError(f"{name}: unknown dtype id {type_id}")
                dtype = _DTYPES[type_id]
            else:
                dtype = _ITEM_SIZE_DTYPES[r.u8()]
            raw[name] = _to_array(r.read(r.u32()), dtype, shape, name)
            stored[name] = dtype
        if version >= 3:
            for _ in range(r.u32()):
                alias = r.string()
                aliases[alias] = r.string()

    model = CT2Model(spec=spec, revision=revision, binary_version=version)
    model.stored_dtypes = stored
    for name, value in raw.items():
        if name.endswith("_scale") and name[: -len("_scale")] in raw:
            continue
        scale = raw.get(name + "_scale")
        if scale is not None and value.dtype in (np.int8, np.int16):
            value = _dequantize(value, scale)
        model.variables[name] = value
    for alias, target in aliases.items():
        seen = {alias}
        while target in aliases and target not in seen:  # aliases of aliases
            seen.add(target)
            target = aliases[target]
        if target not in model.variables:
            raise ValueError(f"alias {alias} points to a missing variable {target}")
        model.variables[alias] = model.variables[target]
        model.stored_dtypes[alias] = model.stored_dtypes.get(target, "")
        model.aliases[alias] = target
    return model


def _to_array(data: bytes, dtype: str, shape: tuple[int, ...], name: str) -> np.ndarray:
    if dtype == "bfloat16":  # numpy has no bfloat16: widen the 16 bits to float32
        bits = np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(shape)
    arr = np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<"))
    count = int(np.prod(shape)) if shape else 1
    if arr.size != count:
        raise ValueError(f"{name}: {arr.size} values for shape {shape}")
    return arr.reshape(shape)


def _dequantize(value: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Undo CTranslate2's quantization: int8 rows scaled by 127/amax, int16 by one scalar."""
    v = value.astype(np.float32)
    s = np.asarray(scale, dtype=np.float32)
    if s.ndim == 0 or s.size == 1:
        return v / s.reshape(())
    # Per output row: the first axis (Conv1D weights are flattened to 2-D to compute it).
    return v / s.reshape((-1,) + (1,) * (v.ndim - 1))


# --------------------------------------------------------------------------- name mapping


def _count_layers(names: Any, prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"/layer_(\d+)/")
    found = {int(m.group(1)) for n in names if (m := pattern.match(n))}
    if found != set(range(len(found))):
        raise ValueError(f"{prefix} layers are not numbered 0..n-1: {sorted(found)}")
    return len(found)


def _split_rows(name: str, array: np.ndarray, parts: int) -> list[np.ndarray]:
    if array.shape[0] % parts:
        raise ValueError(f"{name}: {array.shape[0]} rows cannot be split in {parts}")
    return list(np.split(array, parts, axis=0))


def ct2_to_hf_state_dict(ct2: CT2Model) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Map CTranslate2 Whisper variables to ``WhisperForConditionalGeneration`` names.

    Returns the tensors and the architecture read from their shapes. Inverts
    ``ctranslate2.converters.transformers.WhisperLoader``: self-attention ``linear_0`` is q, k, v
    stacked (k's bias, absent in Whisper, was written as zeros); cross-attention ``linear_0`` is q
    and ``linear_1`` is k, v stacked; the last linear is the output projection; layer norms are
    ``gamma``/``beta``; ``position_encodings/encodings`` are the learned/sinusoidal position tables.
    """
    v = ct2.variables
    if ct2.spec and ct2.spec != "WhisperSpec":
        raise ValueError(f"not a Whisper model (spec '{ct2.spec}')")
    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        if name not in v:
            raise ValueError(f"missing variable {name}")
        used.add(name)
        return v[name]

    def opt(name: str) -> np.ndarray | None:
        return take(name) if name in v else None

    out: dict[str, np.ndarray] = {}

    def linear(src: str, dst: str) -> None:
        out[f"{dst}.weight"] = take(f"{src}/weight")
        bias = opt(f"{src}/bias")
        if bias is not None:
            out[f"{dst}.bias"] = bias

    def layer_norm(src: str, dst: str) -> None:
        out[f"{dst}.weight"] = take(f"{src}/gamma")
        out[f"{dst}.bias"] = take(f"{src}/beta")

    def fused(src: str, dsts: list[str]) -> None:
        weights = _split_rows(src, take(f"{src}/weight"), len(dsts))
        bias = opt(f"{src}/bias")
        biases = _split_rows(src, bias, len(dsts)) if bias is not None else [None] * len(dsts)
        for dst, w, b in zip(dsts, weights, biases, strict=True):
            out[f"{dst}.weight"] = w
            if b is None:
                continue
            if dst.endswith("k_proj"):
                if np.any(b):  # Whisper's k_proj has no bias; CTranslate2 stores zeros there
                    raise ValueError(f"{src}: nonzero key bias cannot be represented")
                continue
            out[f"{dst}.bias"] = b

    n_enc = _count_layers(v, "encoder")
    n_dec = _count_layers(v, "decoder")

    e = "model.encoder"
    for i in (1, 2):
        out[f"{e}.conv{i}.weight"] = take(f"encoder/conv{i}/weight")
        out[f"{e}.conv{i}.bias"] = take(f"encoder/conv{i}/bias")
    out[f"{e}.embed_positions.weight"] = take("encoder/position_encodings/encodings")
    layer_norm("encoder/layer_norm", f"{e}.layer_norm")
    for i in range(n_enc):
        s, d = f"encoder/layer_{i}", f"{e}.layers.{i}"
        fused(f"{s}/self_attention/linear_0", [f"{d}.self_attn.{p}_proj" for p in "qkv"])
        linear(f"{s}/self_attention/linear_1", f"{d}.self_attn.out_proj")
        layer_norm(f"{s}/self_attention/layer_norm", f"{d}.self_attn_layer_norm")
        linear(f"{s}/ffn/linear_0", f"{d}.fc1")
        linear(f"{s}/ffn/linear_1", f"{d}.fc2")
        layer_norm(f"{s}/ffn/layer_norm", f"{d}.final_layer_norm")

    dm = "model.decoder"
    out[f"{dm}.embed_tokens.weight"] = take("decoder/embeddings/weight")
    out[f"{dm}.embed_positions.weight"] = take("decoder/position_encodings/encodings")
    layer_norm("decoder/layer_norm", f"{dm}.layer_norm")
    for i in range(n_dec):
        s, d = f"decoder/layer_{i}", f"{dm}.layers.{i}"
        fused(f"{s}/self_attention/linear_0", [f"{d}.self_attn.{p}_proj" for p in "qkv"])
        linear(f"{s}/self_attention/linear_1", f"{d}.self_attn.out_proj")
        layer_norm(f"{s}/self_attention/layer_norm", f"{d}.self_attn_layer_norm")
        linear(f"{s}/attention/linear_0", f"{d}.encoder_attn.q_proj")
        fused(f"{s}/attention/linear_1", [f"{d}.encoder_attn.{p}_proj" for p in "kv"])
        linear(f"{s}/attention/linear_2", f"{d}.encoder_attn.out_proj")
        layer_norm(f"{s}/attention/layer_norm", f"{d}.encoder_attn_layer_norm")
        linear(f"{s}/ffn/linear_0", f"{d}.fc1")
        linear(f"{s}/ffn/linear_1", f"{d}.fc2")
        layer_norm(f"{s}/ffn/layer_norm", f"{d}.final_layer_norm")

    embed = out[f"{dm}.embed_tokens.weight"]
    projection = opt("decoder/projection/weight")
    tied = projection is None or (
        projection.shape == embed.shape
        and (ct2.aliases.get("decoder/projection/weight") == "decoder/embeddings/weight"
             or np.array_equal(projection, embed))
    )  # fmt: skip
    if not tied:
        out["proj_out.weight"] = projection  # type: ignore[assignment]
    if opt("decoder/projection/bias") is not None and np.any(v["decoder/projection/bias"]):
        raise ValueError("decoder/projection/bias is nonzero; Whisper's proj_out has no bias")

    leftover = sorted(
        n for n, a in v.items()
        if n not in used and a.ndim > 0 and not n.endswith(("_scale", "_zero"))
    )  # fmt: skip
    if leftover:
        raise ValueError(f"unmapped CTranslate2 variables: {leftover[:5]}")

    d_model = int(embed.shape[1])

    def heads(name: str) -> int:
        value = v.get(name)
        return int(value) if value is not None and value.ndim == 0 else max(1, d_model // 64)

    arch = {
        "d_model": d_model,
        "vocab_size": int(embed.shape[0]),
        "num_mel_bins": int(out[f"{e}.conv1.weight"].shape[1]),
        "encoder_layers": n_enc,
        "decoder_layers": n_dec,
        "encoder_attention_heads": heads("encoder/num_heads"),
        "decoder_attention_heads": heads("decoder/num_heads"),
        "encoder_ffn_dim": int(out[f"{e}.layers.0.fc1.weight"].shape[0]) if n_enc else 4 * d_model,
        "decoder_ffn_dim": int(out[f"{dm}.layers.0.fc1.weight"].shape[0]) if n_dec else 4 * d_model,
        "max_source_positions": int(out[f"{e}.embed_positions.weight"].shape[0]),
        "max_target_positions": int(out[f"{dm}.embed_positions.weight"].shape[0]),
        "tie_word_embeddings": tied,
    }
    return out, arch


# --------------------------------------------------------------------------- configs


def _special_token_ids(tokenizer_json: dict[str, Any]) -> dict[str, int]:
    ids = {t["content"]: int(t["id"]) for t in tokenizer_json.get("added_tokens", [])}
    vocab = tokenizer_json.get("model", {}).get("vocab", {})
    for token in _NON_LANGUAGE_TOKENS:
        if token not in ids and token in vocab:
            ids[token] = int(vocab[token])
    return ids


def build_configs(
    arch: dict[str, Any], ct2_config: dict[str, Any], tokenizer_json: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``config.json``, ``generation_config.json``, ``tokenizer_config.json`` and
    ``preprocessor_config.json`` for the converted model."""
    special = _special_token_ids(tokenizer_json)
    by_id = {i: t for t, i in special.items()}

    def tid(token: str) -> int:
        if token not in special:
            raise ValueError(f"the tokenizer has no {token} token")
        return special[token]

    eot, sot = tid("<|endoftext|>"), tid("<|startoftranscript|>")
    no_timestamps = tid("<|notimestamps|>")
    multilingual = arch["vocab_size"] >= MULTILINGUAL_VOCAB_SIZE
    suppress = [int(i) for i in ct2_config.get("suppress_ids") or []]
    begin_suppress = [int(i) for i in ct2_config.get("suppress_ids_begin") or [220, eot]]
    alignment = ct2_config.get("alignment_heads")
    if not alignment:
        n, h = arch["decoder_layers"], arch["decoder_attention_heads"]
        alignment = [[layer, head] for layer in range(n // 2, n) for head in range(h)]

    config = {
        "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper",
        **{k: v for k, v in arch.items()},
        "num_hidden_layers": arch["encoder_layers"],
        "activation_function": "gelu",
        "activation_dropout": 0.0,
        "attention_dropout": 0.0,
        "dropout": 0.0,
        "encoder_layerdrop": 0.0,
        "decoder_layerdrop": 0.0,
        "init_std": 0.02,
        "scale_embedding": False,
        "is_encoder_decoder": True,
        "use_cache": True,
        "bos_token_id": eot,
        "eos_token_id": eot,
        "pad_token_id": eot,
        "decoder_start_token_id": sot,
    }
    generation = {
        "alignment_heads": [[int(a), int(b)] for a, b in alignment],
        "begin_suppress_tokens": begin_suppress,
        "suppress_tokens": suppress,
        "bos_token_id": eot,
        "eos_token_id": eot,
        "pad_token_id": eot,
        "decoder_start_token_id": sot,
        "forced_decoder_ids": None,
        "is_multilingual": multilingual,
        "max_initial_timestamp_index": 50,
        "max_length": arch["max_target_positions"],
        "no_timestamps_token_id": no_timestamps,
        "return_timestamps": False,
    }
    if "<|startofprev|>" in special:
        generation["prev_sot_token_id"] = special["<|startofprev|>"]
    if multilingual:
        lang_ids = ct2_config.get("lang_ids") or [
            i
            for t, i in special.items()
            if t not in _NON_LANGUAGE_TOKENS and re.fullmatch(r"<\|[a-z]{2,3}\|>", t)
        ]
        generation["lang_to_id"] = {by_id[i]: int(i) for i in sorted(lang_ids) if i in by_id}
        generation["task_to_id"] = {
            "transcribe": tid("<|transcribe|>"),
            "translate": tid("<|translate|>"),
        }

    added = sorted(tokenizer_json.get("added_tokens", []), key=lambda t: t["id"])
    additional = [
        t["content"] for t in added if t.get("special", True) and t["content"] != "<|endoftext|>"
    ]
    tokenizer_config = {
        "tokenizer_class": "WhisperTokenizer",
        "processor_class": "WhisperProcessor",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "additional_special_tokens": additional,
        "add_prefix_space": False,
        "errors": "replace",
        "model_max_length": 1024,
        "clean_up_tokenization_spaces": False,
    }
    mel = arch["num_mel_bins"]
    preprocessor = {
        "feature_extractor_type": "WhisperFeatureExtractor",
        "processor_class": "WhisperProcessor",
        "feature_size": mel,
        "sampling_rate": 16000,
        "chunk_length": 30,
        "n_fft": 400,
        "hop_length": 160,
        "n_samples": 480000,
        "nb_max_frames": 3000,
        "padding_side": "right",
        "padding_value": 0.0,
        "return_attention_mask": False,
    }
    return config, generation, tokenizer_config, preprocessor


def _vocab_and_merges(tokenizer_json: dict[str, Any]) -> tuple[dict[str, int], list[str]]:
    model = tokenizer_json.get("model", {})
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    return dict(model.get("vocab", {})), merges


# --------------------------------------------------------------------------- conversion


def _source_fingerprint(ct2_dir: Path) -> dict[str, Any]:
    files = {}
    for name in ("model.bin", "config.json", "tokenizer.json"):
        p = ct2_dir / name
        if p.exists():
            st = p.stat()
            files[name] = [st.st_size, int(st.st_mtime)]
    return {"converter_version": CONVERTER_VERSION, "source": str(ct2_dir), "files": files}


def is_converted(
    out_dir: str | os.PathLike[str], ct2_dir: str | os.PathLike[str] | None = None
) -> bool:
    """Whether ``out_dir`` holds a finished conversion (of ``ct2_dir`` as it is now, if given)."""
    marker = Path(out_dir) / MARKER_FILE
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if info.get("converter_version") != CONVERTER_VERSION:
        return False
    if not (Path(out_dir) / "model.safetensors").exists():
        return False
    if ct2_dir is not None:
        return info.get("files") == _source_fingerprint(Path(ct2_dir).resolve())["files"]
    return True


def convert_ct2_whisper(
    ct2_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, force: bool = False
) -> Path:
    """Convert the CTranslate2 Whisper model in ``ct2_dir`` into a transformers checkpoint.

    The checkpoint is written into a temporary directory beside ``out_dir`` and renamed into
    place when complete, with a marker file recording what it was made from; a finished
    conversion of the same source is reused unless ``force``. float16/float32 weights keep their
    type; quantized or bfloat16 weights are written as float32.

    Raises :class:`~mediarag.errors.ModelError` when the model cannot be read or mapped.
    """
    src = Path(ct2_dir).expanduser().resolve()
    out = Path(out_dir).expanduser()
    if not force and is_converted(out, src):
        return out
    if not (src / "model.bin").is_file():
        raise ModelError(f"{src}: no CTranslate2 model.bin to convert")
    with atomic_directory(out) as tmp:
        try:
            _write_checkpoint(src, tmp, out.name)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - any parsing/mapping failure names the model
            raise ModelError(
                f"cannot convert the CTranslate2 Whisper model in {src}: {exc}"
            ) from exc
    return out


def _write_checkpoint(src: Path, dst: Path, label: str) -> None:
    ct2 = read_ct2_model(src / "model.bin", label=label)
    try:
        ct2_config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        ct2_config = {}
    tokenizer_path = src / "tokenizer.json"
    if not tokenizer_path.is_file():
        raise ModelError(f"{src}: no tokenizer.json beside model.bin")
    tokenizer_json = json.loads(tokenizer_path.read_text(encoding="utf-8"))

    tensors, arch = ct2_to_hf_state_dict(ct2)
    float_dtypes = {
        ct2.stored_dtypes.get(n, "") for n, a in ct2.variables.items() if a.ndim > 0
    } - {"int32"}
    out_dtype = np.float16 if float_dtypes == {"float16"} else np.float32
    tensors = {k: np.ascontiguousarray(a, dtype=out_dtype) for k, a in tensors.items()}

    config, generation, tokenizer_config, preprocessor = build_configs(
        arch, ct2_config, tokenizer_json
    )
    config["torch_dtype"] = config["dtype"] = np.dtype(out_dtype).name

    from safetensors.numpy import save_file

    with progress_bar(
        total=len(tensors), desc=f"Converting {label} for transformers", unit="tensor"
    ) as bar:
        save_file(tensors, str(dst / "model.safetensors"), metadata={"format": "pt"})
        bar.update(len(tensors))

    def dump(name: str, obj: Any) -> None:
        (dst / name).write_text(
            json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    dump("config.json", config)
    dump("generation_config.json", generation)
    dump("tokenizer_config.json", tokenizer_config)
    dump("preprocessor_config.json", preprocessor)
    dump(
        "special_tokens_map.json",
        {
            k: tokenizer_config[k]
            for k in (
                "bos_token",
                "eos_token",
                "unk_token",
                "pad_token",
                "additional_special_tokens",
            )
        },
    )
    shutil.copyfile(tokenizer_path, dst / "tokenizer.json")
    vocab, merges = _vocab_and_merges(tokenizer_json)
    dump("vocab.json", vocab)
    (dst / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    dump(
        MARKER_FILE,
        {
            **_source_fingerprint(src),
            "spec": ct2.spec,
            "revision": ct2.revision,
            "tensors": len(tensors),
        },
    )


# --------------------------------------------------------------------------- names


def _is_ct2_dir(path: Path) -> bool:
    has_hf_weights = any(path.glob("*.safetensors")) or (path / "pytorch_model.bin").exists()
    return (path / "model.bin").is_file() and not has_hf_weights


def hf_whisper_dir(name: str) -> str:
    """What ``from_pretrained`` takes for a Whisper model name.

    A local transformers checkpoint directory is returned unchanged; a local CTranslate2
    directory and a packaged alias (``base``, ``tiny.en``, ...) are converted once into
    ``cache_dir()/hf/`` and that directory is returned; any other name is returned unchanged,
    as a hub name.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        path = path.resolve()
        if not _is_ct2_dir(path):
            return str(path)
        import hashlib

        digest = hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:12]
        return str(convert_ct2_whisper(path, cache_dir() / "hf" / f"{path.name}-{digest}"))
    packaged = WHISPER_ALIASES.get(name.lower())
    if packaged is None:
        return name
    ct2_dir = resolve_whisper(name)
    return str(convert_ct2_whisper(ct2_dir, cache_dir() / "hf" / packaged.name))
