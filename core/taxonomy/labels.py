"""Node names and descriptions from evidence. The labeller is a Protocol: the default reads the
evidence by rules (offline, deterministic); an LLM/VLM labeller can take its place, reading the
same evidence plus the representatives' documents.

A name is 2–5 words a strategist would use: the strongest distinctive content words or tags
("Summer sale", "Testimonial quote") followed by what the ads look like ("photos", "text cards",
"videos"), never a generic word (ad, shop, now, click ...). Name words come from what the ads say
(copy, headline, CTA, visible text, tags) and must be real words (see words.py) that a good share
of the node's ads actually carry; a visual concept (ImageNet class) names a node only when the
classifier was confident and the word is common ("cat", never "bell cote"). A node whose members
share no such word is a catch-all and says so: "Mixed photos: veterans, police".
"""
from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from .corpus import FORM_COMPOSITION_WORDS
from .features import COLOR_NAMES, LAYOUT_VOCAB

GENERIC_WORDS = frozenset("""
ad ads advert adverts advertisement sponsored shop shopping now click clicks here buy get learn more today visit see
tags tag layout colours colors colour color shows show like just www com http https net org page link online official
website site order call action swipe tap image images picture pictures join comment comments share follow subscribe new
aqui aquí clic haz haga pulsa pulse entra ici cliquez klicken hier clicca qui 点击 这里 进入 请 点 击
""".split())

# words that describe the look: they go into the form part of a name, never its head
LOOK_WORDS = frozenset(COLOR_NAMES) | frozenset(w for phrase in LAYOUT_VOCAB + FORM_COMPOSITION_WORDS
                                                for w in phrase.replace("-", " ").split()) | frozenset(
    "pastel vibrant dark bright background monochrome black white text heavy graphic design only".split())

# (facet word, what a strategist calls such ads), in order of how much they say
FORM_NOUNS = (
    ("video", "videos"), ("split screen", "split-screen comparisons"), ("text-only graphic", "text cards"),
    ("wide banner", "banners"), ("vertical story", "stories"), ("illustration", "illustrations"),
    ("photo", "photos"), ("graphic design", "graphics"),
)
MICRO_FORM = "variants"
SOCIAL_POSTS = ("social media screenshot", "social posts")   # captures of feed posts (composition signal)
SINGULAR = {"social posts": "social post", "videos": "video", "split-screen comparisons": "split-screen comparison", "text cards": "text card",
            "banners": "banner", "stories": "story", "illustrations": "illustration", "photos": "photo",
            "graphics": "graphic"}
FORM_MIN_SHARE = 0.5
# share of a node's ads that must say a word for it to name the node: on the real ads a family's
# own line ("facemusic", "veterans") is said by 40-100% of its ads; a word said by under a fifth is
# one advertiser's inside a catch-all
STRONG_COVER = 0.4
MIN_COVER = 0.2
MICRO_MIN_COVER = 0.5
CONCEPT_MIN_SHARE = 0.4


@dataclass
class NodeEvidence:
    node_id: str
    level: int
    size: int
    keywords: list = field(default_factory=list)      # [(term, c-TF-IDF score)], strongest first
    tags: list = field(default_factory=list)          # enriched facets (dicts with tag, kind, share_in, q)
    layout: list = field(default_factory=list)        # [(word, share)], commonest first
    layout_rest: list = field(default_factory=list)   # [(word, share)] in the rest of the parent
    colours: list = field(default_factory=list)
    objects: list = field(default_factory=list)
    formats: list = field(default_factory=list)
    placements: list = field(default_factory=list)
    ctas: list = field(default_factory=list)
    video_share: float = 0.0
    parent_label: str | None = None
    avoid_names: tuple = ()                             # sibling/parent names already taken (lower case)
    documents: list = field(default_factory=list)     # representatives' documents, for model labellers
    # from the ads' own words: [(term, c-TF-IDF score, share of the node's ads saying it)], real words only
    name_terms: list | None = None
    concepts: list = field(default_factory=list)      # [(confident, common visual concept, share)]
    mixed: bool = False                                 # members share no idea: a catch-all


class TakenNames(AbstractSet):
    """A read-only view of the names already taken around a node (lower case), handed to the rule
    labeller as `avoid_names` without copying: at 100k ads a sub-cluster has hundreds to thousands of
    micro-patterns, and a sorted tuple of its siblings' names per micro-pattern was quadratic."""

    __slots__ = ("_names",)

    def __init__(self, names: set[str]):
        self._names = names

    def __contains__(self, name) -> bool:
        return name in self._names

    def __iter__(self):
        return iter(sorted(self._names))

    def __len__(self) -> int:
        return len(self._names)


@dataclass
class NodeLabel:
    name: str
    description: str


class Labeller(Protocol):
    def label(self, evidence: NodeEvidence) -> NodeLabel: ...


# is_content, _words and _plain are pure functions of one string, called ~20 times per node with the
# same terms (the siblings' vocabulary): cached, they were over a third of naming 71k nodes at 100k ads
@lru_cache(maxsize=1 << 18)
def is_content(term: str) -> bool:
    words = term.lower().replace("-", " ").split()
    return bool(words) and not any(w in GENERIC_WORDS for w in words) and not all(w in LOOK_WORDS for w in words)


