"""Stage two of the filter as sharded datatrove steps: LID threshold, exact dedup and MinHash near-dedup, with memory
per task bounded by the chunk size (`chunks.CHUNK_RECORDS`), not by the size of a language.

Stage one writes each language in chunks with their META and MinHash arrays (`polytune.corpus.chunks`); a
language's records, in chunk order, are the order "first one is kept" refers to. Four pipelines follow, each run
by the same datatrove executor as stage one (local processes, Ray, Slurm), each resumable from its completions:

1. `SignatureStep`, one task per chunk: applies the threshold (from the merged score histograms in `plan.json`) to
   the chunk's scores and writes the exact keys and MinHash band signatures of the records above it as sorted
   datatrove `.minhash.sig` files (arrays only: no record is read).
2. `BucketStep`, one task per (language, bucket): merges the sorted files of one bucket and writes the pairs that
   share it as datatrove's `MinhashDedupBuckets` does, with numpy in bounded slabs (`polytune.corpus.buckets`);
   exact keys are hash-sharded over `EXACT_BUCKETS` buckets the same way.
3. `ClusterStep`, one task per language: connected components of those pairs (only duplicates are held); the first
   record of a cluster is kept and counts the cluster's size, an exact copy names its first copy, every other member
   names the record kept.
4. `LanguageStep`, one task per chunk: writes the chunk's kept records and its rejects with their reasons, as stage
   one's lines with the added fields inserted.

"One task per" is per unit of work: small units are packed into one task (`_packed`: chunks up to CHUNK_RECORDS
records, buckets and languages up to TASK_RECORDS), since a corpus of many small languages would otherwise spend
most of stage two setting up hundreds of datatrove tasks. Each unit writes the same files either way.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from datatrove.pipeline.base import PipelineStep

from polytune.config import FilterConfig
from polytune.corpus.buckets import merge_bucket, sig_dtype
from polytune.corpus.chunks import CHUNK_RECORDS, META, read_meta, read_minhash, record_at, with_fields
from polytune.corpus.dedup import lsh_bands, merge_histograms, score_summary, threshold_for
from polytune.corpus.shards import JsonlShards, line_bytes
from polytune.io import write_json

EXACT_BUCKETS = 4  # hash shards of the exact keys
# A bucket or cluster task takes on the units of small languages up to this many records, and a signature or filter
# task small chunks up to CHUNK_RECORDS: each datatrove task costs ~20-40 ms to set up (loggers, stats, markers),
# which a corpus of many small languages would otherwise pay hundreds of times. Big units stay one task each.
TASK_RECORDS = 1 << 20
CLUSTER = np.dtype([("doc", "<u4"), ("kind", "u1"), ("ref", "<u8"), ("size", "<u4")])
ROOT, EXACT, NEAR = 0, 1, 2


def write_plan(cfg: FilterConfig, work: Path, langs: list[str], s1_stats: dict[Any, dict]) -> dict[str, Any]:
    """Chunks, thresholds and score summaries of every language, from stage one's shards and stats."""
    tasks = list(s1_stats.values())
    hists = {lang: merge_histograms(t.get("score_bins", {}).get(lang, {}) for t in tasks) for lang in langs}
    bands, rows = lsh_bands(cfg.near_threshold, cfg.num_perm)
    chunks = [[lang, index, str(path.relative_to(work))] for lang in langs
              for index, path in enumerate(sorted((work / "s1" / lang).glob("*.jsonl")))]  # fmt: skip
    sizes = [(work / path).with_suffix(".meta").stat().st_size // META.itemsize for _, _, path in chunks]
    records = Counter()
    for (lang, _, _), size in zip(chunks, sizes, strict=True):
        records[lang] += size
    plan = {
        "chunks": chunks, "chunk_records": sizes, "records": {lang: records[lang] for lang in langs},
        "bands": bands, "rows": rows, "langs": langs,
        "thresholds": {lang: threshold_for(lang, cfg, hists[lang]) for lang in langs},
        "scores": {lang: score_summary(hists[lang]) for lang in langs},
    }  # fmt: skip
    write_json(work / "s2" / "plan.json", plan)
    return plan


def read_plan(work: Path) -> dict[str, Any]:
    """The plan `write_plan` wrote."""
    return json.loads((work / "s2" / "plan.json").read_text(encoding="utf-8"))


def _packed(units: list[tuple[Any, int]], limit: int) -> list[list[Any]]:
    """(unit, records) in order, packed into tasks of at most `limit` records; a bigger unit is a task of its own.

    Example: _packed([("a", 3), ("b", 3), ("c", 9), ("d", 1)], 6) -> [["a", "b"], ["c"], ["d"]].
    """
    tasks: list[list[Any]] = []
    total = 0
    for unit, records in units:
        if not tasks or total + records > limit:
            tasks.append([])
            total = 0
        tasks[-1].append(unit)
        total += records
    return tasks


def chunk_tasks(plan: dict[str, Any]) -> list[list[int]]:
    """The chunks (indexes into plan["chunks"]) of each signature and filter task, in rank order."""
    return _packed(list(enumerate(plan["chunk_records"])), CHUNK_RECORDS)


def bucket_tasks(cfg: FilterConfig, plan: dict[str, Any]) -> list[list[tuple[str, str, int]]]:
    """The (language, kind, bucket) units of each bucket task, in rank order."""
    kinds = [("exact", EXACT_BUCKETS)] * cfg.dedup + [("near", plan["bands"])] * cfg.near_dedup
    units = [((lang, kind, bucket), plan["records"][lang]) for lang in plan["langs"] for kind, n in kinds
             for bucket in range(n)]  # fmt: skip
    return _packed(units, TASK_RECORDS)


def cluster_tasks(plan: dict[str, Any]) -> list[list[str]]:
    """The languages of each cluster task, in rank order."""
    return _packed([(lang, plan["records"][lang]) for lang in plan["langs"]], TASK_RECORDS)


def _write_sigs(folder: Path, chunk: int, docs: np.ndarray, hashes: np.ndarray, buckets: np.ndarray | None) -> None:
    """One sorted `.minhash.sig` file per bucket (empty ones too, so every bucket folder lists every chunk).

    Args:
        folder: where the `bucket_XXX/` folders go.
        chunk: the chunk index (the file stem datatrove reads back).
        docs: (n,) positions of the records in the chunk.
        hashes: (n, bands, rows) uint64: band b of each record goes to bucket b (MinHash), or
            (n, 1, rows) with `buckets` (n,) naming each record's one bucket (exact keys, hash-sharded).
        buckets: see `hashes`; None for MinHash.
    """
    count, rows = (hashes.shape[1] if buckets is None else EXACT_BUCKETS), hashes.shape[2]
    for bucket in range(count):
        if buckets is None:
            band, where = hashes[:, bucket, :], docs
        else:
            band, where = hashes[buckets == bucket, 0, :], docs[buckets == bucket]
        order = np.lexsort([where, *(band[:, row] for row in reversed(range(rows)))])  # by h0, h1, ..., doc
        array = np.zeros(len(where), dtype=sig_dtype(rows))
        for row in range(rows):
            array[f"h{row}"] = band[order, row]
        array["doc"] = where[order]
        path = folder / f"bucket_{bucket:03d}" / f"{chunk:05d}.minhash.sig"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(array.tobytes())


class SignatureStep(PipelineStep):
    """Task `rank` = the chunks of `chunk_tasks(plan)[rank]`: the threshold applied to each one's scores, then its
    exact keys and MinHash bands."""

    name, type = "polytune signatures", "🫂 - DEDUP"

    def __init__(self, cfg: FilterConfig, work: str) -> None:
        super().__init__()
        self.cfg, self.work = cfg, Path(work)

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1):
        plan = read_plan(self.work)
        for index in chunk_tasks(plan)[rank]:
            self._signatures(plan, *plan["chunks"][index])
        yield from ()

    def _signatures(self, plan: dict[str, Any], lang: str, chunk: int, path: str) -> None:
        bands, rows, s2 = plan["bands"], plan["rows"], self.work / "s2"
        meta = read_meta(self.work / path)
        above = np.flatnonzero(meta["score"] >= plan["thresholds"][lang])
        positions, keys = above.astype(np.uint32), meta["key"][above]
        if self.cfg.dedup:
            shards = keys[:, 1] % np.uint64(EXACT_BUCKETS)
            _write_sigs(s2 / "exact" / lang, chunk, positions, keys.reshape(-1, 1, 2), shards)
        if self.cfg.near_dedup:
            near = read_minhash(self.work / path, bands * rows)[above]
            if self.cfg.dedup:
                positions, near = _without_exact_copies(positions, keys, near)
            _write_sigs(s2 / "near" / lang, chunk, positions, near.reshape(-1, bands, rows), None)


