"""How likely a detected face reads as a man's: dlib's CC0 gender network (ONNX) on an aligned 32² face chip.

The people signal turns it into the words strategists type ("man", "woman", "two women"). It is an apparent
read of one face chip for search, never an identity: faces it is unsure about (between the two cut-offs in
people.py) give no word. Weights and provenance: core/resources/dlib_gender/NOTICE.md.

The chip is aligned like dlib's get_face_chip_details (5-point template, padding 0.2), from MTCNN's two eye
centres: a similarity transform that puts them where dlib's template has them. MTCNN's nose tip and mouth
corners are not dlib's nose base, so they are left out.
"""
from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

MODEL_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "dlib_gender", "gender-v1.onnx")
CHIP_SIZE = 32
CHIP_PADDING = 0.2
_MEANS = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)
# dlib's 5-point mean face: centres of its two eye-corner pairs (image left, image right), in a unit face box
_EYES = np.array([[(0.1294625327508 + 0.3340469564704) / 2, (0.2256818547649 + 0.2306613225955) / 2],
                  [(0.8595674595992 + 0.6460604764104) / 2, (0.2298125159834 + 0.2327211083785) / 2]])
_LOCK = threading.Lock()


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
              size: int = CHIP_SIZE) -> np.ndarray:
    """size² uint8 RGB chip with the eyes where dlib's template puts them (left_eye: the one on the image's left)."""
    import cv2

    src = np.asarray([left_eye, right_eye], dtype=np.float64)
    dst = (_EYES + CHIP_PADDING) / (2 * CHIP_PADDING + 1) * size
    scale = np.linalg.norm(dst[1] - dst[0]) / max(np.linalg.norm(src[1] - src[0]), 1e-6)
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if scale < 0.5:   # shrink by area first (a bilinear warp alone would alias a big face down to 32 px)
        shrink = 2 * scale
        rgb = cv2.resize(rgb, (max(1, round(rgb.shape[1] * shrink)), max(1, round(rgb.shape[0] * shrink))),
                         interpolation=cv2.INTER_AREA)
        src, scale = src * shrink, 0.5
    vs, vd = src[1] - src[0], dst[1] - dst[0]
    angle = np.arctan2(vd[1], vd[0]) - np.arctan2(vs[1], vs[0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = np.hstack([rot, (dst[0] - rot @ src[0])[:, None]])
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def male_probability(chips: list[np.ndarray]) -> list[float]:
    """P(male) for each aligned chip (the network's softmax; 1 − it is P(female)), averaged with the chip's mirror
    image: one read flipped on 13% of the real ads' faces when the picture was mirrored."""
    if not chips:
        return []
    batch = np.stack(chips)
    batch = (np.concatenate([batch, batch[:, :, ::-1]]).astype(np.float32) - _MEANS) / np.float32(256.0)
    with _LOCK:
        probs = _session().run(["probabilities"], {"images": np.ascontiguousarray(batch.transpose(0, 3, 1, 2))})[0]
    male = (probs[:len(chips), 1] + probs[len(chips):, 1]) / 2
    return [round(float(p), 4) for p in male]
