"""Representative ads of a node, by a named strategy.

- naive: the members nearest the node's centroid.
- weighted: a seeded sample, each member drawn with probability rising with its closeness.
- convergent: keep drawing members and re-describing the node from the sample until the mean
  similarity between the description's embedding and fresh random members stops changing;
  the trace of every round is kept. This is what a model labeller that can only read a few
  members needs; the representatives are the sampled members closest to the final description.

Nodes advance round by round together so that each round is one batched text-encoder call.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

N_REPRESENTATIVES = 6
BATCH = 8              # members added per round
TOLERANCE = 0.01       # change of mean similarity under which the description has converged
MAX_ROUNDS = 6


def node_rng(seed: int, node_id: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(node_id.encode())])


def _cosines(X: np.ndarray, centre: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1) * max(np.linalg.norm(centre), 1e-12)
    return (X @ centre) / np.where(norms > 0, norms, 1)


def naive(X: np.ndarray, k: int = N_REPRESENTATIVES, rng=None) -> np.ndarray:
    """Positions (into X's rows) of the k members nearest the centroid."""
    sims = _cosines(X, X.mean(axis=0))
    return np.lexsort((np.arange(len(X)), -sims))[:k]


def weighted(X: np.ndarray, k: int = N_REPRESENTATIVES, rng: np.random.Generator | None = None) -> np.ndarray:
    """A distance-weighted sample without replacement: p ∝ (1 + cos)² to the centroid."""
    rng = rng or np.random.default_rng(0)
    k = min(k, len(X))
    p = (1.0 + _cosines(X, X.mean(axis=0))) ** 2 + 1e-9
    pick = rng.choice(len(X), size=k, replace=False, p=p / p.sum())
    sims = _cosines(X[pick], X.mean(axis=0))
    return pick[np.lexsort((pick, -sims))]


STRATEGIES = ("naive", "weighted", "convergent")


def check_strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise ValueError(f"unknown representative strategy {name!r}; valid strategies: {', '.join(STRATEGIES)}")
    return name


@dataclass
class _Run:
    node_id: str
    rows: np.ndarray
    order: np.ndarray
    rng: np.random.Generator
    taken: int = 0
    trace: list = field(default_factory=list)
    done: bool = False
    last_vec: np.ndarray | None = None


def convergent(nodes: dict[str, np.ndarray], text: np.ndarray, describe: Callable[[str, np.ndarray], str],
               encode: Callable[[list[str]], np.ndarray], seed: int = 0, k: int = N_REPRESENTATIVES,
               batch: int = BATCH, tol: float = TOLERANCE, max_rounds: int = MAX_ROUNDS) -> dict[str, tuple[np.ndarray, list]]:
    """node id → (representative rows, trace) for nodes given as arrays of corpus rows."""
    runs = []
    for nid, rows in nodes.items():
        rng = node_rng(seed, nid)
        runs.append(_Run(nid, rows, rng.permutation(rows), rng))
    for r in range(max_rounds):
        active = [run for run in runs if not run.done]
        if not active:
            break
        for run in active:
            run.taken = min(len(run.rows), run.taken + batch)
        descriptions = [describe(run.node_id, run.order[:run.taken]) for run in active]
        vecs = encode(descriptions)
        for run, desc, vec in zip(active, descriptions, vecs):
            fresh = run.order[run.taken:run.taken + batch]
            if len(fresh) == 0:  # every member already read: judge against a fresh random draw
                fresh = run.rng.choice(run.rows, size=min(batch, len(run.rows)), replace=False)
            sim = float(np.mean(text[fresh] @ vec))
            run.trace.append({"round": r, "sample": int(run.taken), "fresh": int(len(fresh)),
                              "similarity": round(sim, 4), "description": desc})
            run.last_vec = vec
            converged = len(run.trace) > 1 and abs(sim - run.trace[-2]["similarity"]) < tol
            run.done = converged or run.taken >= len(run.rows)
    out = {}
    for run in runs:
        sample = run.order[:run.taken]
        sims = text[sample] @ run.last_vec if run.last_vec is not None else np.zeros(len(sample))
        out[run.node_id] = (sample[np.lexsort((sample, -sims))][:k], run.trace)
    return out