def _without_exact_copies(positions: np.ndarray, keys: np.ndarray, near: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The records of a chunk minus those with the exact key and the MinHash values of an earlier one.

    Such a copy shares every band with its first copy, so any record it would pair with pairs with the first copy,
    and the exact pairs join the two: the clusters, and so every decision, are the same without its bands.
    """
    if not len(positions):
        return positions, near
    order = np.lexsort((keys[:, 1], keys[:, 0]))  # stable: copies follow their first copy
    ranked = keys[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)
    first = order[np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))]  # each one's first copy
    copy = np.zeros(len(positions), dtype=bool)
    copy[order] = ~starts & (near[order] == near[first]).all(axis=1)
    return positions[~copy], near[~copy]


class BucketStep(PipelineStep):
    """Task `rank` = the (language, kind, bucket) units of `bucket_tasks(cfg, plan)[rank]`: the pairs of records
    sharing each bucket (`polytune.corpus.buckets`)."""

    name, type = "polytune buckets", "🫂 - DEDUP"

    def __init__(self, cfg: FilterConfig, work: str) -> None:
        super().__init__()
        self.cfg, self.work = cfg, Path(work)

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1):
        plan, s2 = read_plan(self.work), self.work / "s2"
        for lang, kind, bucket in bucket_tasks(self.cfg, plan)[rank]:
            out = s2 / f"{kind}-pairs" / lang / f"{bucket:05d}_00.dups"
            pairs = merge_bucket(s2 / kind / lang / f"bucket_{bucket:03d}", out, plan["rows"] if kind == "near" else 2)
            self.stat_update("total_matches", value=pairs)
        yield from ()


def _pairs(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) record pairs of a language's `.dups` files; a record is chunk << 32 | position."""
    parts = [np.fromfile(p, dtype="<u4").reshape(-1, 4) for p in sorted(folder.glob("*.dups"))]
    pairs = np.concatenate(parts) if parts else np.zeros((0, 4), dtype="<u4")
    pairs = pairs.astype(np.uint64)
    return pairs[:, 0] << np.uint64(32) | pairs[:, 1], pairs[:, 2] << np.uint64(32) | pairs[:, 3]


def _components(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, first): the sorted records of the pairs and, for each, the first record of its connected component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    n = len(nodes)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (inverse[: len(a)], inverse[len(a) :])), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    first = np.full(count, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n))  # nodes are sorted, so the smallest index is the first record
    return nodes, nodes[first[labels]]


