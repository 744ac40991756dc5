"""Why an ad matched: the query words it contains, the longest glued stretch of characters it
shares with the query, the object label closest to the query, its node — and how close it is
(`match`, the absolute score behind the reuse verdict)."""
from __future__ import annotations

import json
import numpy as np

from .fusion import match_score
from .lexical import compact, words


def query_grams(query: str, n: int = 4) -> set[str]:
    s = compact(query)
    return {s[i:i + n] for i in range(len(s) - n + 1)} if len(s) >= n else ({s} if s else set())


def common_stretch(query: str, doc_compact: str, min_len: int = 4) -> str:
    """Longest run of the compacted query found in the compacted document."""
    q = compact(query)
    best = ""
    for i in range(len(q)):
        j = i + max(min_len, len(best) + 1)
        while j <= len(q) and q[i:j] in doc_compact:
            best = q[i:j]
            j += 1
    return best


def coverage(query: str, doc: str) -> tuple[list[str], float, float, str]:
    """(matched words, word coverage, 4-gram coverage, longest common stretch)."""
    qw = list(dict.fromkeys(words(query)))
    dw = set(words(doc))
    hit = [w for w in qw if w in dw]
    dc = compact(doc)
    grams = query_grams(query)
    gcov = sum(g in dc for g in grams) / len(grams) if grams else 0.0
    return hit, (len(hit) / len(qw) if qw else 0.0), gcov, common_stretch(query, dc)


_LABEL_VECS: dict[str, np.ndarray] = {}


def _label_vecs(labels: set[str]) -> dict[str, np.ndarray]:
    """Text embeddings of object labels, as the ingest made them ("a photo of a …"), one batch."""
    need = sorted(labels - set(_LABEL_VECS))
    if need:
        from ..models import text_encoder

        for lbl, v in zip(need, text_encoder().encode([f"a photo of a {n}" for n in need])):
            _LABEL_VECS[lbl] = v
    return _LABEL_VECS


def best_labels(library, creative_ids: list[int], qvec: np.ndarray) -> dict[int, str]:
    """Per creative, its object label closest in meaning to the query (labels with p ≥ 0.05)."""
    if not creative_ids:
        return {}
    rows = library.execute("SELECT id, labels FROM creatives WHERE list_contains(?, id)", [list(map(int, creative_ids))]).fetchall()
    per = {}
    for cid, labels in rows:
        try:
            per[cid] = [str(lbl) for lbl, p in json.loads(labels or "[]") if float(p) >= 0.05]
        except (TypeError, ValueError):
            per[cid] = []
    if qvec is None:
        return {}
    vecs = _label_vecs({lbl for labs in per.values() for lbl in labs})
    return {cid: max(labs, key=lambda lbl: float(vecs[lbl] @ qvec)) for cid, labs in per.items() if labs}


def why_text(matched_words: list[str], stretch: str, label: str | None, node_label: str | None,
             channels: list[str]) -> str:
    parts = []
    if matched_words:
        parts.append("words: " + ", ".join(matched_words[:8]))
    if stretch and (len(stretch) >= 6 or not matched_words) and stretch not in "".join(matched_words):
        parts.append("char-grams: " + stretch.upper())
    if label:
        parts.append(f"visual: {label}")
    if node_label:
        parts.append(f"node: '{node_label}'")
    if channels:
        parts.append("channels: " + "+".join(channels))
    return " · ".join(parts) or "nearest in meaning"


def hit_match(query: str, doc: str, cosine: float) -> tuple[float, list[str], str]:
    hit, wcov, gcov, stretch = coverage(query, doc)
    return match_score(cosine, wcov, gcov), hit, stretch
