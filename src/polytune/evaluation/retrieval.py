"""Bitext retrieval without torch: pair records across languages by id, rank candidates by cosine similarity,
and turn ranks into accuracy@k (as XTREME's Tatoeba and BUCC, and Glot500's SR-B on Bible verses).

The embeddings come from `evaluation/predict/probes.py`; everything here works on numpy arrays, so it is tested
with hand-made vectors. Query i's translation is candidate i; a candidate whose text equals the translation's text
counts as the translation too (the Bible repeats verses word for word, and retrieving either copy is right).

Example: query_ranks(np.eye(3), ["a", "b", "c"]) -> array([1, 1, 1])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from polytune.errors import ConfigError

KS = (1, 10)
DIRECTIONS = ("t2s", "s2t")  # target queries against source candidates, and the reverse


def resolve_layer(layer: int | float, n_layers: int) -> int:
    """The hidden-states index a `retrieval_layer` setting names in a model of `n_layers` layers.

    An int is an index into the hidden states (0: the embedding output, n_layers: the last layer); a float in [0, 1]
    is a share of the depth, rounded (2/3 gives 8 of 12, XTREME's and Glot500's layer, and 4 of 6).

    Example: resolve_layer(0.6667, 6) -> 4; resolve_layer(8, 12) -> 8

    Raises:
        ConfigError: an index outside 0..n_layers, a share outside [0, 1], or not a number.
    """
    if isinstance(layer, bool) or not isinstance(layer, int | float):
        raise ConfigError(f"retrieval_layer must be a layer index or a share of the depth in [0, 1], got {layer!r}")
    if isinstance(layer, float):
        if not 0.0 <= layer <= 1.0:
            raise ConfigError(f"retrieval_layer {layer} is a share of the depth: give one in [0, 1] or a whole index")
        return int(round(layer * n_layers))
    if not 0 <= layer <= n_layers:
        raise ConfigError(
            f"retrieval_layer {layer} is out of range: the model has {n_layers} layers (give 0..{n_layers} or a share)"
        )
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


def query_ranks(sim: np.ndarray, groups: Sequence[Any]) -> np.ndarray:
    """The rank (1 = retrieved first) of each query's translation, candidate i for query i.

    A candidate ranks above the translation only if it is strictly more similar and is not in the translation's
    group (`groups[c]`: the candidate's text), so exact ties and duplicate verses never cost a query.

    Example: query_ranks(np.array([[0.2, 0.9], [0.1, 0.5]]), ["x", "y"]) -> array([2, 1])
    """
    sim = np.asarray(sim, dtype=np.float64)
    codes = np.unique(np.asarray([str(g) for g in groups]), return_inverse=True)[1]
    gold = np.diag(sim)[:, None]
    other = codes[None, :] != codes[:, None]
    return 1 + ((sim > gold) & other).sum(axis=1)


def retrieval_ranks(target: np.ndarray, source: np.ndarray, target_texts: Sequence[str],
                    source_texts: Sequence[str]) -> dict[str, np.ndarray]:  # fmt: skip
    """Ranks in both directions for aligned embeddings (row i of `target` translates row i of `source`).

    Returns:
        {"t2s": ranks of each target query among the source rows, "s2t": the reverse}.
    """
    sim = cosine_matrix(target, source)
    return {"t2s": query_ranks(sim, source_texts), "s2t": query_ranks(sim.T, target_texts)}


def hits_at(ranks: np.ndarray, k: int) -> np.ndarray:
    """1.0 where the translation is among the first k, else 0.0. Example: hits_at(np.array([1, 3]), 2) -> [1., 0.]"""
    return (np.asarray(ranks) <= k).astype(np.float64)


def accuracy_at(ranks: Sequence[int], k: int) -> float:
    """Share of queries (in %) whose translation is among the first k. Example: accuracy_at([1, 2, 11], 10) -> 66.7"""
    return 100.0 * float(hits_at(np.asarray(ranks), k).mean()) if len(ranks) else 0.0
