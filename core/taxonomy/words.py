"""Which words of a library are real enough to name a node.

A word is real when a word-frequency list (wordfreq, offline: its lists ship in the wheel) knows it
in the language of the ads that use it, or when it recurs in at least `RECUR_MIN_ADS` ads' own text
(headline, copy, CTA, visible text, tags): brands such as "Facemusic" that no list knows.

"Knows" means a Zipf frequency ≥ 3 (once per million words). Lower would let OCR misreads in:
on the real ads "tbe" (Zipf 2.6), "seif" (2.3), "ktc" (1.7) and "cvts" (1.2) are all in the English
list as web typos, while the words strategists name groups by are far above it ("veterans" 4.3,
"truck" 4.6). A recurring word that is one letter away from a common word ("seif" → "self",
"cvts" → "cats") is a systematic misread of that word, not a brand, and stays out; so is a rarer
word that is a common word of the same ads with its first letters cut off ("lick" ← "click").

The language of an ad is a cheap guess: the script (kana → ja, Han → zh, Hangul → ko, Cyrillic →
ru, Arabic → ar) or, for Latin text, whichever of a few languages' short lists knows most of its
words (English on ties). Japanese and Chinese words need a segmenter that wordfreq leaves to
optional packages (MeCab, jieba); instead a run of Han/kana characters counts as real when it
splits, longest match first, into listed words of two or more characters.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

MIN_ZIPF = 3.0
COMMON_ZIPF = 4.0          # a word this common is what a near-miss OCR token was meant to be ("cvts" → "cuts" 4.4)
FUNCTION_ZIPF = 6.0        # as frequent as "para", "tu", "en" in Spanish: a function word, never a name
RECUR_MIN_ADS = 3
CLIPPED_RATIO = 5          # the whole word is this many times as common in the ads as its clipped end
# two- and three-letter strings are abbreviations or OCR shards ("eb" 3.3, "mea" 3.1, "psn" 3.0); they
# need a higher frequency ("ga" 4.1, "bmw" 3.9, "usa" 4.8) and recurring makes them words only as tags ("ugc")
SHORT_MIN_ZIPF = 3.5
LATIN_LANGS = ("en", "es", "fr", "de", "pt", "it", "nl")

_WORD = re.compile(r"[^\W\d_]+|\d{1,3}%")
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SCRIPT_RUN = re.compile(rf"[{_CJK}]+|[^{_CJK}]+")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SCRIPTS = (("ko", re.compile(r"[\uac00-\ud7af]")), ("ru", re.compile(r"[\u0400-\u04ff]")),
            ("ar", re.compile(r"[\u0600-\u06ff]")), ("el", re.compile(r"[\u0370-\u03ff]")),
            ("he", re.compile(r"[\u0590-\u05ff]")), ("th", re.compile(r"[\u0e00-\u0e7f]")))
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=None)
def frequencies(lang: str, wordlist: str = "large") -> dict:
    """word → frequency for one language ({} when wordfreq lacks the list)."""
    try:
        import wordfreq

        return wordfreq.get_frequency_dict(lang, wordlist=wordlist)
    except (LookupError, ValueError):
        try:
            import wordfreq

            return wordfreq.get_frequency_dict(lang, wordlist="best")
        except (LookupError, ValueError):
            return {}


def zipf(word: str, lang: str) -> float:
    f = frequencies(lang).get(word, 0.0)
    return math.log10(f) + 9.0 if f > 0 else 0.0


def tokens(text: str) -> list[str]:
    """Lower-case words of a text, with runs of Han/kana split from Latin letters ("it開速情報")."""
    text = (text or "").lower()
    if not _HAN.search(text) and not _KANA.search(text):   # no word of it has Han or kana (most texts)
        return _WORD.findall(text)
    out = []
    for w in _WORD.findall(text):
        out.extend(_SCRIPT_RUN.findall(w) if _HAN.search(w) or _KANA.search(w) else [w])
    return out


def guess_language(words: list[str]) -> str:
    text = "".join(words)
    if _KANA.search(text):
        return "ja"
    if _HAN.search(text):
        return "zh"
    for lang, pattern in _SCRIPTS:
        if pattern.search(text):
            return lang
    latin = [w for w in words if w.isascii() or w.isalpha()]
    if not latin:
        return "en"
    # which short lists know each word, as a bit mask cached per word; the masks counted once, so
    # 100k ads cost one cached lookup per word instead of seven dict lookups
    masks = Counter(map(_known_in_small_lists, latin))
    scores = {lang: sum(c for m, c in masks.items() if m >> i & 1) for i, lang in enumerate(LATIN_LANGS)}
    best = max(scores.values())
    return "en" if scores["en"] == best else max(LATIN_LANGS, key=lambda lang: (scores[lang], lang == "en"))


@lru_cache(maxsize=1 << 18)
def _known_in_small_lists(word: str) -> int:
    """Bit i set when LATIN_LANGS[i]'s short word list knows the word."""
    return sum(1 << i for i, lang in enumerate(LATIN_LANGS) if word in frequencies(lang, "small"))


