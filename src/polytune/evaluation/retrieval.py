"""Bitext retrieval without torch: pair records across languages by id, rank candidates by cosine similarity,
and turn ranks into accuracy@k (as XTREME's Tatoeba and BUCC, and Glot500's SR-B on Bible verses).

The embeddings come from `evaluation/predict/probes.py`; everything here works on numpy arrays, so it is tested
with hand-made vectors. Query i's translation is candidate i; a candidate whose text equals the translation's text
counts as the translation too (the Bible repeats verses word for word, and retrieving either copy is right). Other
candidates exactly as similar as the translation (a model that maps two verses to one vector) are ties, broken
uniformly at random in expectation: a hit@k is then the probability that the translation lands in the first k.

Example: query_ranks(np.eye(3), ["a", "b", "c"]) -> array([1, 1, 1])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from polytune.errors import ConfigError

KS = (1, 10)
DIRECTIONS = ("t2s", "s2t")  # target queries against source candidates, and the reverse


def resolve_layer(layer: int | None, depth: float, n_layers: int) -> int:
    """The hidden-states index of a model of `n_layers` layers: `layer` itself (0: the embedding output, n_layers:
    the last layer), or without one the share `depth` of the depth, rounded (2/3 gives 8 of 12, XTREME's and
    Glot500's layer, and 4 of 6). Two settings, so that 1 (the first layer) and 1.0 (the last) cannot be confused.

    Example: resolve_layer(None, 0.6667, 6) -> 4; resolve_layer(8, 0.667, 12) -> 8

    Raises:
        ConfigError: an index outside 0..n_layers, a share outside [0, 1], or a value of the wrong kind.
    """
    if layer is None:
        if isinstance(depth, bool) or not isinstance(depth, int | float) or not 0.0 <= depth <= 1.0:
            raise ConfigError(f"retrieval_depth must be a share of the depth in [0, 1], got {depth!r}")
        return int(round(depth * n_layers))
    if isinstance(layer, bool) or not isinstance(layer, int):
        raise ConfigError(f"retrieval_layer must be a layer index (0, 1, ...), got {layer!r}; for a share of the "
                          "depth set retrieval_depth")  # fmt: skip
    if not 0 <= layer <= n_layers:
        raise ConfigError(f"retrieval_layer {layer} is out of range: the model has {n_layers} layers (give "
                          f"0..{n_layers}, or a share of the depth as retrieval_depth)")  # fmt: skip
    return layer


def pair_by_id(targets: Sequence[dict[str, Any]], sources: Iterable[dict[str, Any]]) -> tuple[list, list[str]]:
    """(target record, source record) pairs sharing an id, in target order, and the ids without a counterpart.

    A source id seen twice keeps its first record (a corpus may hold a verse in two shards).

    Example: pair_by_id([{"id": "1"}, {"id": "2"}], [{"id": "1"}]) -> ([({"id": "1"}, {"id": "1"})], ["2"])
    """
    index: dict[str, dict[str, Any]] = {}
    for record in sources:
        index.setdefault(str(record.get("id")), record)
    pairs, missing = [], []
    for record in targets:
        key = str(record.get("id"))
        if key in index:
            pairs.append((record, index[key]))
        else:
            missing.append(key)
    return pairs, missing


def cosine_matrix(queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Cosine similarity of every query row with every candidate row, shape (n_queries, n_candidates)."""
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    c = candidates / np.maximum(np.linalg.norm(candidates, axis=1, keepdims=True), 1e-12)
    return q @ c.T


TIE = 1e-6  # cosines this close are one value: the same verse vector can differ by float noise across batches


def ranks_and_ties(sim: np.ndarray, groups: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(rank, ties) of each query's translation, candidate i for query i: rank 1 + the candidates more similar,
    ties the candidates as similar; candidates in the translation's group (`groups[c]`: its text) never count.

    Example: ranks_and_ties(np.array([[0.5, 0.5], [0.1, 0.9]]), ["x", "y"]) -> (array([1, 1]), array([1, 0]))
    """
    sim = np.asarray(sim, dtype=np.float64)
    codes = np.unique(np.asarray([str(g) for g in groups]), return_inverse=True)[1]
    gold = np.diag(sim)[:, None]
    other = codes[None, :] != codes[:, None]
    return 1 + ((sim > gold + TIE) & other).sum(axis=1), ((np.abs(sim - gold) <= TIE) & other).sum(axis=1)


def query_ranks(sim: np.ndarray, groups: Sequence[Any]) -> np.ndarray:
    """The rank (1 = retrieved first) of each query's translation, ties counted in its favour (see ranks_and_ties).

    Example: query_ranks(np.array([[0.2, 0.9], [0.1, 0.5]]), ["x", "y"]) -> array([2, 1])
    """
    return ranks_and_ties(sim, groups)[0]


def retrieval_ranks(target: np.ndarray, source: np.ndarray, target_texts: Sequence[str],
                    source_texts: Sequence[str]) -> dict[str, np.ndarray]:  # fmt: skip
    """Ranks in both directions for aligned embeddings (row i of `target` translates row i of `source`).

    Returns:
        {"t2s": ranks of each target query among the source rows, "t2s_ties": its ties, "s2t", "s2t_ties": the
        reverse}.
    """
    sim = cosine_matrix(target, source)
    (t2s, t2s_ties), (s2t, s2t_ties) = ranks_and_ties(sim, source_texts), ranks_and_ties(sim.T, target_texts)
    return {"t2s": t2s, "t2s_ties": t2s_ties, "s2t": s2t, "s2t_ties": s2t_ties}


def hits_at(ranks: np.ndarray, k: int, ties: np.ndarray | None = None) -> np.ndarray:
    """The chance that each translation is among the first k, its ties broken at random: 1 or 0 without ties.

    Example: hits_at(np.array([1, 3, 1]), 2, np.array([0, 0, 3])) -> array([1. , 0. , 0.5])
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    ties = np.zeros_like(ranks) if ties is None else np.asarray(ties, dtype=np.float64)
    return np.clip((k - ranks + 1) / (ties + 1), 0.0, 1.0)


def accuracy_at(ranks: Sequence[int], k: int, ties: Sequence[int] | None = None) -> float:
    """Expected share of queries (in %) whose translation is among the first k (see hits_at).

    Example: accuracy_at([1, 2, 11], 10) -> 66.7
    """
    return 100.0 * float(hits_at(np.asarray(ranks), k, ties).mean()) if len(ranks) else 0.0
