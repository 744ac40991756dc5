"""The ad document: the text that text search and keyword labelling see for one ad.

copy + headline + CTA + OCR text + tags + every signal's words (object labels, colour and layout
words, and any plug-in signal's: core.signals.base), and what the
visible text contains that people remember by kind rather than by value ("the one with a phone
number", "big price callouts"): phone number, price, percentage, web address. Labels below a
probability floor are left out: ImageNet guesses on graphics are mostly noise.
"""
from __future__ import annotations

import re

from .limits import MAX_DOCUMENT_CHARS, MAX_WORD_CHARS

LABEL_FLOOR = 0.12

# OCR reads "0120-819-053", "1-800-HELP N0W", "$79.99", "70%", "U819.c0m": kinds, not values
_PHONE = re.compile(r"(?<![\w.])(?:\+?\d{1,3}[\s.\-]?)?(?:\(?\d{2,4}\)?[\s.\-]){1,3}\d{3,4}(?![\w.])")
_TOLL_FREE = re.compile(r"\b1[.\-]8\d\d[.\-][a-z0-9]{3,}", re.I)
_DATE = re.compile(r"\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}")
_PRICE = re.compile(r"[$€£¥￥]\s?\d|\d\s?(?:dollars?|euros?|yen|円|元)(?!\w)|\b\d+[.,]\d{2}\b(?!\s?%)", re.I)
_PERCENT = re.compile(r"\d\s?(?:%|％|percent\b|por ciento\b)", re.I)
_WEB = re.compile(r"\b(?:www\.|https?://)|\b[\w-]{2,}\s?\.\s?(?:com|net|org|co|es|jp|cn|de|fr|uk|tv|biz|info|ne)\b", re.I)


def text_kind_words(text: str) -> list[str]:
    """What kinds of things the visible text holds, as the words a person would search with."""
    text = _DATE.sub(" ", text or "")  # 12.01.2016 is neither a phone number nor a price
    out = []
    if _TOLL_FREE.search(text) or any(sum(c.isdigit() for c in m.group(0)) >= 7 for m in _PHONE.finditer(text)):
        out.append("phone number")
    if _PRICE.search(text):
        out.append("price")
    if _PERCENT.search(text):
        out.append("percentage")
    if _WEB.search(text):
        out.append("web address")
    return out


def label_words(labels, floor: float = LABEL_FLOOR) -> list[str]:
    return [str(lbl) for lbl, p in (labels or []) if float(p) >= floor]


_LONG_WORD = re.compile(r"\S{%d,}" % (MAX_WORD_CHARS + 1))


def bound_text(text: str, max_chars: int | None = None) -> str:
    """Text the encoders and BM25 can afford: every word cut at MAX_WORD_CHARS and the whole at
    max_chars (MAX_DOCUMENT_CHARS); one 120,000-character "word" once made every search take 69 s."""
    text = text or ""
    if len(text) > MAX_WORD_CHARS:
        text = _LONG_WORD.sub(lambda m: m.group(0)[:MAX_WORD_CHARS], text)
    cap = MAX_DOCUMENT_CHARS if max_chars is None else max_chars
    return text if len(text) <= cap else text[:cap].rsplit(" ", 1)[0]


def compose(fields: dict, texts: list[str], labelled: list[tuple[str, list[str]]], tail: list[str] | None = None) -> str:
    """The document's one layout: the ad's copy and `texts` (visible text), tags, each "label: words"
    part in order, what the text holds ("text has: …"), then `tail` words."""
    # each free text bounded on its own, so a huge copy cannot push the tags and signal words out
    parts = [bound_text(str(fields[k]).strip(), 1500) for k in ("headline", "copy", "cta") if fields.get(k)]
    parts += [bound_text(t.strip(), 1500) for t in texts if t]
    kinds = text_kind_words(" ".join(p for p in parts))
    tags = fields.get("tags") or []
    if tags:
        parts.append(bound_text("tags: " + ", ".join(tags), 1000))
    parts += [f"{label}: " + ", ".join(words) for label, words in labelled if words]
    if kinds:
        parts.append("text has: " + ", ".join(kinds))
    if tail:
        parts.append(", ".join(tail))
    return bound_text(". ".join(p for p in parts if p))


def signal_document(fields: dict, row: dict) -> str:
    """An ad's document from its metadata fields and its creative's stored signal columns (`row`):
    every registered signal adds its words (core.signals.base)."""
    from .signals.base import registered, row_words

    texts, labelled = [], []
    for sig in registered():
        words = row_words(sig, row)
        if sig.document_label is None:
            texts += words
        else:
            labelled.append((sig.document_label, words))
    return compose(fields, texts, labelled)


def ad_document(fields: dict, ocr_text: str = "", labels=None, color_words=None, layout_words=None, extra_words=None) -> str:
    """The document from today's signals given one by one (synthetic corpora, tests)."""
    return compose(fields, [ocr_text or ""], [("shows", label_words(labels)), ("colours", list(color_words or [])),
                                             ("layout", list(layout_words or []))], extra_words)
