"""Why an ad matched, in plain words, and how close it is (`match`, one of the verdict's inputs).

The why line names what a person can check by looking at the ad: the words its visible text
holds ("text on the ad says 'ALL NIGHT'"), what it shows ("shows: dog, leash", "shows: two
people"), its copy, its colours or layout, the family it belongs to — never channel names or
scores.
"""
from __future__ import annotations

import json
import re

import numpy as np

from .fusion import match_score
from .lexical import FACE_WORD_FORMS, compact, normalize, words

SAME_IMAGE = "the same picture"


def match_label(match: float | None, similar: bool) -> str:
    """The number shown beside a hit, saying which closeness it is (the rank also weighs pictures and
    the taxonomy): "text match 73%" for a text search, "looks 88% alike" for "more like this"."""
    pct = f"{max(0.0, min(1.0, match or 0.0)) * 100:.0f}%"
    return f"looks {pct} alike" if similar else f"text match {pct}"


def looks_like(similarity: float) -> str:
    """In words only: the hit's `match` (shown beside it, "looks 88% alike") is the number."""
    if similarity >= 0.9:
        return "looks almost the same"
    if similarity >= 0.75:
        return "looks alike"
    return "nearest in look"


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
    # a query word counts as found in the form the document holds it: "smile" as the people signal's "smiling"
    found = [w if w in dw else FACE_WORD_FORMS.get(w) for w in qw]
    hit = list(dict.fromkeys(w for w in found if w in dw))
    dc = compact(doc)
    grams = query_grams(query)
    gcov = sum(g in dc for g in grams) / len(grams) if grams else 0.0
    return hit, (sum(w in dw for w in found) / len(qw) if qw else 0.0), gcov, common_stretch(query, dc)


_LABEL_VECS: dict[str, np.ndarray] = {}
_LABEL_FILES: set[str] = set()
LABEL_FILE = "label_words_minilm2.npz"  # object labels' MiniLM embeddings (of label_prompt), beside the library's vectors


def _label_vecs(labels: set[str], folder=None) -> dict[str, np.ndarray]:
    """Text embeddings of object labels, as the ingest made them (label_prompt), one batch.

    Saved in `folder` (the library's vectors/) and read back by the next process: a fresh CLI
    search otherwise ran the text model over its hits' labels (~0.3–1 s of the first query)."""
    if folder is not None and str(folder) not in _LABEL_FILES:
        _LABEL_FILES.add(str(folder))
        try:
            with np.load(folder / LABEL_FILE) as z:
                for lbl, v in zip(z["labels"].tolist(), z["vecs"]):
                    _LABEL_VECS.setdefault(str(lbl), v)
        except Exception:  # noqa: BLE001 - missing or damaged: derived data, re-encoded below
            pass
    need = sorted(labels - set(_LABEL_VECS))
    if need:
        from ..signals.label_groups import label_prompt
        from .query_encoder import query_encoder

        for lbl, v in zip(need, query_encoder().encode([label_prompt(n) for n in need])):
            _LABEL_VECS[lbl] = v
        if folder is not None:
            _save_label_vecs(folder)
    return _LABEL_VECS


def library_labels(library) -> set[str]:
    """The object labels this library's pictures carry: the only ones a why line can quote (338 of
    ImageNet's 1,000 on the real ads). Embedding all 1,000 cost ~11 s of every fresh process that
    prepared search for a new library (a CLI ingest of three ads among them)."""
    try:
        rows = library.execute("SELECT DISTINCT l FROM (SELECT unnest(json_extract_string(labels, '$[*][0]')) AS l "
                               "FROM creatives WHERE labels IS NOT NULL) WHERE l IS NOT NULL").fetchall()
    except Exception:  # noqa: BLE001 - an older library without the column: labels are embedded as hits need them
        return set()
    return {str(r[0]) for r in rows}


def _save_label_vecs(folder) -> None:
    import os

    names = sorted(_LABEL_VECS)
    tmp = folder / f"label_words.tmp{os.getpid()}.npz"
    try:
        np.savez(tmp, labels=np.asarray(names), vecs=np.stack([_LABEL_VECS[n] for n in names]).astype(np.float32))
        os.replace(tmp, folder / LABEL_FILE)
    except OSError:
        pass  # a read-only folder: this process keeps its copy


