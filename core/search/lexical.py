"""Tokenisers and BM25 (bm25s) indexes for the lexical channels.

Two views of each ad document: words (what a strategist remembers) and character 3–5-grams of
the text with spaces removed. OCR glues words ("THESECOLORSDONT RUN") and misreads letters; grams
over the compacted text match "these colors don't run" anyway, forgive a swapped letter, and
index CJK text that has no spaces at all.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from pathlib import Path

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
STOPWORDS = frozenset("""a an and are as at be but by for from has have i in is it its of on or so that the this
to was were will with you your we our they their them he she his her him me my do does did ad ads image
picture""".split())  # "photo", "banner" stay: they are layout words in the ad document


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    return text.replace("'", "").replace("’", "")  # don't → dont, as OCR reads it


def words(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(normalize(text)):
        if w in STOPWORDS or (len(w) == 1 and not _CJK.match(w)):
            continue
        out.append(w)
    return out


def compact(text: str) -> str:
    return "".join(_WORD.findall(normalize(text))).replace("_", "")


def char_grams(text: str, lo: int = 3, hi: int = 5) -> list[str]:
    """Character n-grams of the text with spaces and punctuation removed."""
    s = compact(text)
    if len(s) < lo:
        return [s] if s else []
    grams = []
    for n in range(lo, hi + 1):
        grams.extend(s[i:i + n] for i in range(len(s) - n + 1))
    if _CJK.search(s):  # CJK words are 1–2 characters: bigrams of those runs too
        grams.extend(s[i:i + 2] for i in range(len(s) - 1) if _CJK.match(s[i]) and _CJK.match(s[i + 1]))
    return grams


class Lexical:
    """One bm25s index plus its tokenizer; scores every document for a query."""

    def __init__(self, kind: str, retriever=None):
        self.kind = kind
        self.retriever = retriever

    def tokenize(self, text: str) -> list[str]:
        return words(text) if self.kind == "words" else char_grams(text)

    @classmethod
    def build(cls, kind: str, docs: list[str]) -> "Lexical":
        import bm25s

        lex = cls(kind)
        tokens = [lex.tokenize(d) or [""] for d in docs]
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        retriever.index(tokens, show_progress=False)
        lex.retriever = retriever
        return lex

    def scores(self, query: str) -> np.ndarray:
        r = self.retriever
        vocab = r.vocab_dict
        ids = [vocab[t] for t in dict.fromkeys(self.tokenize(query)) if t in vocab and t != ""]
        if not ids:
            return np.zeros(r.scores["num_docs"], dtype=np.float32)
        return np.asarray(r.get_scores_from_ids(ids), dtype=np.float32)

    # -- persistence beside the library ---------------------------------------------------------
    def save(self, folder: Path, key: str) -> None:
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        self.retriever.save(str(tmp), show_progress=False)
        (tmp / "cte_key.json").write_text(json.dumps({"key": key}))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)

    @classmethod
    def load(cls, kind: str, folder: Path, key: str) -> "Lexical | None":
        import bm25s

        try:
            if json.loads((folder / "cte_key.json").read_text())["key"] != key:
                return None
            return cls(kind, bm25s.BM25.load(str(folder), show_progress=False, verbosity=0))
        except (OSError, ValueError, KeyError):
            return None