@lru_cache(maxsize=1 << 18)
def _words(s: str) -> tuple[str, ...]:
    return tuple(s.replace("-", " ").lower().split())


@lru_cache(maxsize=1 << 18)
def _plain(term: str) -> bool:
    """Says something beyond the look and generic words (what a description may cite)."""
    words = set(_words(term))
    return not words <= LOOK_WORDS and not words <= GENERIC_WORDS


class RuleLabeller:
    """Offline labeller: name from distinctive keywords/tags + a form noun; description from evidence."""

    max_words = 5

    def label(self, evidence: NodeEvidence) -> NodeLabel:
        return NodeLabel(self.name(evidence), self.describe(evidence))

    # -- names ---------------------------------------------------------------------------------------
    def head_candidates(self, ev: NodeEvidence) -> list[str]:
        # metadata tags that most of the node carries (and its siblings don't) are the curated
        # vocabulary of the account: they lead; then the distinctive words most ads say, then
        # a visual concept most ads show, then distinctive words that fewer ads say
        tags = [t["tag"] for t in ev.tags if t["kind"] == "tag" and t["share_in"] >= 0.5 and is_content(t["tag"])]
        cands = list(tags)
        tag_words = {w for c in tags for w in _words(c)}

        def add(term: str) -> None:
            if is_content(term) and term not in cands and not set(_words(term)) <= tag_words:
                cands.append(term)

        if ev.name_terms is None:   # evidence without the words' coverage (a hand-made evidence)
            for t, _ in ev.keywords:
                add(t)
            if not cands:
                cands += [o for o, s in ev.objects if s >= 0.3]
            return cands
        strong = MICRO_MIN_COVER if ev.level == 3 else STRONG_COVER
        for t, _, cover in ev.name_terms:
            if cover >= strong:
                add(t)
        for c, share in ev.concepts:
            if share >= CONCEPT_MIN_SHARE:
                add(c)
        if ev.level < 3:
            for t, _, cover in ev.name_terms:
                if cover >= MIN_COVER:
                    add(t)
        return cands   # the order the ads say them is _compose's job

    def form(self, ev: NodeEvidence) -> str:
        if ev.level == 3 and ev.size > 1:
            return MICRO_FORM
        if ev.level == 3:   # a leaf that is one ad (it has no variants): "photo", "banner", "ad"
            plural = self._look(ev)
            return SINGULAR.get(plural, "ad")
        return self._look(ev)

    def _look(self, ev: NodeEvidence) -> str:
        if ev.video_share >= FORM_MIN_SHARE:
            return "videos"
        shares, rest = dict(ev.layout), dict(ev.layout_rest)
        # a capture of a feed post is that before it is a photo or a text card (their pictures are blacked out)
        if shares.get(SOCIAL_POSTS[0], 0.0) >= FORM_MIN_SHARE:
            return SOCIAL_POSTS[1]
        # the look most of the node has and its siblings have least (photo is everywhere; split screen is not)
        options = [(shares[w] - rest.get(w, 0.0), -i, noun) for i, (w, noun) in enumerate(FORM_NOUNS)
                   if shares.get(w, 0.0) >= FORM_MIN_SHARE]
        return max(options)[2] if options else ""

    def name(self, ev: NodeEvidence) -> str:
        form = self.form(ev)
        avoid = ev.avoid_names if isinstance(ev.avoid_names, TakenNames) else {a.lower() for a in ev.avoid_names}
        if ev.mixed and ev.level < 3:
            return self.mixed_name(ev, form, avoid)
        cands = self.head_candidates(ev)
        if not cands:
            colour = next((c for c, s in ev.colours if s >= 0.4 and c in COLOR_NAMES), "")
            return self._compose([colour] if colour else ["mixed"], form or "creatives")
        said = {t for t, *_ in ev.name_terms or []}
        first = None
        for start in range(len(cands)):   # composed one at a time: most nodes take the first (71k micro-patterns at 100k)
            option = self._compose(cands[start:], form, said)
            if option.lower() not in avoid:
                return option
            first = first or option
        return first

    def mixed_name(self, ev: NodeEvidence, form: str, avoid: AbstractSet[str]) -> str:
        """'Mixed photos: veterans, police': the look they share, then their commonest distinct words."""
        if ev.name_terms is not None:   # the words most of its ads say, not one advertiser's rarest
            terms = [t for t, _, cover in sorted(ev.name_terms, key=lambda x: -x[2])]
        else:
            terms = [t for t, _ in ev.keywords]
        words: list[str] = []
        said_above = set(re.findall(r"[^\W_]+", (ev.parent_label or "").lower()))   # a mixed part of a mixed family: what sets it apart
        for t in terms:
            w = _words(t)
            if len(w) == 1 and len(w[0]) >= 3 and w[0].isalpha() and w[0] not in words and is_content(w[0]):
                words.append(w[0])
        words = [w for w in words if w not in said_above] + [w for w in words if w in said_above]
        head = "Mixed " + (form or "ads")
        options = [head + (": " + ", ".join(words[i:i + 2]) if words[i:i + 2] else "") for i in range(max(1, len(words) - 1))]
        options += [head + ": " + ", ".join(p) for p in zip(words, words[2:])]
        return next((o for o in options if o.lower() not in avoid), options[0])

    def _compose(self, cands: list[str], form: str, said: set[str] = frozenset()) -> str:
        """Up to two leading terms in the order the ads say them: the phrase a word comes from
        ("stop allinvaders", not "allinvaders stop"), a phrase before a word ("black fist defense")."""
        head: list[str] = []
        for c in cands:
            words = _words(c)
            if not head:
                head = words
            elif set(head) < set(words) and len(words) <= 3:
                head = words
            elif len(head) == 1 and not {_stem(w) for w in words} & {_stem(w) for w in head} and len(head) + len(words) <= 3:
                backwards = " ".join(words + head) in said and " ".join(head + words) not in said
                head = words + head if len(words) > 1 or backwards else head + words
            if len(head) >= 2:
                break
        form_words = form.split() if form else []
        if not form_words and len(head) < 2:
            form_words = ["creatives"]
        head = head[: max(1, self.max_words - len(form_words))]
        text = " ".join([*head, *form_words])
        return text[:1].upper() + text[1:]

    # -- descriptions ----------------------------------------------------------------------------------
    def describe(self, ev: NodeEvidence) -> str:
        """One sentence from the evidence, short on purpose: every word is embedded per node."""
        said = [t for t, *_ in ev.name_terms] if ev.name_terms is not None else [t for t, _ in ev.keywords]
        kws = _distinct([t for t in said if _plain(t)], 3)
        if ev.level == 3:  # one creative and its variants: what it says and how it looks is enough
            look = " ".join([w for w, s in ev.layout if s >= 0.5 and w != "video"][:2] +
                            [c for c, s in ev.colours if s >= 0.5][:1])
            what = f"{ev.size} variants of one creative" if ev.size > 1 else "One ad without variants"
            return (what + (" about " + _and(kws[:2]) if kws else "")
                    + (f": {look}" if look else "") + ".")
        head = f"{ev.size} ad{'s' if ev.size != 1 else ''}"
        if ev.mixed:
            head = f"A mix of {ev.size} ads with no common message"
            kws = kws[:3]
        if 0 < ev.video_share < 1:
            head += f" ({ev.video_share:.0%} video)"
        elif ev.video_share >= 1:
            head = f"{ev.size} video ad{'s' if ev.size != 1 else ''}"
        if kws:
            head += (", among them " if ev.mixed else " about ") + _and(kws)
        details = []
        look = [w for w, s in ev.layout if s >= 0.5 and w != "video"][:2]
        colours = []
        for c, share in ev.colours:   # "black and white" already says "white": one mention of each colour
            if share >= 0.4 and len(colours) < 2 and not set(c.split()) & {w for k in colours for w in k.split()}:
                colours.append(c)
        if look or colours:
            details.append("mostly " + " ".join(filter(None, [", ".join(look), ("in " + _and(colours)) if colours else ""])))
        objects = [o for o, s in ev.concepts if s >= 0.3][:2] if ev.name_terms is not None else \
            [o for o, s in ev.objects if s >= 0.3][:2]
        if objects:
            details.append("showing " + _and(objects))
        tags = [t["tag"] for t in ev.tags if t["kind"] == "tag"][:2]
        if tags:
            details.append("tagged " + _and(tags))
        if ev.ctas and ev.ctas[0][1] >= 0.3:
            details.append(f"CTA “{ev.ctas[0][0].capitalize()}”")
        return head + (": " + "; ".join(details) if details else "") + "."


