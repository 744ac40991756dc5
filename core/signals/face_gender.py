"""How likely a detected face reads as a man's: dlib's CC0 gender network (ONNX) on an aligned 32² face chip.

The people signal turns it into the words strategists type ("man", "woman", "two women"). It is an apparent
read of one face chip for search, never an identity: faces it is unsure about (between the two cut-offs in
people.py) give no word. Weights and provenance: core/resources/dlib_gender/NOTICE.md.

The chip is aligned like dlib's get_face_chip_details (5-point template, padding 0.2), from MTCNN's two eye
centres: the similarity transform (scikit-image) that puts them where dlib's template has them. MTCNN's nose tip and mouth
corners are not dlib's nose base, so they are left out.
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

MODEL_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "dlib_gender", "gender-v1.onnx")
CHIP_SIZE = 32
CHIP_PADDING = 0.2
_MEANS = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)
# dlib's 5-point mean face: centres of its two eye-corner pairs (image left, image right), in a unit face box
_EYES = np.array([[(0.1294625327508 + 0.3340469564704) / 2, (0.2256818547649 + 0.2306613225955) / 2],
                  [(0.8595674595992 + 0.6460604764104) / 2, (0.2298125159834 + 0.2327211083785) / 2]])


def available() -> bool:
    return os.path.exists(MODEL_PATH)


@lru_cache(maxsize=1)
def _session():
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1   # one face at a time inside an analysis worker: threads only cost
    options.inter_op_num_threads = 1
    return ort.InferenceSession(MODEL_PATH, options, providers=["CPUExecutionProvider"])


def face_chip(rgb: np.ndarray, left_eye: tuple[float, float], right_eye: tuple[float, float],
              size: int = CHIP_SIZE) -> np.ndarray | None:
    """size² uint8 RGB chip with the eyes where dlib's template puts them (left_eye: the one on the image's left);
    None when the two eyes are one point."""
    import cv2
    from skimage.transform import SimilarityTransform

    src = np.asarray([left_eye, right_eye], dtype=np.float64)
    dst = (_EYES + CHIP_PADDING) / (2 * CHIP_PADDING + 1) * size
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    shrink = 2 * np.linalg.norm(dst[1] - dst[0]) / max(np.linalg.norm(src[1] - src[0]), 1e-6)
    if shrink < 1:   # to twice the chip's scale by area first: a bilinear warp alone would alias a big face
        rgb = cv2.resize(rgb, (max(1, round(rgb.shape[1] * shrink)), max(1, round(rgb.shape[0] * shrink))),
                         interpolation=cv2.INTER_AREA)
        src = src * shrink
    transform = SimilarityTransform.from_estimate(src, dst)
    if not transform:
        return None
    return cv2.warpAffine(rgb, transform.params[:2], (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)


def male_probability(chips: list[np.ndarray]) -> list[float]:
    """P(male) for each aligned chip (the network's softmax; 1 − it is P(female)), averaged with the chip's mirror
    image: one read flipped on 13% of the real ads' faces when the picture was mirrored."""
    if not chips:
        return []
    batch = np.stack(chips)
    batch = (np.concatenate([batch, batch[:, :, ::-1]]).astype(np.float32) - _MEANS) / np.float32(256.0)
    probs = _session().run(["probabilities"], {"images": np.ascontiguousarray(batch.transpose(0, 3, 1, 2))})[0]
    male = (probs[:len(chips), 1] + probs[len(chips):, 1]) / 2   # ONNX Runtime's run is thread-safe: no lock
    return [round(float(p), 4) for p in male]
