"""LID coverage on held-out text of several hundred languages: which languages each shipped backend (langid,
py3langid, heliport) and their `vote` cover, and accuracy on the covered ones, scored by `polytune lid eval`.

    .venv/bin/pip install 'polytune[lid-gpl,lid-coverage]'
    .venv/bin/python benchmarks/lid_coverage.py            # every language with sample text (~755), ~1-2 min
    .venv/bin/python benchmarks/lid_coverage.py --quick    # the first 150 languages

The text: Google Fonts' language data (`gflanguages`, Apache-2.0): per language, UDHR sentences used as font
specimens (fields specimen_36, specimen_32 and the lines of specimen_21 / specimen_16). polytune was never tuned
on it; the backends' own training data may include UDHR translations (not checked), so this measures coverage
and accuracy on a formal, short-sentence genre, not web text. A language counts as covered by a backend when the
backend can answer it or a matching key (polytune.langcodes: a macrolanguage answer covers its members).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from polytune.config import LidEvalConfig
from polytune.corpus.langid import get_backend
from polytune.corpus.lid_eval import evaluate_lid
from polytune.errors import LanguageCodeError
from polytune.langcodes import normalize

FIELDS = ("specimen_36", "specimen_32", "specimen_21", "specimen_16")
BACKENDS = {"langid": "langid", "py3langid": "py3langid", "heliport": "heliport"}
MIN_CHARS = 20


def held_out(limit: int | None) -> list[dict[str, str]]:
    """Labeled sentences per language of gflanguages' sample texts (one record per distinct line)."""
    import gflanguages

    records, seen_langs = [], 0
    for gf_id, info in sorted(gflanguages.LoadLanguages().items()):
        if not info.HasField("sample_text"):
            continue
        try:
            key = normalize(gf_id)
        except LanguageCodeError:
            continue
        lines = {line.strip() for field in FIELDS for line in getattr(info.sample_text, field).splitlines()}
        lines = sorted(line for line in lines if len(line) >= MIN_CHARS)
        if not lines:
            continue
        records += [{"id": f"{gf_id}:{i}", "lang": key, "text": line, "split": "test"} for i, line in enumerate(lines)]
        seen_langs += 1
        if limit and seen_langs >= limit:
            break
    return records


def summary(report: dict, codes: dict[str, set[str]]) -> dict:
    """Per backend: languages covered (of the gold ones), accuracy / macro accuracy / macro-F1 on covered and all;
    and the stricter count of gold languages whose own ISO 639-3 code the backend has (no macrolanguage answer)
    with the macro accuracy on those."""
    out = {}
    for name, b in report["backends"].items():
        own = [lang for lang in b["coverage"]["covered"] if lang[:3] in codes[name]]
        recall = [b["per_lang"][lang]["recall"] for lang in own]
        out[name] = {"covers": b["coverage"]["langs"], "of": b["coverage"]["of"],
                     **{f"{part}_{m}": b[part][m] for part in ("covered", "all")
                        for m in ("accuracy", "macro_accuracy", "macro_f1")},
                     "covers_own_code": len(own),
                     "own_code_macro_accuracy": round(sum(recall) / len(recall), 4) if recall else None}  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the first 150 languages only")
    parser.add_argument("--langs", type=int, help="at most this many languages (default all; --quick 150)")
    parser.add_argument("--out", help="also write lid_eval.json/.md here")
    parser.add_argument("--vote-weights", default="", help="weights of the vote, e.g. heliport=3 (default all 1)")
    args = parser.parse_args()
    records = held_out(args.langs or (150 if args.quick else None))
    weights: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "held_out.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        weights = {k: float(v) for k, _, v in (w.partition("=") for w in args.vote_weights.split(",") if w)}
        cfg = LidEvalConfig(input=path, backends=BACKENDS, vote=list(BACKENDS), vote_weights=weights, out=args.out,
                            top_confusions=15)  # fmt: skip
        report = evaluate_lid(cfg)
    codes = {name: {key[:3] for key in get_backend(name).languages} for name in BACKENDS}
    codes["vote"] = set().union(*codes.values())
    figures = {"records": report["n"], "langs": len(report["langs"]), "vote_weights": weights,
               "backends": summary(report, codes)}  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
