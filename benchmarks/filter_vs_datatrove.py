"""Filter vs datatrove-native: `polytune filter` beside the same work built only from datatrove's own blocks, on the
same input with the same fastText model, 1 and 2 workers, on short verses and on long documents: lines/s, peak
RSS, and whether both keep and drop the same records (a confusion table by reason). Then "the limit": where
polytune's time per line goes. Figures as one JSON object on the last line.

    .venv/bin/pip install --no-deps --target /tmp/dtsite fasteners fasttext-numpy2-wheel   # once (see below)
    .venv/bin/python benchmarks/filter_vs_datatrove.py --datatrove-site /tmp/dtsite          # ~4 min on 2 cores
    .venv/bin/python benchmarks/filter_vs_datatrove.py --datatrove-site /tmp/dtsite --quick  # 4k verses, 1k docs
    .venv/bin/python benchmarks/filter_vs_datatrove.py --parts limit --verses 100000   # polytune's breakdown alone

datatrove's LanguageFilter declares `fasteners` (a file lock for its model download) and the distribution
`fasttext-numpy2-wheel` (its `processing` extra); polytune's lock has neither (its fastText is `fasttext-numpy2`, the
same `fasttext` module, which datatrove's check refuses by name). As filter_scale.py does for datasketch, the
datatrove child gets both from a side folder (`--datatrove-site DIR`, first on its PYTHONPATH), not from the
project's environment. Both fastText builds give the same labels and scores on these lines (checked to 6
decimals); their bare `predict` speeds are measured and reported (`bare_fasttext_k_all_lines_per_s`).

Input: verses of four Bibles (eng, nya, ara, vie: lid_throughput.py's lines, blank verses left out) and documents
of three verses of one language each, with 3% exact and 3% near copies (filter_scale.py's construction, per
language), as JSONL with ids, in two files (2 tasks on both sides). The fastText model is trained on the same
verses by `polytune lid train`, as in lid_throughput.py; both sides load that one file.

polytune: `run_filter` with `backend fasttext`, tasks 2, defaults otherwise (threshold 0.5, MinHash 5 bands x 11
rows on word 5-grams at 0.8, exact dedup, per-language output). datatrove 0.10.1: JsonlReader -> LanguageFilter
(threshold 0.5 instead of its 0.65, so both drop the same LID scores; it keeps score > 0.5, polytune >= 0.5 of the
score rounded to 4 decimals) -> GopherRepetitionFilter (defaults) -> JsonlWriter -> MinhashDedupSignature (in the
same pass, which saves datatrove a read), then the other three MinHash stages as examples/minhash_deduplication.py
chains them: MinhashDedupBuckets (one task per band), MinhashDedupCluster, JsonlReader -> MinhashDedupFilter ->
JsonlWriter; MinhashConfig(5-grams, 5 buckets x 11 hashes: polytune's banding, not datatrove's 14 x 8); every drop
goes to an exclusion JsonlWriter (as polytune writes rejected/), no compression on either side.

Three adapters make datatrove run here, each through a public extension point (no private method is overridden):
- LID model: LanguageFilter loads lid.176 or GlotLID by URL. `LocalLanguageFilter` hands it `LocalFastTextLID`,
  datatrove's `FastTextLID` with MODEL_URL set to the local file (as datatrove's own GlotLID sets its URL);
  datatrove copies the file into its asset cache (HF_ASSETS_CACHE, pointed into the scratch folder).
- Words: datatrove's English word tokenizer is spaCy's (`spacy.blank("en")`), and its language-agnostic fallback
  (`WhitespaceTokenizer`) calls spaCy's "xx" too; spaCy is not in the lock. `load_word_tokenizer` takes a
  WordTokenizer instance ("for custom tokenizers"), so `RegexWordTokenizer` (WhitespaceTokenizer with
  `word_tokenize` = runs of letters/marks/digits and single other non-space characters, what a blank spaCy
  tokenizer mostly yields on this text) is passed as `language` to GopherRepetitionFilter and MinhashDedupSignature.
  `--datatrove-words spacy` gives them datatrove's default ("en", spaCy) instead, for a run with spaCy on the side
  folder.
- Hashing: datatrove's default xxhash MinHash calls `xxh64_intdigest(str)`, which xxhash 4 refuses ("Strings must
  be encoded before hashing"). `EncodedMinhashSignature` overrides the public `get_shingles` with the same body
  (datatrove's `simplify_text` and `ngrams`) hashing the UTF-8 bytes, which is what xxhash 3 did with a str.

What each side does that the other does not: polytune also normalizes (NFC, control characters, spaces), drops
texts under 10 characters, with > 50% non-letters, and short texts repeating 1-3 words, checks the script against
the language, dedups exact copies (case/space-folded) before MinHash, MinHashes a text of fewer than 5 words as one
shingle (datatrove skips it: never a near duplicate), applies the Gopher n-gram checks only from 50 words (Gopher's
own minimum document length), and dedups within each language; it writes top-3 LID scores, a mixed-language flag,
cluster sizes and a reason + detail per drop, per-language shards and a manifest. datatrove also applies Gopher's
paragraph checks, scores all labels (k=-1) per document, writes per-step stats, and dedups across languages; its
top-n-gram check counts the most frequent n-gram even when it occurs once, so short texts fail it (why it drops most
verses).

Timing: each (side, workers) runs in a fresh process (`--child`), timed from before the pipeline to its output
(imports and interpreter start excluded; each worker process's start and model load included); the sides alternate
(polytune first for 1 worker, datatrove first for 2). Peak RSS, sampled from /proc every 50 ms: the largest peak
(VmHWM) of any one process of the run, and the largest sum of RSS over its process tree (the main process, the
workers, and the forkserver and manager processes of datatrove's local executor, on both sides). Not wait4's
ru_maxrss: a child spawned from this process starts its count from this process's own size. CPU: user + system
seconds of the process tree over the timed run (sampled likewise, set-up before the run left out); lines per
CPU-second moves less than lines/s when other jobs share the cores.

The limit (polytune only, 1 worker, 2 tasks): each stage-one piece timed alone on the verses in this process (read,
each filter on the records it reaches, then the chunk writer's JSON line, exact key, MinHash with its word split),
beside the phase wall times of a whole run (stage one, signatures, buckets, clusters, final filter), against a bare
fastText `predict(k=1)` loop; the same with py3langid on English documents (KJV alone: filter_scale.py's documents
part, the set the issue's "≥ 0.5x of the bare LID backend" was measured on) against a bare py3langid `classify`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import regex
from datatrove.pipeline.dedup.minhash import MinhashDedupSignature
from datatrove.pipeline.filters import LanguageFilter
from datatrove.utils.lid import FastTextLID
from datatrove.utils.text import ngrams, simplify_text
from datatrove.utils.word_tokenizers import WhitespaceTokenizer

BIBLES = {"eng_Latn": "k", "nya_Latn": "chichewa", "ara_Arab": "y", "vie_Latn": "7"}
BANDS, ROWS = 5, 11  # polytune's lsh_bands(0.8, 64), given to datatrove's MinhashConfig too
THRESHOLD = 0.5  # polytune's default LID threshold, given to datatrove's LanguageFilter (its default: 0.65)


class LocalFastTextLID(FastTextLID):
    """datatrove's fastText LID on a local model file; the URL is set per instance, as datatrove's GlotLID does."""

    MODEL_SUBFOLDER = "local"

    def __init__(self, path: str, languages: list[str] | None = None) -> None:
        super().__init__(languages)
        self.MODEL_URL = path


class LocalLanguageFilter(LanguageFilter):
    """datatrove's LanguageFilter with `LocalFastTextLID` as its model."""

    def __init__(self, model_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = LocalFastTextLID(model_path, self.languages)


class RegexWordTokenizer(WhitespaceTokenizer):
    """Words without spaCy: runs of letters, marks and digits, and each other non-space character on its own."""

    _words = regex.compile(r"[\p{L}\p{M}\p{N}]+|[^\s\p{L}\p{M}\p{N}]")

    def word_tokenize(self, text: str) -> list[str]:
        return self._words.findall(text)


class EncodedMinhashSignature(MinhashDedupSignature):
    """MinhashDedupSignature whose shingles hash UTF-8 bytes (xxhash 4 refuses a str), with the default HashConfig's
    64-bit xxhash."""

    def get_shingles(self, text: str) -> np.ndarray:
        import xxhash

        words = self.word_tokenizer.word_tokenize(simplify_text(text, self.config.norm_config))
        grams = ngrams(words, self.config.n_grams)
        hashes = [xxhash.xxh64_intdigest(" ".join(gram).encode("utf-8")) for gram in grams]
        return np.fromiter(hashes, dtype=np.uint64).reshape((-1, 1))


# ---- inputs ---------------------------------------------------------------------------------------------------


def _verses(raw: Path) -> dict[str, list[str]]:
    from polytune.config import SourcesConfig
    from polytune.corpus.sources import write_sources

    write_sources(SourcesConfig(out=raw, bible=BIBLES, seed=13))
    return {lang: [json.loads(x)["text"] for x in (raw / f"{lang}.jsonl").open(encoding="utf-8")] for lang in BIBLES}


def _document(verses: list[str], i: int) -> str:
    """Document i of a language: three verses; every 33rd an exact copy of i // 2, every 33rd + 1 a near copy of
    i // 3 (" Amen" appended), as filter_scale.py builds them."""
    if i % 33 == 0 and i:
        return _document(verses, i // 2)
    if i % 33 == 1 and i > 1:
        return _document(verses, i // 3) + " Amen"
    size = len(verses)
    a, k = i % size, i // size
    return " ".join((verses[a], verses[(a + 1 + k) % size], verses[(a + 7 + 3 * k) % size]))


def _write_input(folder: Path, texts: list[str], prefix: str) -> None:
    """Two JSONL files (one per task), records {"id", "text"}, even and odd positions."""
    folder.mkdir(parents=True)
    for part in range(2):
        rows = (json.dumps({"id": f"{prefix}{i}", "text": t}, ensure_ascii=False) + "\n"
                for i, t in enumerate(texts) if i % 2 == part)  # fmt: skip
        (folder / f"part{part}.jsonl").write_text("".join(rows), encoding="utf-8")


def _inputs(root: Path, verses: dict[str, list[str]], n_lines: int, n_docs: int) -> dict[str, Path]:
    """verses (lid_throughput.py's lines), documents (four languages interleaved) and documents_eng (KJV alone,
    filter_scale.py's documents part: the set the issue's "0.5x of bare py3langid" was measured on)."""
    texts = [t for lang in BIBLES for t in verses[lang] if t.strip()]
    lines = [texts[i % len(texts)] for i in range(0, n_lines * 7, 7)][:n_lines]  # as lid_throughput.py
    per_lang = [[v for v in verses[lang] if v.strip()] for lang in BIBLES]
    _write_input(root / "verses", lines, "v")
    _write_input(root / "documents", [_document(per_lang[i % 4], i // 4) for i in range(n_docs)], "d")
    _write_input(root / "documents_eng", [_document(per_lang[0], i) for i in range(n_docs)], "e")
    return {name: root / name for name in ("verses", "documents", "documents_eng")}


# ---- the two sides, each run in a child process -----------------------------------------------------------------


def _polytune(src: Path, out: Path, model: str, workers: int, backend: str = "fasttext") -> dict[str, Any]:
    from polytune.config import FilterConfig
    from polytune.corpus.steps import run_filter

    cfg = FilterConfig(inputs=[str(src)], out=out, backend=backend, model=model if backend == "fasttext" else None,
                       tasks=2, workers=workers)  # fmt: skip
    setup, start = time.process_time(), time.perf_counter()
    stats = run_filter(cfg)
    return {
        "seconds": time.perf_counter() - start,
        "setup_cpu_s": setup,
        "input": stats["input"],
        "kept": stats["kept"],
    }


def _datatrove(src: Path, out: Path, model: str, workers: int, words: str = "regex") -> dict[str, Any]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.filters import GopherRepetitionFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    tokenizer = RegexWordTokenizer() if words == "regex" else "en"  # "en": datatrove's default, spaCy's tokenizer
    config = MinhashConfig(n_grams=5, num_buckets=BANDS, hashes_per_bucket=ROWS, seed=13)

    def writer(name: str) -> JsonlWriter:
        return JsonlWriter(str(out / name), compression=None)

    phases = [
        ("filter_and_signatures", [
            JsonlReader(str(src)),
            LocalLanguageFilter(model, language_threshold=THRESHOLD, exclusion_writer=writer("rejected/language")),
            GopherRepetitionFilter(language=tokenizer, exclusion_writer=writer("rejected/gopher")),
            writer("filtered"),
            EncodedMinhashSignature(str(out / "sigs"), config=config, language=tokenizer),
        ], 2),
        ("buckets", [MinhashDedupBuckets(str(out / "sigs"), str(out / "buckets"), config=config)], BANDS),
        ("clusters", [MinhashDedupCluster(str(out / "buckets"), str(out / "remove"), config=config)], 1),
        ("dedup", [JsonlReader(str(out / "filtered")),
                   MinhashDedupFilter(str(out / "remove"), exclusion_writer=writer("rejected/minhash")),
                   writer("kept")], 2),
    ]  # fmt: skip
    seconds, steps = {}, {}
    setup, start = time.process_time(), time.perf_counter()
    for name, pipeline, tasks in phases:
        began = time.perf_counter()
        LocalPipelineExecutor(pipeline, tasks=tasks, workers=min(workers, tasks),
                              logging_dir=str(out / "logs" / name)).run()  # fmt: skip
        seconds[name] = round(time.perf_counter() - began, 2)
        steps[name] = _step_seconds(out / "logs" / name / "stats.json")
    return {"seconds": time.perf_counter() - start, "setup_cpu_s": setup, "phases": seconds, "step_seconds": steps}


def _step_seconds(stats: Path) -> dict[str, float]:
    """datatrove's own time per step of a pipeline, summed over its tasks (its stats.json). A step's time is its own
    calls, except the last step of a pipeline, whose `run` also pulls the records through the steps before it."""
    steps = {}
    for step in json.loads(stats.read_text()):
        name = " ".join(regex.sub(r"[^\x20-\x7e]", " ", step["name"]).split()).lstrip("- ")
        spent = step.get("time_stats", 0)  # a dict of stats, or a bare 0 when the step never ran
        steps[name] = round(spent.get("total", 0.0) if isinstance(spent, dict) else float(spent), 2)
    return steps


def _bare_fasttext(src: Path, model: str) -> dict[str, Any]:
    """A bare fastText loop as datatrove's LID calls it (`predict(text, k=-1)`), with whichever build is imported."""
    import fasttext

    texts = [json.loads(line)["text"] for part in sorted(src.glob("*.jsonl")) for line in part.open(encoding="utf-8")]
    loaded = fasttext.load_model(model)
    start = time.perf_counter()
    for text in texts:
        loaded.predict(text.replace("\n", " "), k=-1)
    return {"seconds": time.perf_counter() - start, "module": fasttext.__file__}


def _run_child(args: list[str]) -> None:
    side, src, out, model, workers, words, result = args
    os.environ["HF_ASSETS_CACHE"] = str(Path(out).parent / f"{Path(out).name}-assets")  # datatrove's model copy
    if side == "polytune":
        got = _polytune(Path(src), Path(out), model, int(workers))
    elif side == "datatrove":
        got = _datatrove(Path(src), Path(out), model, int(workers), words)
    else:
        got = _bare_fasttext(Path(src), model)
    Path(result).write_text(json.dumps(got))


def _proc(pid: int) -> tuple[int, int, float]:
    """(VmRSS, VmHWM) in bytes and CPU seconds (user + system) of a process, from /proc; zeros once it is gone."""
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    fields[key] = int(value.split()[0]) * 1024
        with open(f"/proc/{pid}/stat") as stat:
            ticks = stat.read().rsplit(")", 1)[1].split()[11:13]  # utime, stime (fields 14 and 15)
    except (OSError, IndexError):
        return 0, 0, 0.0
    return fields.get("VmRSS", 0), fields.get("VmHWM", 0), sum(map(int, ticks)) / os.sysconf("SC_CLK_TCK")


def _sample(pid: int, peak: dict[str, Any], done: threading.Event) -> None:
    """Every 50 ms over `pid` and its descendants: the largest sum of RSS (peak["tree"]), the largest peak RSS of any
    one of them (peak["process"], VmHWM: exact up to the last sample before that process ends), and each one's CPU
    seconds at its last sample (peak["cpu"][pid]; a process loses at most its last 50 ms)."""
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    while not done.is_set():
        try:
            pids = [pid, *(child.pid for child in root.children(recursive=True))]
        except psutil.NoSuchProcess:
            return
        figures = {p: _proc(p) for p in pids}
        peak["tree"] = max(peak["tree"], sum(rss for rss, _, _ in figures.values()))
        peak["process"] = max(peak["process"], *(hwm for _, hwm, _ in figures.values()))
        peak["cpu"].update({p: cpu for p, (_, _, cpu) in figures.items() if cpu})
        done.wait(0.05)


def _child(side: str, src: Path, out: Path, model: Path, workers: int, opts: argparse.Namespace) -> dict[str, Any]:
    """Run one side in a fresh process; its figures plus peak RSS (largest process, largest process-tree sum) and the
    CPU seconds of its process tree during the timed run.
    The datatrove side (and "bare-datatrove") get `--datatrove-site` first on their PYTHONPATH."""
    result = out.parent / f"{out.name}.json"
    env = {**os.environ, "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    if side.endswith("datatrove") and opts.datatrove_site:
        site = [str(Path(p).resolve()) for p in opts.datatrove_site.split(os.pathsep)]
        env["PYTHONPATH"] = os.pathsep.join([*site, *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, __file__, "--child", side, str(src), str(out), str(model), str(workers),
           opts.datatrove_words, str(result)]  # fmt: skip
    with open(out.parent / f"{out.name}.log", "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
        peak, done = {"tree": 0, "process": 0, "cpu": {}}, threading.Event()
        sampler = threading.Thread(target=_sample, args=(proc.pid, peak, done), daemon=True)
        sampler.start()
        status = proc.wait()
        done.set()
        sampler.join()
    if status != 0:
        tail = (out.parent / f"{out.name}.log").read_text()[-3000:]
        raise RuntimeError(f"{side} with {workers} worker(s) on {src.name} failed:\n{tail}")
    got = json.loads(result.read_text())
    cpu = sum(peak["cpu"].values()) - got.pop("setup_cpu_s", 0.0)  # imports and set-up before the timed run left out
    return {**got, "cpu_s": round(cpu, 2), "peak_rss_mb": round(peak["process"] / 2**20, 1),
            "peak_tree_rss_mb": round(peak["tree"] / 2**20, 1)}  # fmt: skip


# ---- agreement --------------------------------------------------------------------------------------------------


def _ids(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line)["id"] for line in handle]


def _polytune_decisions(out: Path) -> dict[str, str]:
    """{id: "" (kept) or the reject reason}."""
    decisions = {}
    for shard in out.glob("*/part-00000.jsonl"):
        decisions.update(dict.fromkeys(_ids(shard), ""))
    for rejects in (out / "rejected").glob("*.jsonl"):
        decisions.update(dict.fromkeys(_ids(rejects), rejects.stem))
    return decisions


def _datatrove_decisions(out: Path) -> dict[str, str]:
    """{id: "" (kept) or the step that dropped it: language, gopher:<reason>, minhash}."""
    decisions = {}
    for shard in (out / "kept").glob("*.jsonl"):
        decisions.update(dict.fromkeys(_ids(shard), ""))
    for step in ("language", "gopher", "minhash"):
        for shard in (out / "rejected" / step).glob("*.jsonl"):
            with open(shard, encoding="utf-8") as handle:
                for doc in map(json.loads, handle):
                    reason = doc.get("metadata", {}).get("filter_reason")
                    decisions[doc["id"]] = f"{step}:{reason}" if step == "gopher" and reason else step
    return decisions


def _confusion(ours: dict[str, str], theirs: dict[str, str]) -> dict[str, Any]:
    """Both keep, both drop (by pair of reasons), only polytune drops (by its reason), only datatrove (by step)."""
    only_ours, only_theirs, both_drop = Counter(), Counter(), Counter()
    both_keep = 0
    for doc, reason in ours.items():
        other = theirs.get(doc, "missing")
        if not reason and not other:
            both_keep += 1
        elif reason and other:
            both_drop[f"{reason} / {other}"] += 1
        elif reason:
            only_ours[reason] += 1
        else:
            only_theirs[other] += 1
    n = len(ours)
    return {
        "records": n, "polytune_kept": sum(not r for r in ours.values()),
        "datatrove_kept": sum(not r for r in theirs.values()), "datatrove_unaccounted": n - len(theirs),
        "both_keep": both_keep, "both_drop": sum(both_drop.values()),
        "only_polytune_drops": sum(only_ours.values()), "only_datatrove_drops": sum(only_theirs.values()),
        "same_decision": round((both_keep + sum(both_drop.values())) / n, 4),
        "both_drop_by_reasons": dict(both_drop.most_common()),
        "only_polytune_by_reason": dict(only_ours.most_common()),
        "only_datatrove_by_step": dict(only_theirs.most_common()),
    }  # fmt: skip


def _side_by_side(root: Path, inputs: dict[str, Path], model: Path, opts: argparse.Namespace) -> dict[str, Any]:
    """Both sides on both inputs with 1 and 2 workers, alternated; the confusion table from the 1-worker outputs.
    First, the bare fastText loop of each side's build (`predict(text, k=-1)` on the verses)."""
    figures: dict[str, Any] = {"datatrove_words": opts.datatrove_words, "bare_fasttext_k_all_lines_per_s": {}}
    lines = sum(1 for part in inputs["verses"].glob("*.jsonl") for _ in part.open(encoding="utf-8"))
    for side in ("bare-lock", "bare-datatrove"):
        got = _child(side, inputs["verses"], root / side, model, 1, opts)
        figures["bare_fasttext_k_all_lines_per_s"][side] = round(lines / got["seconds"])
    for data in ("verses", "documents"):
        src = inputs[data]
        lines = sum(1 for part in src.glob("*.jsonl") for _ in part.open(encoding="utf-8"))
        rows: dict[str, Any] = {"lines": lines}
        for attempt in range(opts.rounds):
            for workers in (1, 2):
                order = ("polytune", "datatrove") if (workers + attempt) % 2 else ("datatrove", "polytune")
                for side in order:
                    out = root / f"{data}-{side}-{workers}-{attempt}"
                    got = _child(side, src, out, model, workers, opts)
                    got["lines_per_s"] = round(lines / got["seconds"])
                    got["lines_per_cpu_s"] = round(lines / got["cpu_s"]) if got.get("cpu_s") else None
                    print(json.dumps({data: {f"{side}_{workers}": got}}), file=sys.stderr, flush=True)
                    key = f"{side}_{workers}_workers"
                    if key not in rows or got["lines_per_s"] > rows[key]["lines_per_s"]:
                        rows[key] = {k: v for k, v in got.items() if k not in ("seconds", "input")}
                        rows[key]["seconds"] = round(got["seconds"], 2)
        for workers in (1, 2):
            ours, theirs = rows[f"polytune_{workers}_workers"], rows[f"datatrove_{workers}_workers"]
            rows[f"polytune_vs_datatrove_{workers}_workers"] = round(ours["lines_per_s"] / theirs["lines_per_s"], 2)
        ours = _polytune_decisions(root / f"{data}-polytune-1-0")
        theirs = _datatrove_decisions(root / f"{data}-datatrove-1-0")
        rows["same_output_with_2_workers"] = {
            "polytune": ours == _polytune_decisions(root / f"{data}-polytune-2-0"),
            "datatrove": theirs == _datatrove_decisions(root / f"{data}-datatrove-2-0"),
        }
        rows["agreement"] = _confusion(ours, theirs)
        figures[data] = rows
    return figures


# ---- the limit: where polytune's time per line goes ------------------------------------------------------------


def _passes(step: Any, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records `step` keeps, judged in batches of 512 as apply_filters does."""
    from polytune.corpus.base import unpack

    kept = []
    for i in range(0, len(records), 512):
        batch = records[i : i + 512]
        for record, verdict in zip(batch, step.filter_batch(batch), strict=True):
            if verdict is True or unpack(verdict, step.name)[0]:
                kept.append(record)
    return kept


def _pieces(cfg: Any) -> dict[str, float]:
    """Seconds of each stage-one piece timed alone: read, each filter on what reaches it, the chunk writer's parts."""
    from polytune.corpus.chunks import BATCH, encode_record
    from polytune.corpus.dedup import MinHasher, exact_key
    from polytune.corpus.filters import build_filters
    from polytune.corpus.readers import list_units, read_unit
    from polytune.corpus.scripts import split_words

    filters = build_filters(cfg)  # the model loads here, untimed
    start = time.perf_counter()
    records = [r for unit in list_units(cfg.inputs) for r in read_unit(unit, cfg.text_field)]
    seconds = {"read": time.perf_counter() - start}
    for step in filters:
        start = time.perf_counter()
        records = _passes(step, records)
        seconds[f"filter:{step.name}"] = time.perf_counter() - start
    for name, run in (("json_line", lambda r: encode_record(r)), ("exact_key", lambda r: exact_key(r["text"])),
                      ("word_split", lambda r: split_words(r["text"].casefold(), r["lang"]))):  # fmt: skip
        start = time.perf_counter()
        for record in records:
            run(record)
        seconds[name] = time.perf_counter() - start
    by_lang: dict[str, list[str]] = {}
    for record in records:
        by_lang.setdefault(record["lang"], []).append(record["text"])
    start = time.perf_counter()
    for lang, texts in by_lang.items():
        hasher = MinHasher(lang, BANDS * ROWS, cfg.minhash_seed)
        for i in range(0, len(texts), BATCH):
            hasher.signatures(texts[i : i + BATCH])
    seconds["minhash (word split included)"] = time.perf_counter() - start
    return seconds


def _phases(cfg: Any) -> dict[str, float]:
    """Wall seconds of each phase of one whole run, run as run_filter runs it (polytune's executors), and of 2
    datatrove tasks doing nothing (a task's fixed cost)."""
    from datatrove.pipeline.base import PipelineStep

    from polytune.corpus import steps
    from polytune.corpus.executors import make_executor, run_tasks

    class Nothing(PipelineStep):
        name = "nothing"

        def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> Any:
            yield from ()

    work = steps.work_folder(cfg)
    seconds: dict[str, float] = {}

    def run(name: str, pipeline: list, tasks: int) -> None:
        start = time.perf_counter()
        run_tasks(make_executor(cfg, pipeline, tasks, work / f"logs-{name}"), name)
        seconds[name] = time.perf_counter() - start

    run("stage one", steps.stage_one(cfg, work), cfg.tasks)
    for name, pipeline, tasks in steps.stage_two(cfg, work):
        if tasks:
            run(name, pipeline, tasks)
    start = time.perf_counter()
    steps.assemble(cfg, work)
    seconds["assemble"] = time.perf_counter() - start
    run("2 empty datatrove tasks", [Nothing()], 2)
    return seconds


def _bare_lid(cfg: Any, texts: list[str]) -> tuple[str, float]:
    """Seconds of the bare LID loop on the backend's own model: fastText `predict(line, k=1)`, py3langid `classify`."""
    from polytune.corpus.langid import _py3langid_identifier, get_backend

    if cfg.backend == "fasttext":
        model, name = get_backend("fasttext", cfg.model)._model, "bare fastText predict k=1"
        call = lambda t: model.predict(t.replace("\n", " "), k=1)  # noqa: E731
    else:
        identifier, name = _py3langid_identifier(), "bare py3langid classify"
        call = identifier.classify
    start = time.perf_counter()
    for text in texts:
        call(text)
    return name, time.perf_counter() - start


def _limit_one(root: Path, src: Path, model: Path, backend: str) -> dict[str, Any]:
    """µs per input line of each piece and phase of polytune's filter (1 worker, 2 tasks), and the bare LID."""
    from polytune.config import FilterConfig

    cfg = FilterConfig(inputs=[str(src)], out=root / f"limit-{src.name}-{backend}", backend=backend,
                       model=str(model) if backend == "fasttext" else None, tasks=2, workers=1)  # fmt: skip
    texts = [json.loads(line)["text"] for part in sorted(src.glob("*.jsonl")) for line in part.open(encoding="utf-8")]
    n = len(texts)
    bare_name, bare = _bare_lid(cfg, texts)
    pieces, phases = _pieces(cfg), _phases(cfg)
    total = sum(v for k, v in phases.items() if k != "2 empty datatrove tasks")
    accounted = sum(v for k, v in pieces.items() if k != "word_split")
    us = lambda s: round(s / n * 1e6, 1)  # noqa: E731
    return {
        "lines": n, "backend": backend, "whole_filter_lines_per_s": round(n / total),
        "whole_filter_us_per_line": us(total), bare_name + "_lines_per_s": round(n / bare),
        "filter_vs_bare_lid": round(bare / total, 3),
        "stage_one_pieces_us_per_line": {k: us(v) for k, v in pieces.items()},
        "phases_us_per_line": {k: us(v) for k, v in phases.items()},
        "stage_one_unaccounted_us_per_line": us(phases["stage one"] - accounted),
    }  # fmt: skip


def _others(seconds: float = 1.0) -> list[str]:
    """What else used the CPU over `seconds` (this process's tree left out): "name pid cpu%", busiest first."""
    import psutil

    mine = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    procs = [p for p in psutil.process_iter(["name", "cmdline"]) if p.pid not in mine]
    for proc in procs:
        try:
            proc.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(seconds)
    busy = []
    for proc in procs:
        try:
            cpu = proc.cpu_percent(None)
        except psutil.Error:
            continue
        if cpu >= 5:
            busy.append((cpu, f"{' '.join(proc.info['cmdline'] or [proc.info['name']])[:60]} ({proc.pid}) {cpu:.0f}%"))
    return [line for _, line in sorted(busy, reverse=True)[:8]]


def _commit() -> str:
    """The commit these figures are of, "+ changes" when src/polytune/corpus differs from it."""
    repo = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(repo)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "src/polytune/corpus"], capture_output=True, text=True)
    return f"{head} + changes" if dirty.stdout.strip() else head or "unknown"


def _datatrove_ready(site: str) -> bool:
    """Whether datatrove's LanguageFilter will find its two dependencies (in the `site` folders, else installed)."""
    import importlib.metadata
    import importlib.util

    if site:
        folders = [Path(p) for p in site.split(os.pathsep)]
        return any((f / "fasteners").is_dir() for f in folders) and any(
            any(f.glob("fasttext_numpy2_wheel-*.dist-info")) for f in folders
        )
    try:
        importlib.metadata.distribution("fasttext-numpy2-wheel")
    except importlib.metadata.PackageNotFoundError:
        return False
    return importlib.util.find_spec("fasteners") is not None


# ---- main -------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4k verses, 1k documents")
    parser.add_argument("--verses", type=int, help="verse lines (default 100000, --quick 4000)")
    parser.add_argument("--documents", type=int, help="documents of three verses (default 10000, --quick 1000)")
    parser.add_argument("--rounds", type=int, default=1, help="alternated rounds of each (side, workers), best kept")
    parser.add_argument("--parts", default="side_by_side,limit", help="side_by_side, limit or both (default)")
    parser.add_argument(
        "--datatrove-site",
        default="",
        help="folder(s), ':'-separated, first on the datatrove child's path, with what its LanguageFilter needs and "
        "the lock lacks (`pip install --no-deps --target DIR fasteners fasttext-numpy2-wheel`)",
    )
    parser.add_argument(
        "--datatrove-words",
        choices=("regex", "spacy"),
        default="regex",
        help="datatrove's word tokenizer: RegexWordTokenizer (default), or spacy: its default for English "
        "(spaCy must be on --datatrove-site)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _run_child(args.child)
    if "side_by_side" in args.parts and not _datatrove_ready(args.datatrove_site):
        parser.error(
            "datatrove's LanguageFilter needs fasteners and fasttext-numpy2-wheel, which polytune's lock lacks: run "
            "`.venv/bin/pip install --no-deps --target /tmp/dtsite fasteners fasttext-numpy2-wheel` and pass "
            "--datatrove-site /tmp/dtsite (or run --parts limit alone)"
        )
    n_lines = args.verses or (4_000 if args.quick else 100_000)
    n_docs = args.documents or (1_000 if args.quick else 10_000)
    from polytune.config import LidTrainConfig
    from polytune.corpus.langid import train_lid

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        inputs = _inputs(root, _verses(root / "raw"), n_lines, n_docs)
        model = root / "lid.bin"
        train_lid(LidTrainConfig(input=root / "raw", out=model, bucket=200000, max_per_lang=5000, seed=13))
        figures: dict[str, Any] = {"commit": _commit(), "verses": n_lines, "documents": n_docs,
                                   "load_before": os.getloadavg()[0],
                                   "others_before": _others()}  # fmt: skip
        if "side_by_side" in args.parts:
            figures["side_by_side"] = _side_by_side(root, inputs, model, args)
        if "limit" in args.parts:
            figures["limit"] = {
                "verses_fasttext": _limit_one(root, inputs["verses"], model, "fasttext"),
                "documents_eng_py3langid": _limit_one(root, inputs["documents_eng"], model, "py3langid"),
            }
        figures["load_after"], figures["others_after"] = os.getloadavg()[0], _others()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
