"""Keywords by class-based TF-IDF (c-TF-IDF, as in BERTopic): all documents of a class are one
document; a term scores high when it is frequent in the class and rare across its sibling classes.

    tf(t, c) = count(t, c) / words(c)        idf(t) = log(1 + mean words per class / count(t, all classes))
"""
from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

# the ad document's section markers ("tags: ...", "shows: ...") are structure, not content
STRUCTURE_WORDS = frozenset({"tags", "tag", "shows", "colours", "colors", "colour", "color", "layout"})
# what is left of a contraction once the token pattern splits at the apostrophe ("don't" → "don"):
# a fragment, never a keyword or a name ("Rally don photo", "Black doesn photo" on the real ads)
CONTRACTION_STEMS = frozenset({"don", "doesn", "didn", "isn", "aren", "wasn", "weren", "won", "wouldn", "couldn",
                               "shouldn", "haven", "hasn", "hadn", "ain", "mustn", "needn", "ve", "ll"})
# letters (any script) of 2+, or a percentage like "50%"
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W_]+\b|\b\d{1,3}%"


def make_vectorizer(n_docs: int) -> CountVectorizer:
    return CountVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | STRUCTURE_WORDS | CONTRACTION_STEMS), ngram_range=(1, 2), token_pattern=TOKEN_PATTERN,
        lowercase=True, min_df=1 if n_docs < 5000 else 2, max_features=100_000, dtype=np.float32)


def doc_term_matrix(documents: list[str]) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(documents × terms counts, vocabulary). An all-empty corpus gives a 0-column matrix."""
    vec = make_vectorizer(len(documents))
    try:
        X = vec.fit_transform([d or "" for d in documents]).tocsr()
    except ValueError:  # empty vocabulary: no words at all
        return sparse.csr_matrix((len(documents), 0), dtype=np.float32), np.array([], dtype=object)
    vocab = np.asarray(vec.get_feature_names_out(), dtype=object)
    # a word twice ("car car" from "shows: sports car, car") is never a keyword
    single = np.array([len(set(t.split(" "))) == len(t.split(" ")) for t in vocab], dtype=bool)
    if not single.all():
        X, vocab = X[:, single], vocab[single]
    return X, vocab


def class_idf(class_counts) -> np.ndarray:
    """idf over the classes of one comparison (rows = classes, columns = terms)."""
    counts = sparse.csr_matrix(class_counts)
    words_per_class = np.asarray(counts.sum(axis=1)).ravel()
    avg = words_per_class.mean() if len(words_per_class) else 0.0
    term_total = np.asarray(counts.sum(axis=0)).ravel()
    with np.errstate(divide="ignore"):
        return np.where(term_total > 0, np.log1p(avg / np.maximum(term_total, 1e-12)), 0.0)


def c_tf_idf(class_counts) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(scores per class × term, idf): tf L1-normalised per class, times the idf."""
    counts = sparse.csr_matrix(class_counts, dtype=np.float64)
    idf = class_idf(counts)
    totals = np.asarray(counts.sum(axis=1)).ravel()
    tf = sparse.diags(1.0 / np.where(totals > 0, totals, 1)) @ counts
    return sparse.csr_matrix(tf @ sparse.diags(idf)), idf


def top_terms(scores_row, vocab: np.ndarray, k: int = 10, keep: np.ndarray | None = None) -> list[tuple[str, float]]:
    """The k best-scoring terms of a row; `keep` (a mask over the vocabulary) drops the rest (OCR noise)."""
    row = sparse.csr_matrix(scores_row)
    if row.nnz == 0:
        return []
    idx, vals = row.indices, row.data
    if keep is not None:
        ok = keep[idx]
        idx, vals = idx[ok], vals[ok]
        if len(idx) == 0:
            return []
    order = np.lexsort((vocab[idx].astype(str), -vals))[:k]   # ties by term: deterministic
    return [(str(vocab[idx[o]]), round(float(vals[o]), 5)) for o in order if vals[o] > 0]
