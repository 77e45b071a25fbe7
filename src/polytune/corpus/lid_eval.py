"""`polytune lid eval`: several LID backends (and their `vote`) on the same labeled records, side by side.

Per language: precision, recall, F1, false-positive rate and whether the backend knows the language at all;
per backend: the gold languages it covers, accuracy and macro-F1 on those (`covered`), the same over every gold
language (`all`), and the most confused (gold, predicted) pairs. Coverage and accuracy are never one number.
A prediction counts for the gold language it matches (polytune.langcodes: py3langid's `sw` for gold swh_Latn).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

from polytune.config import LidEvalConfig
from polytune.corpus.langid import LidBackend, backend_from_spec
from polytune.corpus.lid_vote import VoteBackend
from polytune.errors import InputError
from polytune.io import atomic_path, iter_records, manifest, write_json
from polytune.langcodes import match, normalize

__all__ = ["align", "backend_from_spec", "evaluate_lid", "labeled_texts", "markdown", "score"]
BATCH = 1000
VOTE = "vote"


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


def align(gold: list[str], predicted: list[str | None]) -> list[str | None]:
    """Each prediction as the gold language it matches: that record's own first, else the first gold language.

    Example: align(["swh_Latn", "eng_Latn"], ["swa_Latn", "swa_Latn"]) -> ["swh_Latn", "swh_Latn"]
    """
    langs = sorted(set(gold))
    pairs = zip(gold, predicted, strict=True)
    return [g if p is not None and match(p, [g]) else match(p, langs) or p for g, p in pairs]


def _accuracy_f1(gold: list[str], predicted: list[str | None], per_lang: dict[str, Any], langs: list[str]) -> dict:
    """Accuracy on the records of `langs`, macro accuracy (mean per-language recall) and macro-F1 over `langs`
    (no language: None, not a number)."""
    wanted = set(langs)
    pairs = [(g, p) for g, p in zip(gold, predicted, strict=True) if g in wanted]
    if not pairs:
        return {"accuracy": None, "macro_accuracy": None, "macro_f1": None, "n": 0}
    return {"accuracy": round(sum(g == p for g, p in pairs) / len(pairs), 4),
            "macro_accuracy": round(sum(per_lang[lang]["recall"] for lang in langs) / len(langs), 4),
            "macro_f1": round(sum(per_lang[lang]["f1"] for lang in langs) / len(langs), 4),
            "n": len(pairs)}  # fmt: skip


def score(gold: list[str], predicted: list[str | None], known: frozenset[str], top: int = 10) -> dict[str, Any]:
    """Per-language P/R/F1/FPR; accuracy and macro-F1 over all gold languages and over the `known` (covered) ones;
    coverage; the most confused pairs.

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
    covered = [lang for lang in per_lang if lang in known]
    return {
        "accuracy": round(sum(pairs[(g, g)] for g in per_lang) / total, 4),
        "macro_f1": round(sum(m["f1"] for m in per_lang.values()) / len(per_lang), 4),
        "coverage": {"langs": len(covered), "of": len(per_lang), "covered": covered,
                     "missing": [lang for lang in per_lang if lang not in known]},  # fmt: skip
        "covered": _accuracy_f1(gold, predicted, per_lang, covered),
        "all": _accuracy_f1(gold, predicted, per_lang, list(per_lang)),
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
    lines += ["", "| backend | covers | accuracy (covered) | macro-F1 (covered) | accuracy (all) | macro-F1 (all) |",
              "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for name in names:
        b = report["backends"][name]
        cells = [_num(b[part][metric]) for part in ("covered", "all") for metric in ("accuracy", "macro_f1")]
        lines.append(f"| {name} | {b['coverage']['langs']} / {b['coverage']['of']} | " + " | ".join(cells) + " |")
    lines.append("")
    for name in names:
        pairs = ", ".join(f"{c['gold']}→{c['predicted']} {c['n']}" for c in report["backends"][name]["confused"])
        lines.append(f"- {name} most confused: {pairs or 'none'}")
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _backends(cfg: LidEvalConfig) -> dict[str, LidBackend]:
    """The configured backends, plus `vote` of cfg.vote (the same loaded members) when asked for."""
    backends = {name: backend_from_spec(spec) for name, spec in cfg.backends.items()}
    if cfg.vote:
        weights = cfg.vote_weights or {}
        backends[VOTE] = VoteBackend([(n, backends[n], float(weights.get(n, 1.0))) for n in cfg.vote])
    return backends


def evaluate_lid(cfg: LidEvalConfig) -> dict[str, Any]:
    """Score every backend of `cfg` on the same labeled records; write lid_eval.json/.md when `cfg.out` is set.

    Args:
        cfg: the LID evaluation config.

    Returns:
        {"n", "langs", "backends": {name: {spec, coverage, covered, all, accuracy, macro_f1, per_lang,
        confused}}}: `covered`/`all` hold accuracy and macro-F1 on the covered / all gold languages.

    Raises:
        InputError: no labeled records, or a record without `lang`.
        ModelError: a fastText model is missing or corrupt.
    """
    backends = _backends(cfg)
    texts, gold = labeled_texts(cfg)
    langs = sorted(set(gold))
    report: dict[str, Any] = {"n": len(texts), "langs": langs, "backends": {}}
    for name, backend in backends.items():
        predicted = []
        for start in range(0, len(texts), BATCH):
            predicted += [key for key, _ in backend.predict(texts[start : start + BATCH])]
        known = frozenset(lang for lang in langs if backend.knows(lang))
        result = score(gold, align(gold, predicted), known, cfg.top_confusions)
        spec = cfg.backends.get(name) or "vote:" + ",".join(cfg.vote)
        report["backends"][name] = {"spec": spec, **result}
    if cfg.out is not None:
        with atomic_path(cfg.out) as tmp:
            tmp.mkdir(parents=True)
            write_json(tmp / "lid_eval.json", report)
            (tmp / "lid_eval.md").write_text(markdown(report), encoding="utf-8")
            counts = {n: b["macro_f1"] for n, b in report["backends"].items()}
            write_json(tmp / "manifest.json", manifest("lid_eval", cfg, [cfg.input], counts))
    return report
