"""Filter at scale: the sharded stage two (MinHash band buckets and hash-sharded exact-key buckets, score
histograms) beside the old in-memory stage two (one task per language), in one run. Last line: one JSON object.

    .venv/bin/python benchmarks/filter_scale.py            # stage two on 100k, 500k records, old on 100k; filter 50k
    .venv/bin/python benchmarks/filter_scale.py --quick    # 20k and 100k records, old on both; filter 10k lines
    .venv/bin/python benchmarks/filter_scale.py --sizes 200000,1000000,3000000 --old-max 1000000

1. Memory: one language (eng_Latn) of stage-one records: documents of three KJV verses (distinct texts), plus 3%
   exact copies and 3% near copies (a word appended), scores spread over [0.5, 1) with `--threshold auto`. Each
   size runs in a fresh process with 1 worker, so its tasks run one after another there: its peak RSS (wait4) is
   the largest task's plus the process's own imports (`baseline_rss_mb`, the same process doing no work).
2. Agreement: the near-duplicate decisions of both on the 4-Bible corpus of lid_throughput.py (eng, nya, ara, vie
   verses, each language as its own stage-one shard, threshold 0).
3. Documents: long documents (three verses each, as in 1) through the whole filter with py3langid (2 tasks, 1
   worker) vs a bare py3langid `classify` loop over the same texts, both in this process: the issue's "at least
   half the speed of the bare LID backend" on long documents.
4. Throughput: the whole filter (2 tasks, 1 then 2 workers) on lid_throughput.py's lines, with a fastText model
   trained the same way.

The old stage two is the code of git commit OLD, extracted with `git archive OLD src` and run in its own process
(`polytune.corpus.dedup.finalize_language` through its `LanguageStep`; its whole filter for part 4). It needs
datasketch, which left the lock with it: `pip install --no-deps --target DIR datasketch` and pass `--old-site DIR`,
or run `--old-max 1 --parts memory,documents`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

OLD = "31f393e"  # the last commit with the in-memory stage two
REPO = Path(__file__).resolve().parents[1]
BIBLES = {"eng_Latn": "k", "nya_Latn": "chichewa", "ara_Arab": "y", "vie_Latn": "7"}


def _child(mode: str, work: Path, args: list[str]) -> dict:
    """Run this file as `--child MODE` with the old or new sources first on the path; its JSON plus peak RSS."""
    src = work.parent / "old-src" if mode.endswith("old") else REPO / "src"
    env = {**os.environ, "PYTHONPATH": str(src), "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"}
    out = work.parent / f"{work.name}-{mode}.json"
    proc = subprocess.Popen([sys.executable, __file__, "--child", mode, str(work), str(out), *args], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"child {mode} on {work} failed ({status})")
    return {**json.loads(out.read_text()), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def _run_child(mode: str, work: Path, out: Path, extra: list[str]) -> None:
    from polytune.config import FilterConfig

    start, result = time.perf_counter(), {}
    if mode.startswith("filter"):
        try:
            from polytune.corpus.steps import run_filter
        except ImportError:  # the old source (git 31f393e) has it in filters.py
            from polytune.corpus.filters import run_filter

        cfg = FilterConfig(inputs=[str(work / "in")], out=work / f"out-{mode}-{extra[1]}", backend="fasttext",
                           model=extra[0], tasks=2, workers=int(extra[1]))  # fmt: skip
        result = {"input": run_filter(cfg)["input"]}
    else:
        from polytune.corpus import steps

        if mode == "idle":
            return out.write_text(json.dumps({"seconds": 0}))
        seed = {"minhash_seed": int(extra[1])} if len(extra) > 1 else {}
        cfg = FilterConfig(inputs=[str(work / "s1")], out=work / f"out-{mode}", threshold=extra[0], **seed)
        if mode == "stage2-new":
            for name, pipeline, tasks in steps.stage_two(cfg, work):
                steps._run(steps._executor(cfg, pipeline, tasks, work / f"logs-{name}"))
            result = {"tasks": len(json.loads((work / "s2" / "plan.json").read_text())["chunks"])}
        else:
            langs = steps.stage_one_langs(work)
            for rank in range(len(langs)):
                list(steps.LanguageStep(cfg, str(work), langs).run(None, rank, len(langs)))
        result["stats"] = steps.assemble(cfg, work)
    out.write_text(json.dumps({**result, "seconds": round(time.perf_counter() - start, 2)}))


def _verses(raw: Path) -> dict[str, list[str]]:
    """The verses of the four Bibles, written as `polytune sources` does (the LID model trains on them too)."""
    from polytune.config import SourcesConfig
    from polytune.corpus.sources import write_sources

    write_sources(SourcesConfig(out=raw, bible=BIBLES, seed=13))
    return {lang: [json.loads(x)["text"] for x in (raw / f"{lang}.jsonl").open()] for lang in BIBLES}


def _stage_one(work: Path, shards: dict[str, Iterable[dict]], seed: int = 13) -> None:
    """Write stage-one output the way the filter's stage one does: chunks with their arrays (exact keys, MinHash
    values of `seed`) and per-task stats. The MinHash signing is stage one's work now, so it is not timed here."""
    from polytune.config import FilterConfig
    from polytune.corpus.chunks import ChunkWriter
    from polytune.corpus.dedup import score_bin

    cfg = FilterConfig(inputs=["-"], out=work / "unused", minhash_seed=seed)
    writer, bins, passed = ChunkWriter(work / "s1", 0, cfg), {}, {}
    for lang, records in shards.items():
        bins[lang] = {}
        for i, record in enumerate(records):
            writer.write(record)
            key = score_bin(record["lid_score"])
            bins[lang][key] = bins[lang].get(key, 0) + 1
            passed[lang] = i + 1
    writer.close()
    stats = {"input": sum(passed.values()), "rejected": {}, "per_lang_rejected": {}, "passed": passed,
             "score_bins": bins}  # fmt: skip
    (work / "s1" / "stats").mkdir(parents=True)
    (work / "s1" / "stats" / "00000.json").write_text(json.dumps(stats))


