"""Faces in a reference image, found with the frontal-face Haar cascade that OpenCV's wheel ships (``cv2.data``).

The result is a ``real_person`` score in [0, 1], never a decision: a face whose side is at least
``MIN_FACE_FRACTION`` of the image's shorter side scores 1.0; smaller faces (a crowd far away) score in
proportion to their size. The policy pack turns the score into allow / review / block.

OpenCV 5 no longer ships the cascades (nor ``CascadeClassifier``); the project pins opencv < 5.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

__all__ = ["DETECTOR_NAME", "FaceBox", "FaceDetector", "FaceDetectorUnavailable", "FaceResult", "default_detector"]

CASCADE_FILE = "haarcascade_frontalface_default.xml"
DETECTOR_NAME = "opencv-haar-frontalface-default"
MIN_FACE_FRACTION = 0.10  # a face this large (side / shorter image side) is unmistakably a person's portrait
MAX_SIDE = 640  # images are searched at most this large (longer side): ~30-130 ms on one core
MIN_FACE_PX = 20  # smallest face side searched, in the (downscaled) search image


class FaceDetectorUnavailable(RuntimeError):
    """The installed OpenCV has no frontal-face cascade (OpenCV 5 dropped them): install opencv-python-headless<5."""


@dataclass(frozen=True)
class FaceBox:
    """One face, in the input image's pixel coordinates."""

    x: int
    y: int
    width: int
    height: int

    def to_dict(self) -> dict:
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class FaceResult:
    boxes: tuple[FaceBox, ...]
    score: float  # the ``real_person`` score this image contributes
    detector: str = DETECTOR_NAME

    @property
    def count(self) -> int:
        return len(self.boxes)

    def to_dict(self) -> dict:
        return {"faces": self.count, "score": round(self.score, 4), "detector": self.detector,
                "boxes": [box.to_dict() for box in self.boxes]}


def _as_image(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 4:  # T×H×W×3 frames: the first frame stands for a still image
        array = array[0]
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3 or min(array.shape[:2]) < 1:
        raise ValueError(f"expected an H×W×3 (or T×H×W×3) uint8 RGB array, got {array.dtype} {array.shape}")
    return array


class FaceDetector:
    """Frontal faces with OpenCV's Haar cascade. Thread-safe (one search at a time per detector)."""

    def __init__(self, cascade_path: str | os.PathLike | None = None, *, min_face_fraction: float = MIN_FACE_FRACTION,
                 max_side: int = MAX_SIDE) -> None:
        if cascade_path is None:
            base = getattr(getattr(cv2, "data", None), "haarcascades", None)
            cascade_path = os.path.join(base, CASCADE_FILE) if base else CASCADE_FILE
        if not hasattr(cv2, "CascadeClassifier") or not os.path.isfile(cascade_path):
            raise FaceDetectorUnavailable(
                f"OpenCV {cv2.__version__} has no face cascade at {cascade_path!s}: the reference-image face screen "
                "needs opencv-python-headless<5, whose wheel ships it."
            )
        self._cascade = cv2.CascadeClassifier(str(cascade_path))
        if self._cascade.empty():
            raise FaceDetectorUnavailable(f"OpenCV could not load the face cascade {cascade_path!s}.")
        self.min_face_fraction = float(min_face_fraction)
        self.max_side = int(max_side)
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray) -> FaceResult:
        rgb = _as_image(image)
        height, width = rgb.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))),
                              interpolation=cv2.INTER_AREA)
        # Local contrast (CLAHE), not a global histogram equalisation: a photo pasted on a large flat background
        # loses its contrast under a global one and its face is missed.
        gray = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
        if min(gray.shape) < MIN_FACE_PX:
            return FaceResult(boxes=(), score=0.0)
        with self._lock:
            found = self._cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                                   minSize=(MIN_FACE_PX, MIN_FACE_PX))
        boxes = tuple(
            FaceBox(x=round(x / scale), y=round(y / scale), width=round(w / scale), height=round(h / scale))
            for x, y, w, h in (np.asarray(found).reshape(-1, 4).tolist())
        )
        boxes = tuple(sorted(boxes, key=lambda b: b.width * b.height, reverse=True))
        shorter = min(height, width)
        score = max((min(1.0, box.width / (shorter * self.min_face_fraction)) for box in boxes), default=0.0)
        return FaceResult(boxes=boxes, score=float(score))


@lru_cache(maxsize=1)
def default_detector() -> FaceDetector:
    return FaceDetector()
