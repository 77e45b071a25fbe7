"""`polytune lid eval`: several LID backends on the same labeled records, side by side.

Per language: precision, recall, F1, false-positive rate and whether the backend knows the language at all;
per backend: accuracy, macro-F1 over the gold languages, and the most confused (gold, predicted) pairs.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

from polytune.config import LidEvalConfig
from polytune.corpus.langid import LidBackend, get_backend
from polytune.errors import InputError
from polytune.io import atomic_path, iter_records, manifest, write_json
from polytune.langcodes import normalize

BATCH = 1000


def backend_from_spec(spec: str) -> LidBackend:
    """A backend from "langid", "py3langid" or "fasttext:MODEL". Example: backend_from_spec("fasttext:lid.bin")."""
    name, _, model = spec.partition(":")
    return get_backend(name, model or None)


def labeled_texts(cfg: LidEvalConfig) -> tuple[list[str], list[str]]:
    """(texts, gold keys) of the chosen split and languages; a seeded sample of max_per_lang per language."""
    by_lang: dict[str, list[str]] = defaultdict(list)
    for record in iter_records(cfg.input):
        if cfg.split != "all" and record.get("split", cfg.split) != cfg.split:
            continue
        if not record.get("lang"):
            raise InputError(f"{cfg.input}: record {record.get('id')!r} has no 'lang'; LID evaluation needs labels")
        lang = normalize(str(record["lang"]))
        if not cfg.langs or lang in cfg.langs:
            by_lang[lang].append(" ".join(str(record["text"]).split()))
    if not by_lang:
        raise InputError(f"{cfg.input}: no labeled records in split {cfg.split!r} for languages {cfg.langs or 'any'}")
    texts, gold = [], []
    for lang, items in sorted(by_lang.items()):
        if cfg.max_per_lang and len(items) > cfg.max_per_lang:
            rng = random.Random(f"{cfg.seed}:{lang}")
            items = [items[i] for i in sorted(rng.sample(range(len(items)), cfg.max_per_lang))]
        texts += items
        gold += [lang] * len(items)
    return texts, gold


def score(gold: list[str], predicted: list[str | None], known: frozenset[str], top: int = 10) -> dict[str, Any]:
    """Per-language P/R/F1/FPR, accuracy, macro-F1 over gold languages and the most confused pairs.

    Example: score(["a", "b"], ["a", "a"], frozenset("ab"))["per_lang"]["a"] -> precision 0.5, recall 1.0, ...
    """
    pairs = Counter(zip(gold, predicted, strict=True))
    total, per_lang = len(gold), {}
    for lang in sorted(set(gold)):
        tp = pairs[(lang, lang)]
        support = sum(n for (g, _), n in pairs.items() if g == lang)
        predicted_n = sum(n for (_, p), n in pairs.items() if p == lang)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        fpr = (predicted_n - tp) / (total - support) if total > support else 0.0
        per_lang[lang] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                          "fpr": round(fpr, 5), "support": support, "known": lang in known}  # fmt: skip
    confused = sorted(((n, g, str(p)) for (g, p), n in pairs.items() if g != p), key=lambda t: (-t[0], t[1], t[2]))
    return {
        "accuracy": round(sum(pairs[(g, g)] for g in per_lang) / total, 4),
        "macro_f1": round(sum(m["f1"] for m in per_lang.values()) / len(per_lang), 4),
        "per_lang": per_lang,
        "confused": [{"gold": g, "predicted": p, "n": n} for n, g, p in confused[:top]],
    }


def markdown(report: dict[str, Any]) -> str:
    """The side-by-side table (F1 per language and backend; '-' where the backend lacks the language)."""
    names = list(report["backends"])
    lines = ["| lang | " + " | ".join(f"{n} P / R / F1 / FPR" for n in names) + " |",
             "| --- | " + " | ".join("---" for _ in names) + " |"]  # fmt: skip
    for lang in report["langs"]:
        cells = []
        for name in names:
            m = report["backends"][name]["per_lang"][lang]
            cell = f"{m['precision']:.3f} / {m['recall']:.3f} / {m['f1']:.3f} / {m['fpr']:.4f}"
            cells.append(cell if m["known"] else f"- ({cell})")
        lines.append(f"| {lang} | " + " | ".join(cells) + " |")
    macro = [f"**{report['backends'][name]['macro_f1']:.4f}**" for name in names]
    lines.append("| **macro-F1** | " + " | ".join(macro) + " |")
    lines.append("")
    for name in names:
        pairs = ", ".join(f"{c['gold']}→{c['predicted']} {c['n']}" for c in report["backends"][name]["confused"])
        lines.append(f"- {name} most confused: {pairs or 'none'}")
    return "\n".join(lines) + "\n"


def evaluate_lid(cfg: LidEvalConfig) -> dict[str, Any]:
    """Score every backend of `cfg` on the same labeled records; write lid_eval.json/.md when `cfg.out` is set.

    Args:
        cfg: the LID evaluation config.

    Returns:
        {"n", "langs", "backends": {name: {accuracy, macro_f1, per_lang, confused, spec}}}.

    Raises:
        InputError: no labeled records, or a record without `lang`.
        ModelError: a fastText model is missing or corrupt.
    """
    backends = {name: backend_from_spec(spec) for name, spec in cfg.backends.items()}
    texts, gold = labeled_texts(cfg)
    report: dict[str, Any] = {"n": len(texts), "langs": sorted(set(gold)), "backends": {}}
    for name, backend in backends.items():
        predicted = []
        for start in range(0, len(texts), BATCH):
            predicted += [key for key, _ in backend.predict(texts[start : start + BATCH])]
        result = score(gold, predicted, backend.languages, cfg.top_confusions)
        report["backends"][name] = {"spec": cfg.backends[name], **result}
    if cfg.out is not None:
        with atomic_path(cfg.out) as tmp:
            tmp.mkdir(parents=True)
            write_json(tmp / "lid_eval.json", report)
            (tmp / "lid_eval.md").write_text(markdown(report), encoding="utf-8")
            counts = {n: b["macro_f1"] for n, b in report["backends"].items()}
            write_json(tmp / "manifest.json", manifest("lid_eval", cfg, [cfg.input], counts))
    return report