def _text(verses: list[str], i: int) -> str:
    """Document i: three verses (distinct for distinct i), except every 33rd (an exact copy of document i // 2)
    and every 33rd + 1 (a near copy of document i // 3: " Amen" appended)."""
    if i % 33 == 0 and i:
        return _text(verses, i // 2)
    if i % 33 == 1 and i > 1:
        return _text(verses, i // 3) + " Amen"
    size = len(verses)
    a, k = i % size, i // size
    return " ".join((verses[a], verses[(a + 1 + k) % size], verses[(a + 7 + 3 * k) % size]))


def _documents(verses: list[str], n: int) -> Iterator[dict]:
    """n stage-one records of eng_Latn, scores spread over [0.5, 1) with 4 decimals."""
    for i in range(n):
        score = 0.5 + (i * 7919 % 5000) / 10000
        yield {"id": f"d{i}", "text": _text(verses, i), "lang": "eng_Latn", "lid_score": score,
               "lid_topk": [["eng_Latn", score]]}  # fmt: skip


def _memory(root: Path, verses: list[str], sizes: list[int], old_max: int) -> dict:
    rows = {"baseline_rss_mb": _child("idle", root / "idle", ["0"])["peak_rss_mb"]}
    for n in sizes:
        for mode in ("stage2-new", "stage2-old") if n <= old_max else ("stage2-new",):
            work = root / f"mem-{n}-{mode}"
            _stage_one(work, {"eng_Latn": _documents(verses, n)})
            got = _child(mode, work, ["auto"])
            rows[f"{mode}_{n}"] = {"peak_rss_mb": got["peak_rss_mb"], "seconds": got["seconds"],
                                   "records_per_s": round(n / got["seconds"]), "tasks": got.get("tasks", 1),
                                   "kept": got["stats"]["kept"], "rejected": got["stats"]["rejected"]}  # fmt: skip
            print(json.dumps({f"{mode}_{n}": rows[f"{mode}_{n}"]}), file=sys.stderr, flush=True)
            subprocess.run(["rm", "-rf", str(work)], check=True)
    return rows


def _near_ids(out: Path) -> dict[str, str]:
    path = out / "rejected" / "near_duplicate.jsonl"
    return {r["id"]: r["detail"] for r in map(json.loads, path.open())} if path.exists() else {}


def _agreement(root: Path, verses: dict[str, list[str]]) -> dict:
    """Near-duplicate ids of old vs new, and of new vs new with another MinHash seed (MinHash's own spread)."""
    shards = {lang: [{"id": f"{lang}:{i}", "text": t, "lang": lang, "lid_score": 1.0} for i, t in enumerate(texts)]
              for lang, texts in verses.items()}  # fmt: skip
    near = {}
    for mode, seed in (("stage2-new", "13"), ("stage2-old", "13"), ("stage2-new", "14")):
        work = root / f"agree-{mode}-{seed}"
        _stage_one(work, shards, int(seed))
        stats = _child(mode, work, ["0", seed])["stats"]
        near[mode + seed] = (_near_ids(work / f"out-{mode}"), stats["rejected"].get("duplicate", 0))
    new, old, other = near["stage2-new13"][0], near["stage2-old13"][0], near["stage2-new14"][0]
    n = sum(map(len, verses.values()))

    def agree(a: dict, b: dict) -> dict:
        both, either = set(a) & set(b), set(a) | set(b)
        return {
            "both": len(both),
            "jaccard": round(len(both) / max(1, len(either)), 4),
            "same_decision": round(1 - len(either - both) / n, 5),
            "same_named": sum(a[i] == b[i] for i in both),
        }

    return {"records": n, "near_new": len(new), "near_old": len(old), "near_new_seed14": len(other),
            "new_vs_old": agree(new, old), "new_vs_new_seed14": agree(new, other),
            "exact_new": near["stage2-new13"][1], "exact_old": near["stage2-old13"][1]}  # fmt: skip


def _throughput(root: Path, verses: dict[str, list[str]], n: int) -> dict:
    from polytune.config import LidTrainConfig
    from polytune.corpus.langid import train_lid

    texts = [t for lang in BIBLES for t in verses[lang]]
    lines = [texts[i % len(texts)] for i in range(0, n * 7, 7)][:n]  # as lid_throughput.py
    model = root / "lid.bin"
    train_lid(LidTrainConfig(input=root / "raw", out=model, bucket=200000, max_per_lang=5000, seed=13))
    work = root / "tp"
    (work / "in").mkdir(parents=True)
    for i, part in enumerate((lines[: n // 2], lines[n // 2 :])):
        (work / "in" / f"part{i}.txt").write_text("\n".join(part) + "\n")
    rates = {}
    for workers in ("1", "2"):
        for mode in ("filter-new", "filter-old"):
            got = _child(mode, work, [str(model), workers])
            rates[f"{mode}_{workers}_workers_lines_per_s"] = round(got["input"] / got["seconds"])
    return {"lines": n, **rates}


def _documents_rate(root: Path, verses: list[str], n: int) -> dict:
    """Long documents (three verses each): the whole filter with py3langid (2 tasks, 1 worker) vs a bare
    py3langid `classify` loop on the same texts, in this process."""
    from polytune.config import FilterConfig
    from polytune.corpus.langid import _py3langid_identifier
    from polytune.corpus.steps import run_filter

    texts = [_text(verses, i) for i in range(n)]
    folder = root / "docs-in"
    folder.mkdir()
    for part in range(2):
        rows = (json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts) if i % 2 == part)
        (folder / f"part{part}.jsonl").write_text("".join(rows), encoding="utf-8")
    identifier = _py3langid_identifier()  # the model polytune's backend loads, called the plain way
    start = time.perf_counter()
    for text in texts:
        identifier.classify(text)
    bare = time.perf_counter() - start
    start = time.perf_counter()
    stats = run_filter(FilterConfig(inputs=[str(folder)], out=root / "docs-out", backend="py3langid", tasks=2,
                                    workers=1))  # fmt: skip
    whole = time.perf_counter() - start
    return {"documents": n, "chars_per_document": round(sum(map(len, texts)) / n),
            "bare_py3langid_docs_per_s": round(n / bare), "filter_docs_per_s": round(stats["input"] / whole),
            "filter_vs_bare_lid": round(bare / whole, 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k and 100k records, filter on 10k lines")
    parser.add_argument("--sizes", help="records of the one language, comma-separated (default 100000,500000)")
    parser.add_argument("--old-max", type=int, help="largest size the old stage two runs (default 100000)")
    parser.add_argument("--filter-lines", type=int, help="lines of the whole-filter runs (default 50000)")
    parser.add_argument("--documents", type=int, help="long documents of the documents part (default 40000)")
    parser.add_argument("--parts", default="memory,agreement,documents,throughput",
                        help="which parts to run (default: all)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--old-site", default="", help="folder with datasketch for the old stage two "
                        "(`pip install --no-deps --target DIR datasketch`); it left the lock with that code")
    args = parser.parse_args()
    if args.child:
        return _run_child(args.child[0], Path(args.child[1]), Path(args.child[2]), args.child[3:])
    sizes = [int(s) for s in (args.sizes or ("20000,100000" if args.quick else "100000,500000")).split(",")]
    old_max = args.old_max or 100_000
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        tree = subprocess.run(["git", "-C", str(REPO), "archive", OLD, "src"], check=True, capture_output=True)
        (root / "old-src").mkdir()
        subprocess.run(["tar", "-x", "--strip-components=1", "-C", str(root / "old-src")], input=tree.stdout,
                       check=True)  # fmt: skip
        if args.old_site:  # the old code imports datasketch: put it beside that code
            (root / "old-src" / "datasketch").symlink_to(Path(args.old_site).resolve() / "datasketch")
        verses = _verses(root / "raw")
        figures = {"old_commit": OLD, "sizes": sizes, "old_max": old_max, "load_before": os.getloadavg()[0]}
        if "memory" in args.parts:
            figures["memory"] = _memory(root, [v for v in verses["eng_Latn"] if v.strip()], sizes, old_max)
            print(json.dumps(figures["memory"]), file=sys.stderr)
        if "agreement" in args.parts:
            figures["agreement"] = _agreement(root, {"eng_Latn": verses["eng_Latn"]} if args.quick else verses)
            print(json.dumps(figures["agreement"]), file=sys.stderr)
        if "documents" in args.parts:
            count = args.documents or (5_000 if args.quick else 40_000)
            figures["documents"] = _documents_rate(root, [v for v in verses["eng_Latn"] if v.strip()], count)
            print(json.dumps(figures["documents"]), file=sys.stderr)
        if "throughput" in args.parts:
            lines = args.filter_lines or (10_000 if args.quick else 50_000)
            figures["throughput"] = _throughput(root, verses, lines)
        figures["load_after"] = os.getloadavg()[0]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