class ClusterStep(PipelineStep):
    """Task `rank` = the languages of `cluster_tasks(plan)[rank]`: clusters of each one's duplicate pairs, one `.npy`
    of (doc, kind, ref, size) a chunk."""

    name, type = "polytune clusters", "🫂 - DEDUP"

    def __init__(self, cfg: FilterConfig, work: str) -> None:
        super().__init__()
        self.cfg, self.work = cfg, Path(work)

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1):
        for lang in cluster_tasks(read_plan(self.work))[rank]:
            self._clusters(lang)
        yield from ()

    def _clusters(self, lang: str) -> None:
        s2 = self.work / "s2"
        ea, eb = _pairs(s2 / "exact-pairs" / lang)
        na, nb = _pairs(s2 / "near-pairs" / lang)
        nodes, root = _components(np.concatenate([ea, na]), np.concatenate([eb, nb]))
        exact_nodes, exact_root = _components(ea, eb)
        size = np.bincount(np.searchsorted(nodes, root), minlength=len(nodes)).astype(np.uint32)
        out = np.zeros(len(nodes), dtype=CLUSTER)
        out["doc"], out["ref"], out["kind"] = nodes & np.uint64(0xFFFFFFFF), root, NEAR
        out["size"] = size
        at = np.searchsorted(exact_nodes, nodes).clip(max=max(len(exact_nodes) - 1, 0))
        if len(exact_nodes):
            copy = (exact_nodes[at] == nodes) & (exact_root[at] != nodes)
            out["kind"][copy], out["ref"][copy] = EXACT, exact_root[at][copy]
        out["kind"][root == nodes] = ROOT
        folder = s2 / "clusters" / lang
        folder.mkdir(parents=True, exist_ok=True)
        chunks, starts = np.unique(nodes >> np.uint64(32), return_index=True)
        for chunk, part in zip(chunks.tolist(), np.split(out, starts[1:]) if len(out) else [], strict=True):
            np.save(folder / f"{chunk:05d}.npy", part)


def _names(work: Path, chunks: dict[int, str], refs: np.ndarray) -> dict[int, str]:
    """The ids of records given as chunk << 32 | position, each read from its one line (no chunk is loaded)."""
    names: dict[int, str] = {}
    for chunk in np.unique(refs >> np.uint64(32)).tolist():
        offsets = read_meta(work / chunks[chunk])["offset"]
        with open(work / chunks[chunk], "rb") as handle:
            for ref in refs[(refs >> np.uint64(32)) == chunk].tolist():
                names[ref] = str(record_at(handle, int(offsets[ref & 0xFFFFFFFF])).get("id"))
    return names


