"""Quoted words in a query are words the ad must say: `"ALL NIGHT" red banner`.

A person who puts words in double quotes remembers them from the ad's text. Ads whose own text
(copy, headline, call to action, the text read off the picture) holds every quoted phrase rank
above the others; among each group the usual ranking stands. The match is on the compacted text
(lower case, no spaces or punctuation), so OCR that glued "ALLNIGHT" still matches "all night".
The words the signals add to a document ("shows: dog", "colours: red", "layout: photo") are not
the ad's text, so `"red"` does not match an ad only because it is coloured red. When no allowed ad
holds the phrase, nothing is lifted (the quote may be half-remembered): the ranking is the usual one.

Candidates come from the char-gram index's postings (ads holding every 5-gram of the phrase), and
only those are checked for the phrase itself, on texts compacted once per corpus.
"""
from __future__ import annotations

import re

import numpy as np

from .lexical import compact

_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”|„([^“”]+)[“”]|«([^»]+)»')
# the document parts signals add (documents.compose: "label: words"), which are not the ad's text
_SIGNAL_PART = re.compile(r"^(shows|colours|layout|text has|tags): ")
MIN_PHRASE = 3  # compacted characters: a quoted "a" or "1" says nothing


def quoted_phrases(query: str) -> list[str]:
    """The compacted phrases a query quotes (straight, curly, German and French quotes)."""
    out = []
    for m in _QUOTED.finditer(query or ""):
        c = compact(next(g for g in m.groups() if g is not None))
        if len(c) >= MIN_PHRASE and c not in out:
            out.append(c)
    return out


_QUOTE_MARKS = re.compile(r'["“”„«»]')


def unquoted(query: str) -> str:
    """The query the channels see: the quote marks are an instruction, not words (MiniLM reads '"'
    as a token of its own, which moved every cosine)."""
    return re.sub(r"\s+", " ", _QUOTE_MARKS.sub(" ", query)).strip()


def ad_text(doc: str) -> str:
    """The compacted text of an ad document without the parts its signals added."""
    return compact(". ".join(p for p in doc.split(". ") if not _SIGNAL_PART.match(p)))


def _candidates(corpus, phrase: str) -> np.ndarray | None:
    """Rows whose documents hold every 5-gram (or the whole phrase, if shorter) of `phrase`, from the
    char-gram index's postings; None when the index can't say (then every row is checked)."""
    r = getattr(corpus.chars, "retriever", None)
    if r is None or int(r.scores["num_docs"]) != corpus.size:
        return None
    n = 5 if len(phrase) >= 5 else len(phrase)
    grams = {phrase[i:i + n] for i in range(len(phrase) - n + 1)}
    vocab, indptr, indices = r.vocab_dict, r.scores["indptr"], r.scores["indices"]
    rows = None
    for g in sorted(grams, key=lambda g: _df(vocab, indptr, g)):
        i = vocab.get(g)
        if i is None:
            return np.zeros(0, dtype=np.int64)
        p = np.asarray(indices[indptr[i]:indptr[i + 1]], dtype=np.int64)
        rows = p if rows is None else np.intersect1d(rows, p, assume_unique=True)
        if not len(rows):
            break
    return rows


def _df(vocab, indptr, g: str) -> int:
    i = vocab.get(g)
    return -1 if i is None else int(indptr[i + 1] - indptr[i])


def rows_saying(corpus, phrases: list[str], mask: np.ndarray | None = None) -> np.ndarray:
    """Rows (allowed by `mask`) whose own text holds every phrase."""
    cand = None
    for ph in phrases:
        c = _candidates(corpus, ph)
        if c is not None:
            cand = c if cand is None else np.intersect1d(cand, c, assume_unique=True)
    if cand is None:
        cand = np.arange(corpus.size)
    if mask is not None and len(cand):
        cand = cand[mask[cand]]
    texts = _texts(corpus)
    out = []
    for r in cand.tolist():
        t = texts[r]
        if t is None:
            t = texts[r] = ad_text(corpus.docs[r])
        if all(ph in t for ph in phrases):
            out.append(r)
    return np.asarray(out, dtype=np.int64)


def _texts(corpus) -> list:
    """Each row's compacted own text, filled in as rows are checked (kept with the corpus): at 100k
    ads "click here" is in ~20k documents, ~0.2 s to compact once, a few ms to test again."""
    t = corpus.extras.get("quoted_texts")
    if t is None:
        t = corpus.extras["quoted_texts"] = [None] * corpus.size
    return t


def lift(final: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Every row in `rows` above every other row; each group keeps its own order."""
    if not len(rows):
        return final
    ok = np.isfinite(final)
    if not ok.any():
        return final
    span = float(final[ok].max() - final[ok].min()) + 1.0
    out = final.copy()
    out[rows] = out[rows] + span
    return out
