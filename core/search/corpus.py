"""The in-process search state of one library: ad rows, lexical indexes, taxonomy, vector indexes.

Built once per (library path, ads count, last ad id, taxonomy build key) and cached; the BM25
indexes are also saved beside the library (vectors/bm25_words/, vectors/bm25_chars/) so that a
fresh process (the app, the CLI) loads them instead of re-tokenising every ad.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .lexical import Lexical

_CACHE: dict[str, "Corpus"] = {}
_BUILDING: dict[str, threading.Lock] = {}  # state key → the lock of the build in progress
_LOCK = threading.Lock()
_MAX_CACHED = 4

# ISO 639-1 codes as words a strategist types ("japanese banner")
LANGUAGES = {"en": "english", "ja": "japanese", "zh": "chinese", "es": "spanish", "fr": "french", "de": "german",
             "it": "italian", "pt": "portuguese", "ko": "korean", "ru": "russian", "ar": "arabic", "hi": "hindi",
             "nl": "dutch", "sv": "swedish", "pl": "polish", "tr": "turkish", "vi": "vietnamese", "th": "thai",
             "id": "indonesian"}
DOCS_VERSION = 2  # bump when search_docs.json changes (it is then rebuilt); 2: with search_text_hash.npz
_NOT_WORDY = re.compile(r"^(https?://|www\.)|^[0-9a-f]{16,}$|^[\d\s.,:/+\-TZ%]+$", re.I)


@dataclass
class Corpus:
    key: str
    ad_ids: np.ndarray                 # sorted library ad ids; row i of every array below
    files: list[str]
    creative_ids: np.ndarray
    kinds: list[str]
    thumb_paths: list
    media_paths: list
    phash: list                        # int or None
    docs: list[str]                    # what the lexical channels index
    words: Lexical
    chars: Lexical
    taxonomy: object | None            # nodes.Taxonomy or None
    visual_model: str | None
    creative_rows: "RowsByCreative | dict" = field(default_factory=dict)   # creative id → its rows
    video_extras: list = field(default_factory=list)    # a video's parsed `extra` (keyframes) or None
    text_hash: np.ndarray | None = None                 # hash of the words read off each row's picture (OCR)
    extras: dict = field(default_factory=dict)          # lazily built per text model etc.

    @property
    def size(self) -> int:
        return len(self.ad_ids)

    def rows_of(self, ad_ids) -> np.ndarray:
        idx = np.searchsorted(self.ad_ids, np.asarray(ad_ids, dtype=np.int64))
        idx = np.clip(idx, 0, max(0, self.size - 1))
        ok = self.ad_ids[idx] == np.asarray(ad_ids, dtype=np.int64) if self.size else np.zeros(len(idx), bool)
        return np.where(ok, idx, -1)


class RowsByCreative:
    """creative id → the corpus rows of its ads, looked up in the sorted ids (a dict of ~90k small
    arrays took ~0.15 s to build at 100k ads; a search asks for a few)."""

    def __init__(self, creative_ids: np.ndarray):
        self.order = np.argsort(creative_ids, kind="stable")
        self.sorted = creative_ids[self.order]

    def __getitem__(self, creative_id: int) -> np.ndarray:
        lo = np.searchsorted(self.sorted, creative_id, side="left")
        return self.order[lo:np.searchsorted(self.sorted, creative_id, side="right")]


def library_state(library) -> tuple[str, str | None]:
    """(corpus key, key of the current verdict run) in one query: each DuckDB call costs a few ms of
    every search, and both must be read every time (another process may ingest or recalibrate)."""
    from ..store import TREE_REVISION_KEY
    from .nodes import TAXONOMY_RUN_KIND as RUN_KIND
    from .verdict import RUN_KIND as VERDICT_KIND

    n, mx, build, verdict, revision = library.execute(
        """SELECT count(*), coalesce(max(id), 0),
                  (SELECT max(key) FROM runs WHERE kind = ? AND is_current),
                  (SELECT max(key) FROM runs WHERE kind = ? AND is_current),
                  (SELECT max(value) FROM meta WHERE key = ?) FROM ads""",
        [RUN_KIND, VERDICT_KIND, TREE_REVISION_KEY]).fetchone()
    # the tree revision moves with every rewrite of a build (an edit keeps the build key), here or in another process
    return f"{library.path}|{n}|{mx}|{build or ''}|{revision or ''}", verdict


def corpus_key(library) -> str:
    return library_state(library)[0]


def get_corpus(library, key: str | None = None) -> Corpus:
    key = key or corpus_key(library)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
        building = _BUILDING.setdefault(key, threading.Lock())
    # one build per state: the app's warm-up and a person's first search arrive together, and two
    # builds side by side on 2 cores made that first search 6.2 s instead of ~2 s at 100k ads
    with building:
        with _LOCK:
            hit = _CACHE.get(key)
        if hit is None:
            try:
                hit = _build(library, key)
                _store(key, hit)
            finally:
                with _LOCK:
                    if _BUILDING.get(key) is building:
                        _BUILDING.pop(key)
    return hit


def _store(key: str, corpus: Corpus) -> None:
    with _LOCK:
        for k in [k for k in _CACHE if k.split("|")[0] == key.split("|")[0]]:
            _CACHE.pop(k)  # an older state of this library
        while len(_CACHE) >= _MAX_CACHED:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = corpus


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def attribute_words(key: str, value) -> str:
    """Short categorical metadata values as words; ids, hashes, URLs and numbers say nothing."""
    v = str(value or "").strip()
    if not v or len(v) > 48 or _NOT_WORDY.search(v):
        return ""
    if key.lower() in ("language", "lang", "locale"):
        v = LANGUAGES.get(v.lower()[:2], v)
    return v.replace("_", " ")


def _lexical_docs(library, n: int) -> tuple[list[str], np.ndarray | None]:
    """Each row's ad document plus its attribute words, and a hash of the word set read off its
    picture (OCR; `engine.collapse` tells a picture re-used with other copy from a template with
    other words on it); read from vectors/search_docs.json and search_text_hash.npz when the
    library's documents and attributes are unchanged since they were written (at 100k ads the
    attribute join and this loop cost ~1.5 s of a fresh process's first search, the OCR hashes
    ~0.3 s; the files load in ~0.1 s)."""
    path = library.path / "vectors" / "search_docs.json"
    hash_path = path.with_name("search_text_hash.npz")  # beside it: 100k hashes as JSON cost ~60 ms to parse
    key = _docs_fingerprint(library)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved["key"] == key and len(saved["docs"]) == n:
            with np.load(hash_path) as f:
                if str(f["key"]) == key and len(f["text_hash"]) == n:
                    return saved["docs"], f["text_hash"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    rows = library.execute(
        """SELECT a.id, a.document,
                  hash(list_sort(list_distinct(regexp_extract_all(lower(coalesce(c.ocr_text, '')), '[\\p{L}\\p{N}_]+'))))
           FROM ads a JOIN creatives c ON c.id = a.creative_id ORDER BY a.id""").fetchall()
    docs = _compose_docs(library, rows)
    text_hash = np.asarray([int(r[2]) for r in rows], dtype=np.uint64)
    try:  # derived files: temp + rename, so a reader never sees half of one; a read-only folder skips them
        tmp = path.with_name(f"search_docs.tmp{os.getpid()}.json")
        tmp.write_text(json.dumps({"key": key, "docs": docs}), encoding="utf-8")
        os.replace(tmp, path)
        tmp = hash_path.with_name(f"search_text_hash.tmp{os.getpid()}.npz")
        np.savez(tmp, key=np.asarray(key), text_hash=text_hash)
        os.replace(tmp, hash_path)
    except OSError:
        pass
    return docs, text_hash


def _docs_fingerprint(library) -> str:
    """Changes whenever a document would: the ads' ids and documents (joined to their creatives, as
    _build reads them), every attribute row, and the rules that turn attributes into words. DuckDB's
    hash is deterministic; a sum over rows does not depend on their order."""
    ads = library.execute("SELECT count(*), sum(hash(a.id, a.document)) FROM ads a JOIN creatives c ON c.id = a.creative_id").fetchone()
    attrs = library.execute("SELECT count(*), sum(hash(ad_id, key, value)) FROM attributes").fetchone()
    from ..limits import MAX_DOCUMENT_CHARS, MAX_WORD_CHARS

    rules = f"{DOCS_VERSION}|{MAX_DOCUMENT_CHARS}|{MAX_WORD_CHARS}|{_NOT_WORDY_RE2}|{sorted(LANGUAGES.items())}"
    rules = hashlib.sha1(rules.encode()).hexdigest()[:12]
    return f"{ads[0]}:{ads[1]}|{attrs[0]}:{attrs[1]}|{rules}"


def _compose_docs(library, rows) -> list[str]:
    from ..documents import bound_text
    from ..limits import MAX_DOCUMENT_CHARS, MAX_WORD_CHARS

    attrs = _attribute_text(library)
    docs = []
    for r in rows:
        extra = attrs.get(r[0])
        text = (r[1] or "") + (". " + extra if extra else "")
        # bound_text only where it changes something (its regex over 100k documents cost ~0.9 s)
        if len(text) > MAX_DOCUMENT_CHARS or (len(text) > MAX_WORD_CHARS and max(map(len, text.split()), default=0) > MAX_WORD_CHARS):
            text = bound_text(text)  # stored long ones too
        docs.append(text)
    return docs


# attribute_words() in SQL: at 100k ads (1.1M attribute rows) the Python loop cost ~1.5 s of a
# fresh process's first search; DuckDB filters and joins them per ad in ~0.2 s. Same rules: a
# stripped value of 1–48 characters that is not a URL, hash or number; language codes as words.
_NOT_WORDY_RE2 = r"(?i)^(https?://|www\.)|^[0-9a-f]{16,}$|^[\d\s.,:/+\-TZ%]+$"


def _attribute_text(library) -> dict[int, str]:
    codes = ", ".join(f"('{k}', '{v}')" for k, v in LANGUAGES.items())
    sql = f"""
        WITH v AS (SELECT ad_id, key, regexp_replace(coalesce(value, ''), '^\\s+|\\s+$', '', 'g') AS v FROM attributes),
             w AS (SELECT v.ad_id, v.key,
                          replace(CASE WHEN lower(v.key) IN ('language', 'lang', 'locale') THEN coalesce(l.name, v.v)
                                       ELSE v.v END, '_', ' ') AS w
                   FROM v LEFT JOIN (VALUES {codes}) l(code, name) ON l.code = lower(substr(v.v, 1, 2))
                   WHERE length(v.v) BETWEEN 1 AND 48 AND NOT regexp_matches(v.v, ?))
        SELECT ad_id, string_agg(w, ', ' ORDER BY key) FROM w GROUP BY ad_id"""
    return {int(a): t for a, t in library.execute(sql, [_NOT_WORDY_RE2]).fetchall()}


def _build(library, key: str) -> Corpus:
    import gc

    # ~1M small objects (row tuples, documents) in one go: the collector's passes over them cost
    # ~0.2 s of a 100k build and find nothing to free (nothing here makes cycles)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_rows(library, key)
    finally:
        if was_enabled:
            gc.enable()


def _build_rows(library, key: str) -> Corpus:
    # columns as arrays (fetchnumpy), not 100k row tuples: 0.15 s instead of 0.5 s at 100k ads; the
    # documents are read only when search_docs.json is out of date (_lexical_docs)
    cols = library.execute(
        """SELECT a.id, a.file, a.creative_id, c.kind, c.thumb_path, c.media_path, c.phash, c.visual_model, c.extra
           FROM ads a JOIN creatives c ON c.id = a.creative_id ORDER BY a.id""").fetchnumpy()
    ad_ids = np.asarray(cols["id"], dtype=np.int64)
    n = len(ad_ids)
    docs, text_hash = _lexical_docs(library, n)
    lex_key = key.split("|", 1)[1].rsplit("|", 1)[0] + f"|{_doc_digest(docs)}"
    folder = library.path / "vectors"
    lexes = {}
    for kind in ("words", "chars"):
        lex = Lexical.load(kind, folder / f"bm25_{kind}", lex_key) if n else None
        if lex is None:
            lex = Lexical.build(kind, docs or [""])
            if n:  # whichever process builds it saves it (the read-only CLI too): temp + rename
                try:
                    lex.save(folder / f"bm25_{kind}", lex_key)
                except OSError:
                    pass  # a read-only folder: the in-process copy still serves
        lexes[kind] = lex
    creative_ids = np.asarray(cols["creative_id"], dtype=np.int64)
    kinds, models = _values(cols["kind"]), [m for m in _values(cols["visual_model"]) if m]
    from .nodes import load_taxonomy

    return Corpus(
        key=key, ad_ids=ad_ids, files=_values(cols["file"]), creative_ids=creative_ids,
        kinds=kinds, thumb_paths=_values(cols["thumb_path"]), media_paths=_values(cols["media_path"]),
        phash=_values(cols["phash"]), docs=docs, words=lexes["words"], chars=lexes["chars"],
        taxonomy=load_taxonomy(library, ad_ids), visual_model=max(set(models), key=models.count) if models else None,
        creative_rows=RowsByCreative(creative_ids),
        video_extras=[_parse_extra(e) if k == "video" else None for k, e in zip(kinds, _values(cols["extra"]))],
        text_hash=text_hash,
    )


def _values(col) -> list:
    """A fetchnumpy column as a list of Python values, NULL (masked) → None."""
    if isinstance(col, np.ma.MaskedArray):
        out = np.asarray(col.data, dtype=object)
        out[np.ma.getmaskarray(col)] = None
        return out.tolist()
    return col.tolist()


def _doc_digest(docs: list[str]) -> str:
    h = hashlib.sha1()
    for d in docs:
        h.update(d.encode("utf-8", "replace"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def _parse_extra(extra) -> dict | None:
    try:
        return json.loads(extra) if isinstance(extra, str) else (extra or None)
    except ValueError:
        return None


def library_root(library) -> Path:
    return Path(library.path)