def _creative_columns(library) -> set[str]:
    return {r[0] for r in library.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'creatives'").fetchall()}


_COLUMNS: dict[str, tuple[int, set[str]]] = {}


def _columns_cached(library) -> set[str]:
    """The creatives table's columns, read once per open connection (the query cost ~5 ms a search)."""
    key = str(library.path)
    hit = _COLUMNS.get(key)
    if hit is None or hit[0] != id(library):
        hit = _COLUMNS[key] = (id(library), _creative_columns(library))
    return hit[1]


def hit_fields(library, ad_ids: list[int]) -> dict[int, dict]:
    """What the why line may quote, per ad: visible text, copy, labels, shown, colour and layout words."""
    if not ad_ids:
        return {}
    have = _columns_cached(library)
    shown_cols = [c for c in ("people_words", "composition_words") if c in have]  # older libraries lack them
    shown_sql = " || ', ' || ".join(f"coalesce(c.{c}, '')" for c in shown_cols) or "''"
    # two filtered scans, not a join: DuckDB spreads the join over its threads, which on the busy
    # 2-core box waited for cores (100k ads, 10 hits, load ~8: 42-63 ms wall for 8-9 ms CPU; the
    # two scans 4-6 ms wall). IN (…) probes the ids; list_contains(?, a.id) scanned every ad
    ads = library.execute(
        f"SELECT id, creative_id, headline, copy, cta, tags FROM ads WHERE id IN ({', '.join('?' * len(ad_ids))})",
        list(map(int, ad_ids))).fetchall()
    cids = sorted({int(r[1]) for r in ads})
    creatives = {int(r[0]): r[1:] for r in library.execute(
        f"""SELECT c.id, c.ocr_text, c.labels, c.color_words, c.layout_words, {shown_sql}
            FROM creatives c WHERE c.id IN ({", ".join("?" * len(cids))})""", cids).fetchall()} if cids else {}
    out = {}
    for aid, cid, head, copy, cta, tags in ads:
        if int(cid) not in creatives:
            continue  # as the inner join did
        ocr, labels, colours, layout, shown = creatives[int(cid)]
        try:
            labs = [(str(lbl), float(p)) for lbl, p in json.loads(labels or "[]")]
        except (TypeError, ValueError):
            labs = []
        out[int(aid)] = {"copy": " ".join(x for x in (head, copy, cta) if x), "ocr": ocr or "", "labels": labs,
                         "colours": [w.strip() for w in (colours or "").split(",") if w.strip()],
                         "layout": [w.strip() for w in (layout or "").split(",") if w.strip()],
                         "shown": [w.strip() for w in (shown or "").split(",") if w.strip()],
                         "tags": list(tags or [])}
    return out


def best_label(labels: list[tuple[str, float]], qvec: np.ndarray | None, floor: float = 0.05, folder=None) -> str | None:
    """The object label closest in meaning to the query (labels with p ≥ floor)."""
    labs = [lbl for lbl, p in labels if p >= floor]
    if not labs or qvec is None:
        return None
    vecs = _label_vecs(set(labs), folder)
    best = max(labs, key=lambda lbl: float(vecs[lbl] @ qvec))
    return best if float(vecs[best] @ qvec) >= 0.3 else None


def _snippet(text: str, needles: list[str], width: int = 36) -> str:
    """A short stretch of `text` around the first needle (case kept as on the ad)."""
    flat = " ".join(text.split())
    low = normalize(flat)
    for n in needles:
        i = low.find(n)
        if i >= 0:
            a = max(0, i - width // 3)
            b = min(len(flat), i + len(n) + width // 2)
            while a > 0 and flat[a - 1].isalnum():
                a -= 1
            while b < len(flat) and flat[b].isalnum():
                b += 1
            return ("…" if a > 0 else "") + flat[a:b].strip() + ("…" if b < len(flat) else "")
    return ""


def _in(word_list: list[str], text: str) -> list[str]:
    have = set(words(text))
    return [w for w in word_list if w in have]


def why_text(query: str, fields: dict | None, matched: list[str], stretch: str, label: str | None,
             family: str | None) -> str:
    """Plain-words reasons, most concrete first."""
    parts = []
    f = fields or {}
    ocr, copy = f.get("ocr", ""), f.get("copy", "")
    on_ad = _in(matched, ocr)
    if on_ad:
        parts.append(f"text on the ad says “{_snippet(ocr, on_ad)}”")
    elif stretch and len(stretch) >= 5 and stretch in compact(ocr):
        # glued OCR ("THESECOLORSDONTRUN"): quote the stretch the query shares with it
        parts.append(f"text on the ad says “{stretch.upper()}”")
    in_copy = [w for w in _in(matched, copy) if w not in on_ad]
    if in_copy:
        parts.append(f"copy says “{_snippet(copy, in_copy)}”")
    shown = []
    for w in f.get("shown", []):
        if set(words(w)) & set(matched):
            shown.append(w)
    for lbl, p in f.get("labels", []):
        if p >= 0.12 and set(words(lbl)) & set(matched) and lbl not in shown:
            shown.append(lbl)
    if label and label not in shown:
        shown.append(label)
    if shown:
        parts.append("shows: " + ", ".join(shown[:4]))
    colours = [c for c in f.get("colours", []) if set(words(c)) & set(matched)]
    if colours:
        parts.append("colours: " + ", ".join(colours[:3]))
    layout = [w for w in f.get("layout", []) if set(words(w)) & set(matched)]
    if layout:
        parts.append("layout: " + ", ".join(layout[:3]))
    tags = [t for t in f.get("tags", []) if set(words(t)) & set(matched)]
    if tags:
        parts.append("tagged " + ", ".join(tags[:3]))
    if family:
        parts.append(f"in the family “{family}”")
    if not parts:
        parts.append("close in meaning to your words")
    return " · ".join(parts)


def hit_match(query: str, doc: str, cosine: float) -> tuple[float, list[str], str]:
    hit, wcov, gcov, stretch = coverage(query, doc)
    return match_score(cosine, wcov, gcov), hit, stretch


_WS = re.compile(r"\s+")