def cjk_split(run: str, langs=("zh", "ja")) -> list[str] | None:
    """Longest-match split into listed words; None unless ≥ half the characters are in 2+ char words."""
    for lang in [lang for lang in ("ja", "zh") if lang in langs] or ["zh", "ja"]:
        freq = frequencies(lang)
        i, long_chars, parts = 0, 0, []
        while i < len(run):
            for j in range(min(len(run), i + 6), i, -1):
                if run[i:j] in freq and math.log10(freq[run[i:j]]) + 9 >= MIN_ZIPF:
                    long_chars += (j - i) if j - i >= 2 else 0
                    parts.append(run[i:j])
                    i = j
                    break
            else:
                parts = None
                break
        if parts and long_chars * 2 >= len(run):
            return parts
    return None


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({a + b[1:] for a, b in splits if b} | {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
            | {a + c + b for a, b in splits for c in _LETTERS})


class Lexicon:
    """The real words of one set of ad texts (one text per ad)."""

    def __init__(self, texts: list[str], typed: list[str] | None = None):
        """`texts`: all each ad says; `typed`: curated words (metadata tags), never misreads. Copy is not
        trusted as typed: the real IRA ads' copy was itself read from scans ("SeIf-Defense")."""
        # each distinct text is read once (a big library repeats texts: variants, templates, empty
        # ones), in order of first use, and counted as often as ads say it: the same words, languages,
        # counts and key order as reading every ad
        first: dict[str, int] = {}
        for t in texts:
            first[t] = first.get(t, 0) + 1
        words = {t: tokens(t) for t in first}
        lang = {t: guess_language(ws) for t, ws in words.items()}
        self.ad_words = [words[t] for t in texts]     # one list per distinct text: read, never changed
        self.typed = {w for t in (typed or []) for w in tokens(t)}
        self.language = [lang[t] for t in texts]
        self.ads_with: Counter = Counter()
        self.langs_of: dict[str, set] = {}
        for t, n_ads in first.items():
            ws, lg = words[t], lang[t]
            for w in set(ws):
                self.ads_with[w] += n_ads
                self.langs_of.setdefault(w, {"en"}).add(lg)
        self._real: dict[str, bool] = {}
        self._clipped_from: dict[str, tuple[int, str]] | None = None

    def known(self, word: str) -> bool:
        """A word-frequency list knows the word in a language of the ads using it (or English)."""
        langs = self.langs_of.get(word, {"en"})
        if _HAN.search(word) or _KANA.search(word):
            return cjk_split(word, langs) is not None
        if word.endswith("%"):
            return True
        return any(zipf(word, lang) >= (SHORT_MIN_ZIPF if len(word) <= 3 else MIN_ZIPF) for lang in langs)

    def pieces(self, word: str) -> list[str]:
        """The words a token is made of: a Han/kana run split into listed words, a glued pair of known
        Latin words ("clickhere" → click, here), else the token itself."""
        word = word.lower()
        langs = self.langs_of.get(word, {"en"})
        if _HAN.search(word) or _KANA.search(word):
            return cjk_split(word, langs) or [word]
        if len(word) < 6 or any(zipf(word, lang) >= MIN_ZIPF for lang in langs):
            return [word]
        best, best_z = [word], MIN_ZIPF + 0.5
        for i in range(2, len(word) - 1):
            z = max(min(zipf(word[:i], lang), zipf(word[i:], lang)) for lang in langs)
            if z >= best_z:
                best, best_z = [word[:i], word[i:]], z
        return best

    def function_word(self, word: str) -> bool:
        """As frequent as a preposition in a non-English language of its ads ("para", "en", "tu")."""
        langs = self.langs_of.get(word.lower(), set()) - {"en"}
        return any(zipf(word.lower(), lang) >= FUNCTION_ZIPF for lang in langs) and zipf(word.lower(), "en") < 5.0

    def misread(self, word: str) -> bool:
        """Not a tag, and one letter away from a common word: a misreading of that word."""
        if not word.isascii() or len(word) < 4 or word in self.typed:
            return False
        langs = self.langs_of.get(word, {"en"})
        return any(zipf(e, lang) >= COMMON_ZIPF for e in _edits1(word) for lang in langs)

    def clipped(self, word: str) -> bool:
        """A rarer word that is a common word of these ads with its first letter or two cut off by
        the frame or the OCR ("lick" in banners that say "click" 48× as often): the clipped word."""
        if self._clipped_from is None:
            self._clipped_from = {}
            for v, c in self.ads_with.items():
                if v.isascii() and len(v) >= 4 and zipf(v, "en") >= COMMON_ZIPF:
                    for cut in (1, 2):
                        if len(v) - cut >= 3 and c > self._clipped_from.get(v[cut:], (0, ""))[0]:
                            self._clipped_from[v[cut:]] = (c, v)
        source = self._clipped_from.get(word)
        return (source is not None and word not in self.typed and source[0] >= CLIPPED_RATIO * max(self.ads_with[word], 1)
                and all(zipf(word, lang) < COMMON_ZIPF for lang in self.langs_of.get(word, {"en"})))

    def is_real_word(self, word: str) -> bool:
        word = word.lower()
        if word not in self._real:
            pieces = tokens(word)
            self._real[word] = bool(pieces) and "".join(pieces) == re.sub(r"[\s\-'’]", "", word) and all(
                (self.known(p) or (self.ads_with[p] >= RECUR_MIN_ADS and (len(p) > 3 or p in self.typed) and not self.misread(p)))
                and not self.clipped(p) for p in pieces)
        return self._real[word]

    def is_real(self, term: str) -> bool:
        """Every word of a term (unigram, bigram, tag, concept) is real."""
        words = str(term).replace("-", " ").split()
        return bool(words) and all(self.is_real_word(w) for w in words)

    def noise_words(self, name: str) -> list[str]:
        """Words of a node name that are neither known nor recurring: the OCR-noise measure (a number,
        such as the "(2)" that tells two same-named micro-patterns apart, is no noise)."""
        return [w for w in re.findall(r"[^\W_]+%?", name.lower()) if not w.isdigit() and not self.is_real_word(w)]


def ad_texts(frame) -> list[str]:
    """What each ad says in words: headline, copy, CTA, visible text and tags. Machine labels
    (ImageNet classes, colours, layout) are left out: they are not the ad's words."""
    # columns as lists, then one zip: a cell read per row (.iat) was ~5 s of a 100k build
    cols = [frame[c].fillna("").astype(str).tolist() for c in ("headline", "copy", "cta", "ocr_text") if c in frame]
    tags = frame["tags"].tolist() if "tags" in frame else [[]] * len(frame)
    return [". ".join(p for p in (*parts, ", ".join(map(str, t or []))) if p) for *parts, t in zip(*cols, tags)]


def corpus_lexicon(frame, texts: list[str] | None = None) -> Lexicon:
    """The lexicon of a library's ads; `texts`: their `ad_texts(frame)` when the caller has them already."""
    tags = frame["tags"] if "tags" in frame else []
    return Lexicon(ad_texts(frame) if texts is None else texts, [" ".join(map(str, t or [])) for t in tags])


def name_quality(tree, lexicon: Lexicon) -> dict:
    """The name checks of a tree: share of node names with an OCR-noise word (neither known to a
    word list nor recurring in RECUR_MIN_ADS ads) and names shared by two families/sub-clusters."""
    nodes = [n for n in tree.nodes.values() if n.level >= 1 and n.size > 0 and n.id != "new"]
    noisy = {n.id: lexicon.noise_words(n.label) for n in nodes if lexicon.noise_words(n.label)}
    seen: dict[str, list[str]] = {}
    for n in nodes:
        if n.level in (1, 2):
            seen.setdefault(n.label.lower(), []).append(n.id)
    return {"nodes": len(nodes), "noisy": noisy, "noise_share": round(len(noisy) / max(len(nodes), 1), 4),
            "duplicates": {k: v for k, v in seen.items() if len(v) > 1}}
