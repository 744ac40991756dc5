"""The labelling stage: keywords, enriched facets, names, descriptions, representatives, fidelity,
text centroid and label vector for every node of a tree (root and families included)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
from scipy import sparse

from . import representatives as reps
from .corpus import AdCorpus
from .evidence_batch import enriched_rows, mean_text_units, shares_rows, term_rank, top_terms_rows
from .facets import TESTED_KINDS, Facets, build_facets
from .keywords import c_tf_idf, doc_term_matrix, top_terms
from .labels import STRONG_COVER, Labeller, NodeEvidence, RuleLabeller, TakenNames, is_content, unique_name
from .tree import ROOT_ID, ClusterTree
from .words import ad_texts, corpus_lexicon, zipf

N_KEYWORDS = 10
# facet shares a node's evidence lists, per kind: (kind, at most)
SHARE_LIMITS = (("layout", 8), ("colour", 5), ("object", 5), ("format", 5), ("placement", 5), ("cta", 3))
MICRO_ENCODE_MAX = 2_000   # micro-patterns whose names are embedded with MiniLM; above, none are (see run)
# Families and sub-clusters past which sub-clusters go the micro-patterns' way: no MiniLM vector of their
# own (label_vec = their ads' mean document vector, fidelity not measured) and naive representatives
# instead of the convergent sampler's rounds. MiniLM for ~860 clusters was over half of labelling at 100k
# ads (800 sub-clusters); the 461 real ads have 85 families and sub-clusters, the sample library 40.
CLUSTER_ENCODE_MAX = 500
# A visual concept (ImageNet class) speaks for an ad only when the classifier is sure (p ≥ 0.5) and
# the word is common (Zipf ≥ 3.5): on the real ads p ≥ 0.3 gives "web site" for 67 text banners,
# "stage", "jigsaw puzzle"; on the sample "bell cote" (Zipf 3.0) for a church photo.
FORM_WORDS = frozenset("text texts video videos photo photos banner banners graphic graphics illustration image "
                       "illustrations images picture pictures card cards story stories post posts screenshot screenshots".split())
CONCEPT_MIN_P = 0.5
CONCEPT_MIN_ZIPF = 3.5
# classes the image model gives to graphics and screenshots: they say "text on a picture", not what it shows
GRAPHIC_CLASSES = frozenset("""web site;comic book;book jacket;menu;envelope;packet;jigsaw puzzle;street sign;scoreboard;
digital clock;band aid;crossword puzzle;screen;monitor;television;home theater;notebook;binder;rule;pick;slot""".replace("\n", "").split(";"))


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 0 else v.astype(np.float32)


class _Encoder:
    """Batched text embeddings with a per-stage cache (many small nodes repeat descriptions)."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.cache: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            self.cache.update(zip(missing, self.encoder.encode(missing)))
        return np.vstack([self.cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


class TreeLabeller:
    """Holds the corpus-wide matrices; `run(tree)` fills every node's label fields in place."""

    def __init__(self, corpus: AdCorpus, features: np.ndarray, labeller: Labeller | None = None,
                 rep_strategy: str = "convergent", seed: int = 0, encoder=None, progress: Callable | None = None):
        self.corpus = corpus
        self.features = features
        self.labeller = labeller or RuleLabeller()
        self.rep_strategy = reps.check_strategy(rep_strategy)
        self.seed = seed
        self._text_encoder = encoder
        self._encode: _Encoder | None = None
        self.progress = progress or (lambda *a: None)

    @property
    def encode(self) -> _Encoder:
        if self._encode is None:
            if self._text_encoder is None:
                from ..models import text_encoder

                self._text_encoder = text_encoder()
            self._encode = _Encoder(self._text_encoder)
        return self._encode

    def run(self, tree: ClusterTree, names: dict[str, str] | None = None) -> None:
        """Fill every node's label fields; `names` (node id → name) are user names that stay."""
        c = self.corpus
        ids = [ROOT_ID] + [n.id for n in tree.descendants(ROOT_ID)]
        pos = {nid: i for i, nid in enumerate(ids)}
        rows = {nid: np.searchsorted(c.ad_ids, tree.members(nid)) for nid in ids}
        M = _membership(ids, rows, c.n)
        self.docs, self.vocab = c.doc_terms()
        self._vocab_rank = term_rank(self.vocab)
        # the ad texts read once, for the lexicon and for the names' terms
        self._said_texts = ad_texts(c.frame)
        self.lexicon = corpus_lexicon(c.frame, self._said_texts)
        real = np.array([self.lexicon.is_real(t) for t in self.vocab], dtype=bool)
        self.facets: Facets = build_facets(c)
        self._kind_cols: dict[str, np.ndarray] = {}
        term_counts = (M @ self.docs).tocsr()
        # dense (nodes × facets, a few hundred columns): the per-node loop below read ~19 sparse rows per
        # node, 189k scipy __getitem__ calls and a fifth of the labelling time at 10k ads
        facet_counts = np.asarray((M @ self.facets.matrix).todense(), dtype=np.float64)
        self._is_video = c.frame["kind"].to_numpy() == "video"   # read per sample by the convergent sampler
        video = M @ self._is_video.astype(float)
        sizes = np.array([len(rows[n]) for n in ids])
        tested = self.facets.of_kind(*TESTED_KINDS)

        keywords, idf = self._keywords(tree, ids, pos, term_counts, self.vocab, real)
        tags = self._enriched(tree, ids, pos, facet_counts[:, tested], sizes, tested)
        threaded = type(self.labeller) is RuleLabeller
        with ThreadPoolExecutor(1, thread_name_prefix="representatives") as pool:
            sampling = None
            if threaded:
                # the convergent sampler's MiniLM rounds (torch, outside the GIL) start as soon as what they
                # read exists (idf, the clusters' tags; `_subset_evidence` reads id, level, size and tags) and
                # run while the rest of the evidence is gathered and the names are composed: the sampler
                # reads its own subsets' evidence, never the names, and the rule labeller keeps no state,
                # so both give what they give one after the other
                base = {nid: NodeEvidence(nid, tree.nodes[nid].level, int(sizes[pos[nid]]), tags=tags.get(nid, []))
                        for nid in ids if tree.nodes[nid].level < 3}
                sampling = pool.submit(self._representatives, tree, ids, rows, base, idf)
            name_terms = self._name_terms(tree, ids, pos, M, sizes)
            concepts = self._concepts(M, sizes)
            shares = {kind: shares_rows(facet_counts[:, self._cols(kind)], sizes, self.facets.names[self._cols(kind)], limit)
                      for kind, limit in SHARE_LIMITS}
            layout_rest = self._layout_rest(tree, ids, pos, facet_counts, sizes)
            evidence: dict[str, NodeEvidence] = {}
            for nid in ids:
                node = tree.nodes[nid]
                i = pos[nid]
                size = int(sizes[i])
                ev = evidence[nid] = NodeEvidence(
                    node.id, node.level, size, keywords=list(keywords[nid]), tags=tags.get(nid, []), layout=shares["layout"][i],
                    colours=shares["colour"][i], objects=shares["object"][i], formats=shares["format"][i],
                    placements=shares["placement"][i], ctas=shares["cta"][i], video_share=float(video[i]) / max(size, 1))
                ev.name_terms = name_terms.get(nid, [])
                ev.concepts = concepts[i]
                ev.mixed = node.mixed = _is_mixed(node, ev)   # what the name says, kept for the build's readers
                if node.parent_id is not None:
                    ev.layout_rest = layout_rest[i]
            self._name(tree, evidence, names or {})
            self.progress("labels", len(ids) // 2, len(ids))
            if sampling is not None:
                rep_rows, traces = sampling.result()
            else:   # a model labeller may hold state (a client, a cache): one call at a time
                rep_rows, traces = self._representatives(tree, ids, rows, evidence, idf)
        # MiniLM cost is per token and dominates a 10k build (≈1,700 of 1,800 nodes are micro-patterns):
        # a micro-pattern embeds its name and keywords only (its description is a formula over the same
        # words) and that one vector serves as label_vec and for fidelity; clusters embed both texts in full
        label_texts = [label_text(tree.nodes[n].label, tree.nodes[n].description, keywords[n]) if tree.nodes[n].level < 3
                       else label_text(tree.nodes[n].label, "", keywords[n][:4]) for n in ids]
        # past MICRO_ENCODE_MAX micro-patterns (17k at 100k ads) their names are not embedded: label_vec is
        # their ads' mean document vector, already in MiniLM's space, and fidelity is not measured (and the
        # same for sub-clusters past CLUSTER_ENCODE_MAX clusters)
        without_model = _modelless_levels(tree, ids)
        modelless = {k for k, n in enumerate(ids) if tree.nodes[n].level in without_model}
        encoded = [k for k in range(len(ids)) if k not in modelless]
        at = {k: i for i, k in enumerate(encoded)}   # row of label_vecs / desc_vecs (encoded nodes only)
        clusters = [k for k, n in enumerate(ids) if tree.nodes[n].level < 3 and k not in modelless]

        def node_vectors() -> tuple[np.ndarray, np.ndarray]:
            label_vecs = self.encode([label_texts[k] for k in encoded])
            desc_vecs = label_vecs.copy()
            if clusters:
                desc_vecs[[at[k] for k in clusters]] = self.encode([tree.nodes[ids[k]].description for k in clusters])
            return label_vecs, desc_vecs

        # MiniLM (outside the GIL) embeds the clusters' names while this thread fills every node's other
        # fields and the model-less nodes' vectors (71k micro-patterns at 100k ads); same calls, same order
        with ThreadPoolExecutor(1, thread_name_prefix="node-vectors") as pool:
            embedding = pool.submit(node_vectors)
            micro_row = {k: i for i, k in enumerate(sorted(modelless))}
            centroids = mean_text_units(M[sorted(modelless)], c.text) if modelless else None
            for k, nid in enumerate(ids):
                node = tree.nodes[nid]
                node.keywords = [[t, s] for t, s in keywords[nid]]
                node.tags = evidence[nid].tags
                node.representatives = [int(a) for a in c.ad_ids[rep_rows[nid]]]
                node.rep_strategy = self.rep_strategy
                node.rep_trace = traces.get(nid, [])
                node.size = int(len(rows[nid]))
                if k in modelless:   # one pass for all of them: label_vec is the text centroid, no fidelity
                    node.fidelity = float("nan")
                    node.text_centroid = node.label_vec = centroids[micro_row[k]]
            label_vecs, desc_vecs = embedding.result()
        for k in encoded:
            node = tree.nodes[ids[k]]
            tv = c.text[rows[ids[k]]]
            tv = tv[np.linalg.norm(tv, axis=1) > 0]
            mean_vec = tv.mean(axis=0) if len(tv) else np.zeros(c.text.shape[1], np.float32)
            node.fidelity = round(float(desc_vecs[at[k]] @ mean_vec), 4) if len(tv) else float("nan")
            node.text_centroid = _unit(mean_vec)
            node.label_vec = _unit(label_vecs[at[k]])
        self.progress("labels", len(ids), len(ids))

    # -- keywords: c-TF-IDF among siblings (the classes a reader compares) -------------------------
    def _keywords(self, tree, ids, pos, term_counts, vocab, keep=None, k=N_KEYWORDS):
        keywords = {ROOT_ID: top_terms(c_tf_idf(term_counts[pos[ROOT_ID]])[0], vocab, k, keep)}
        idf = {ROOT_ID: c_tf_idf(term_counts[pos[ROOT_ID]])[1]}
        rank = term_rank(vocab)
        for nid in ids:
            kids = [k.id for k in tree.children(nid)]
            if not kids:
                continue
            classes = term_counts[[pos[k] for k in kids]]
            rest = term_counts[pos[nid]] - sparse.csr_matrix(classes.sum(axis=0))
            rest.eliminate_zeros()
            if rest.nnz:  # the parent's direct members are a class of their own
                classes = sparse.vstack([classes, rest]).tocsr()
            scores, group_idf = c_tf_idf(classes)
            for kid, top in zip(kids, top_terms_rows(scores[:len(kids)], vocab, rank, k, keep)):
                keywords[kid] = top
                idf[kid] = group_idf
        return keywords, idf

    # -- what the ads say, for names: c-TF-IDF of their own words, and how many ads say each -------
    def _name_terms(self, tree, ids, pos, M, sizes) -> dict[str, list]:
        said, said_vocab = doc_term_matrix(self._said_texts)
        if said.shape[1] == 0:
            return {}
        keep = np.array([self._nameable(str(t)) for t in said_vocab], dtype=bool)
        counts = (M @ said).tocsr()
        present = said.copy()
        present.data[:] = 1.0
        ads_saying = (M @ present).tocsr()
        terms, _ = self._keywords(tree, ids, pos, counts, said_vocab, keep, k=3 * N_KEYWORDS)
        col = {str(t): j for j, t in enumerate(said_vocab)}
        # every (node, term) cell in one gather: one scipy __getitem__ per cell was 570k calls at 40k ads
        cells = [(pos[nid], col[t]) for nid, top in terms.items() for t, _ in top]
        said_by = iter(np.asarray(ads_saying[[i for i, _ in cells], [j for _, j in cells]]).ravel().tolist() if cells else [])
        size_of = sizes.tolist()   # Python numbers read once: the same floats and ints as float()/int() per cell
        out = {}
        for nid, top in terms.items():
            n_ads = max(size_of[pos[nid]], 1)
            out[nid] = [(t, s, round(next(said_by) / n_ads, 4)) for t, s in top]
        return out

    def _nameable(self, term: str) -> bool:
        """Real words, none of them a function word, and saying something once split ("clickhere")."""
        lex = self.lexicon
        words = term.split()
        if len(set(words)) < len(words) or set(words) & FORM_WORDS:
            return False   # "interested interested"; "offer text" (the look is the name's form part)
        return (lex.is_real(term) and not any(lex.function_word(w) for w in words)
                and is_content(" ".join(p for w in words for p in lex.pieces(w))))

    def _concepts(self, M, sizes) -> list[list[tuple[str, float]]]:
        """Per node: confident, common visual concepts and the share of its ads showing them."""
        names: dict[str, int] = {}
        rows, cols = [], []
        for r, labels in enumerate(self.corpus.frame["labels"]):
            for label, p in labels or []:
                concept = _concept_word(str(label)) if float(p) >= CONCEPT_MIN_P else None
                if concept:
                    rows.append(r)
                    cols.append(names.setdefault(concept, len(names)))
        if not names:
            return [[] for _ in range(M.shape[0])]
        A = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(self.corpus.n, len(names)))
        A.data = np.minimum(A.data, 1.0)
        share = (M @ A).toarray() / np.maximum(sizes, 1)[:, None]
        vocab = np.array(list(names), dtype=object)
        out = []
        for row in share:
            order = np.lexsort((vocab.astype(str), -row))
            out.append([(str(vocab[j]), round(float(row[j]), 4)) for j in order[:5] if row[j] > 0])
        return out

    def _layout_rest(self, tree, ids, pos, facet_counts, sizes) -> list[list[tuple[str, float]]]:
        """Per node: the layout shares of the rest of its parent (parent's counts less its own), in
        facet order, the positive ones only; all nodes in one pass (a loop per node was ~4 s at 100k)."""
        layout = self._cols("layout")
        names = [str(self.facets.names[j]) for j in layout]
        parent = np.array([pos[tree.nodes[n].parent_id] if tree.nodes[n].parent_id is not None else k
                           for k, n in enumerate(ids)], dtype=np.int64)
        counts = facet_counts[:, layout]
        rest = counts[parent] - counts
        share = rest / np.maximum(sizes[parent] - sizes, 1)[:, None]
        rows, cols = np.nonzero(rest > 0)
        out: list[list[tuple[str, float]]] = [[] for _ in ids]
        for r, j, v in zip(rows.tolist(), cols.tolist(), share[rows, cols].tolist()):
            out[r].append((names[j], round(v, 4)))
        return out

    def _cols(self, kind: str) -> np.ndarray:
        """Facet columns of one kind, looked up once per build (6 lookups a node were 9 % of labelling at 100k)."""
        cols = self._kind_cols.get(kind)
        if cols is None:
            cols = self._kind_cols[kind] = self.facets.of_kind(kind)
        return cols

    def _evidence(self, node_id, level, size, keywords, tags, facet_row, video_count) -> NodeEvidence:
        """One node's evidence from its facet counts (the convergent sampler's subsets; `run` reads
        all nodes' in one pass with the same rules)."""
        s = {kind: shares_rows(facet_row[None, self._cols(kind)], [size], self.facets.names[self._cols(kind)], limit)[0]
             for kind, limit in SHARE_LIMITS}
        return NodeEvidence(node_id, level, size, keywords=list(keywords), tags=tags, layout=s["layout"],
                            colours=s["colour"], objects=s["object"], formats=s["format"],
                            placements=s["placement"], ctas=s["cta"], video_share=video_count / max(size, 1))

    def _enriched(self, tree, ids, pos, counts, sizes, tested) -> dict[str, list]:
        """Facets each node has more often than the rest of its parent, siblings tested together."""
        out = {}
        names, kinds = self.facets.names[tested], self.facets.kinds[tested]
        for pid in ids:
            kids = [pos[k.id] for k in tree.children(pid)]
            if kids:
                p = pos[pid]
                for i, tags in zip(kids, enriched_rows(counts[kids], sizes[kids], counts[p], int(sizes[p]), names, kinds)):
                    out[ids[i]] = tags
        return out

    # -- names: top-down, siblings together, so no two siblings share one; families and
    # sub-clusters are also unique across the tree (micro-patterns only among siblings) --------
    def _name(self, tree: ClusterTree, evidence: dict[str, NodeEvidence], fixed: dict[str, str]) -> None:
        root = tree.nodes[ROOT_ID]
        root.description = self.labeller.label(evidence[ROOT_ID]).description
        root.label = root.label or "All ads"
        clusters_taken = {name.lower() for nid, name in fixed.items() if nid in tree.nodes and tree.nodes[nid].level < 3}
        rule = type(self.labeller) is RuleLabeller
        queue = [ROOT_ID]
        while queue:
            pid = queue.pop(0)
            kids = sorted(tree.children(pid), key=lambda n: (-n.size, n.id))
            taken = {tree.nodes[pid].label.lower()} if pid != ROOT_ID else set()
            taken |= {fixed[k.id].lower() for k in kids if k.id in fixed}
            if any(k.level < 3 for k in kids):
                taken |= clusters_taken
            for kid in kids:
                ev = evidence[kid.id]
                ev.parent_label = tree.nodes[pid].label if pid != ROOT_ID else None
                # the rule labeller reads the live set through a view (no copy per node: quadratic in
                # siblings); any other labeller gets its own sorted tuple, as it may keep the evidence
                ev.avoid_names = TakenNames(taken) if rule else tuple(sorted(taken))
                lab = self.labeller.label(ev)
                kid.label = fixed[kid.id] if kid.id in fixed else unique_name(lab.name, ev, taken)
                kid.description = lab.description
                taken.add(kid.label.lower())
                if kid.level < 3:
                    clusters_taken.add(kid.label.lower())
            queue.extend(sorted((k.id for k in kids)))

    # -- representatives ------------------------------------------------------------------------------
    def _representatives(self, tree, ids, rows, evidence, idf):
        X, c = self.features, self.corpus
        out, traces = {}, {}
        if self.rep_strategy == "convergent":
            def describe(nid: str, sample: np.ndarray) -> str:
                return self.labeller.label(self._subset_evidence(evidence[nid], sample, idf[nid])).description

            # a micro-pattern is one creative and its variants: reading more of them changes nothing,
            # so its representatives are the naive ones and only clusters run the sampling rounds
            naive_levels = _modelless_levels(tree, ids) | {3}
            clusters = {n: rows[n] for n in ids if tree.nodes[n].level not in naive_levels}
            result = reps.convergent(clusters, c.text, describe, self.encode, seed=self.seed)
            for nid, (r, trace) in result.items():
                out[nid], traces[nid] = r, trace
            for nid in ids:
                if nid not in out:   # one member: itself (most micro-patterns of a big library)
                    out[nid] = rows[nid] if len(rows[nid]) == 1 else rows[nid][reps.naive(X[rows[nid]])]
            return out, traces
        pick = reps.naive if self.rep_strategy == "naive" else reps.weighted
        for nid in ids:
            r = rows[nid]
            out[nid] = r[pick(X[r], rng=reps.node_rng(self.seed, nid))]
        return out, traces

    def _subset_evidence(self, ev: NodeEvidence, sample: np.ndarray, idf: np.ndarray) -> NodeEvidence:
        """The node's evidence as read from some of its members only (for the convergent sampler)."""
        tf = np.asarray(self.docs[sample].sum(axis=0)).ravel() * idf
        said = np.flatnonzero(tf > 0)   # by score, ties by term: the positive head of that order over all terms
        top = said[np.lexsort((self._vocab_rank[said], -tf[said]))[:N_KEYWORDS]]
        keywords = [(str(self.vocab[j]), float(tf[j])) for j in top]
        facet_row = np.asarray(self.facets.matrix[sample].sum(axis=0)).ravel()
        scale = ev.size / max(len(sample), 1)   # shares from the sample, counts as for the node
        video = float(self._is_video[sample].sum()) * scale
        return self._evidence(ev.node_id, ev.level, ev.size, keywords, ev.tags, facet_row * scale, video)


def _modelless_levels(tree: ClusterTree, ids: list[str]) -> set[int]:
    """Levels whose nodes get no MiniLM vector of their own: micro-patterns past MICRO_ENCODE_MAX,
    and sub-clusters too once families and sub-clusters together pass CLUSTER_ENCODE_MAX."""
    levels = [tree.nodes[n].level for n in ids]
    out = set()
    if levels.count(3) > MICRO_ENCODE_MAX:
        out.add(3)
    if levels.count(1) + levels.count(2) > CLUSTER_ENCODE_MAX:
        out.add(2)
    return out


def _concept_word(label: str) -> str | None:
    """An ImageNet class as a strategist would say it ("Egyptian cat" → "cat"), or None when it is rare
    or a class the model gives to graphics."""
    label = label.strip().lower()
    if label in GRAPHIC_CLASSES:
        return None
    head = label.split()[-1]
    if " " in label and zipf(head, "en") >= 4.5:
        return head
    import wordfreq

    return label if wordfreq.zipf_frequency(label, "en") >= CONCEPT_MIN_ZIPF else None


def _is_mixed(node, ev: NodeEvidence) -> bool:
    """A family or sub-cluster is a catch-all when the hierarchy says so (`node.mixed`) or when no tag,
    word or visual concept is shared by STRONG_COVER of its ads: then no name could be one idea."""
    if node.level not in (1, 2):
        return False
    if getattr(node, "mixed", None):   # the hierarchy's pool of leftovers
        return True
    if any(t["kind"] == "tag" and t["share_in"] >= 0.5 for t in ev.tags):
        return False
    if any(share >= STRONG_COVER for _, share in ev.concepts):
        return False
    return not any(cover >= STRONG_COVER for _, _, cover in (ev.name_terms or []))


def label_text(name: str, description: str, keywords) -> str:
    """What label_vec embeds: "name. description. keywords" (keywords the description lacks)."""
    extra = [str(t) for t, *_ in keywords[:6] if str(t) not in description]
    return " ".join(p for p in (f"{name}.", description, ", ".join(extra)) if p)


def _membership(ids: list[str], rows: dict[str, np.ndarray], n: int) -> sparse.csr_matrix:
    r = np.concatenate([np.full(len(rows[nid]), i) for i, nid in enumerate(ids)]) if ids else np.zeros(0)
    col = np.concatenate([rows[nid] for nid in ids]) if ids else np.zeros(0)
    return sparse.csr_matrix((np.ones(len(col), dtype=np.float32), (r, col)), shape=(len(ids), n))


def membership(tree: ClusterTree, corpus: AdCorpus) -> tuple[list[str], sparse.csr_matrix]:
    ids = [ROOT_ID] + [n.id for n in tree.descendants(ROOT_ID)]
    return ids, _membership(ids, {nid: np.searchsorted(corpus.ad_ids, tree.members(nid)) for nid in ids}, corpus.n)