def _stem(word: str) -> str:
    """Enough of a stem to see "bagels" and "bagel" as one word."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _distinct(terms: list[str], k: int) -> list[str]:
    """Up to k terms that each add words: "illegal immigration", not also "illegal" and "immigration"."""
    out: list[str] = []
    for t in terms:
        w = set(_words(t))
        if w <= {x for c in out for x in _words(c)}:
            continue
        out = [c for c in out if not set(_words(c)) < w] + [t]
        if len(out) >= k:
            break
    return out[:k]


def _and(items: list[str]) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def unique_name(name: str, ev: NodeEvidence, taken: set[str]) -> str:
    """Last resort when a labeller repeats a sibling's name: add what sets this node apart."""
    if name.lower() not in taken:
        return name
    words = set(_words(name))
    # what the ads say first (real words only), then curated tags; never facet codes like "key=value"
    said = [t for t, *_ in ev.name_terms] if ev.name_terms is not None else [t for t, _ in ev.keywords]
    extras = [t for t in said if is_content(t)] + [t["tag"] for t in ev.tags if t["kind"] == "tag"]
    for extra in extras + [c for c, _ in ev.colours]:
        if not set(_words(extra)) <= words and len(_words(name)) + len(_words(extra)) <= 6:
            cand = f"{name} ({extra})"
            if cand.lower() not in taken:
                return cand
    k = 2
    while f"{name} ({k})".lower() in taken:
        k += 1
    return f"{name} ({k})"
