"""The words an ad shares with its line: character n-gram TF-IDF of the text on and around it.

A creative line repeats its own words — the page or brand name printed on every ad ("STOP
ALLINVADERS", "Veterans US"), a slogan, a hashtag — and a sentence embedding dilutes them in the
rest of the copy. Character n-grams (3–5, inside word boundaries) because OCR glues words
("ALLINVADERS") and banners are in Japanese or Chinese, where word tokens fail; IDF with
`max_df` 0.5 drops what every ad says ("click here"). The sparse rows are reduced by a truncated
SVD so the line space stays dense and small. Fitted on a seeded sample of at most `FIT_MAX` ads
and applied in chunks to at most `ROWS_MAX` ads (100k ads × 200 characters took 31 s, 20k take ~6 s;
families are formed on a sample of 3,000 ads above that size anyway, methods/lines.py).

What it decided (bench/taxonomy_quality.py, at 10 % of the line space's squared norm): family
ARI against advertiser lines on ../shared/ads — IRA 0.71 → 0.72, click-here banners by language
0.25 → 0.35 (their largest family 72 % → 41 % of them), all 461 ads 0.49 → 0.51; on the generated
sample, where a family is a format whose ads carry different headlines, seeds 0/1/2 move
0.94/0.95/0.87 → 0.88/0.93/0.92. At 20 % IRA reached 0.74-0.75 and banners 0.40, but seeds 0/1 fell
to 0.80/0.82: the headline words split a format, which is why the share stays small.
"""
from __future__ import annotations

import numpy as np

FIELDS = ("ocr_text", "headline", "copy", "cta")
MAX_CHARS = 200      # per ad: the line's words come first (names, headline); long copy adds cost, not lines
FIT_MAX = 5000
ROWS_MAX = 20_000    # ads analysed; the n-gram analyzer runs ~3k ads/s, so a larger library samples
DIMS = 128
CHUNK = 20_000


def ad_texts(frame) -> list[str]:
    cols = [frame[c].fillna("").astype(str).str.strip() for c in FIELDS if c in frame]
    if not cols:
        return [""] * len(frame)
    joined = cols[0]
    for c in cols[1:]:
        joined = joined + " " + c
    return [t.strip()[:MAX_CHARS].lower() for t in joined.tolist()]


def lexical_rows(frame, seed: int = 0, dims: int = DIMS, fit_max: int = FIT_MAX) -> np.ndarray:
    """(n, ≤ dims) unit rows; zero rows for ads whose text has no shared n-gram; (n, 0) when the
    library's texts share nothing (or there are too few ads to weigh words)."""
    return char_gram_rows(ad_texts(frame), seed, dims, fit_max)


def char_gram_rows(texts: list[str], seed: int = 0, dims: int = DIMS, fit_max: int = FIT_MAX) -> np.ndarray:
    """The rows of lexical_rows for any per-ad texts (line_keys.py passes the landing pages)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = len(texts)
    rows = np.flatnonzero([len(t) >= 3 for t in texts])
    if len(rows) > ROWS_MAX:     # the rest join their families by meaning and look alone
        rows = np.sort(np.random.default_rng(seed + 1).choice(rows, ROWS_MAX, replace=False))
    if len(rows) < 4:
        return np.zeros((n, 0), np.float32)
    fit = rows if len(rows) <= fit_max else np.sort(np.random.default_rng(seed).choice(rows, fit_max, replace=False))
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2, max_df=0.5, dtype=np.float32)
    try:
        M_fit = vec.fit_transform([texts[i] for i in fit])
    except ValueError:                       # no n-gram is shared by two ads
        return np.zeros((n, 0), np.float32)
    k = min(dims, M_fit.shape[1] - 1, len(fit) - 1)
    if k < 2:
        return np.zeros((n, 0), np.float32)
    svd = TruncatedSVD(k, random_state=seed).fit(M_fit)
    out = np.zeros((n, k), np.float32)
    for s in range(0, len(rows), CHUNK):
        part = rows[s:s + CHUNK]
        out[part] = svd.transform(vec.transform([texts[i] for i in part]))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.where(norms > 1e-6, out / np.where(norms > 1e-6, norms, 1), 0).astype(np.float32)