def chunk_clusters(work: Path, plan: dict[str, Any], lang: str, chunk: int) -> dict[int, tuple[int, str, int]]:
    """{position: (ROOT | EXACT | NEAR, id of the record it duplicates, cluster size)} of a chunk's clusters."""
    path = work / "s2" / "clusters" / lang / f"{chunk:05d}.npy"
    if not path.is_file():
        return {}
    clusters = np.load(path)
    chunks = {index: chunk_path for chunk_lang, index, chunk_path in plan["chunks"] if chunk_lang == lang}
    names = _names(work, chunks, np.unique(clusters["ref"][clusters["kind"] != ROOT]))
    return {doc: (kind, names.get(ref, ""), size) for doc, kind, ref, size in clusters.tolist()}


def chunk_stats(work: Path, lang: str) -> dict[str, Any]:
    """One language's stage-two counts, added over its chunks' stats files."""
    total: dict[str, Any] = {"input": 0, "kept": 0, "rejected": Counter(), "mixed_kept": 0}
    for path in sorted((work / "s2" / "stats" / lang).glob("*.json")):
        part = json.loads(path.read_text(encoding="utf-8"))
        for key in ("input", "kept", "mixed_kept"):
            total[key] += part[key]
        total["rejected"].update(part["rejected"])
    total["rejected"] = dict(sorted(total["rejected"].items()))
    return total


class LanguageStep(PipelineStep):
    """Stage two's last step, task `rank` = the chunks of `chunk_tasks(plan)[rank]`: each record kept (with
    `dup_cluster_size`) or rejected."""

    name, type = "polytune threshold + dedup", "🫂 - DEDUP"

    def __init__(self, cfg: FilterConfig, work: str) -> None:
        super().__init__()
        self.cfg, self.work = cfg, Path(work)

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> Iterator[dict[str, Any]]:
        plan = read_plan(self.work)
        for index in chunk_tasks(plan)[rank]:
            self._decide(plan, *plan["chunks"][index])
        yield from ()

    def _decide(self, plan: dict[str, Any], lang: str, chunk: int, path: str) -> None:
        threshold, clusters = plan["thresholds"][lang], chunk_clusters(self.work, plan, lang, chunk)
        s2, meta, name = self.work / "s2", read_meta(self.work / path), f"{chunk:05d}"
        for stale in [s2 / "kept" / lang / f"{name}.jsonl", *s2.glob(f"rejected/*/{lang}/{name}.jsonl")]:
            stale.unlink(missing_ok=True)  # a failed earlier attempt
        out, rejected, mixed, n = JsonlShards(s2), Counter(), 0, 0
        rows = zip(meta["score"].tolist(), meta["mixed"].tolist(), meta["parse"].tolist(), meta["at"].tolist(),
                   strict=True)  # fmt: skip
        try:
            with open(self.work / path, "rb") as lines:
                for n, (line, (score, is_mixed, parse, at)) in enumerate(zip(lines, rows, strict=True), 1):
                    kind, ref, size = clusters.get(n - 1, (None, "", 1))
                    if score < threshold:
                        reason, detail = "low_lid_score", f"{lang} {score:.3f} < {threshold}"
                    elif kind == EXACT or kind == NEAR:
                        reason = "duplicate" if kind == EXACT else "near_duplicate"
                        detail = f"same text as {ref}" if kind == EXACT else f"near-duplicate of {ref}"
                    else:
                        mixed += is_mixed
                        out.write_line(f"kept/{lang}/{name}.jsonl", _added(line, parse, at, dup_cluster_size=size))
                        continue
                    rejected[reason] += 1
                    added = _added(line, parse, at, reject_reason=reason, detail=detail)
                    out.write_line(f"rejected/{reason}/{lang}/{name}.jsonl", added)
        finally:
            out.close()
        stats = {"input": n, "kept": n - sum(rejected.values()), "rejected": dict(rejected), "mixed_kept": mixed}
        write_json(self.work / "s2" / "stats" / lang / f"{name}.json", stats)


def _added(line: bytes, parse: bool, at: list[int], **fields: Any) -> bytes:
    """Stage one's line with `fields` set; a record that already had one of them is parsed and rewritten."""
    if parse:
        return line_bytes({**json.loads(line), **fields})
    return with_fields(line, at, fields)
