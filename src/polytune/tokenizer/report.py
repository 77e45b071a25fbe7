"""Analysis extras and the Markdown report: normalization change/loss, parity, jargon tokens per term.

Normalization change = share of (NFC) characters that the tokenizer's normalizer alters or drops; loss = the same
after case folding both sides, i.e. what is lost beyond case (accents stripped, characters mapped away). Parity =
tokens of a language / tokens of the reference language over the records both have (same ids: parallel verses).
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from typing import Any

from polytune.tokenizer.normalizers import describe_normalizer

MARKER = "\u2581"


def _changed(a: str, b: str) -> int:
    """Characters of `a` not kept in `b` (difflib alignment). Example: _changed("tiếng", "tieng") -> 1."""
    if a == b:
        return 0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return len(a) - sum(block.size for block in matcher.get_matching_blocks())


def normalization_stats(tokenizer, texts: list[str]) -> dict[str, float]:
    """normalization_changed and normalization_loss (see the module docstring) of a `tokenizers.Tokenizer`."""
    normalizer = tokenizer.normalizer
    chars = changed = lost = 0
    for text in texts:
        text = unicodedata.normalize("NFC", text)
        chars += len(text)
        if normalizer is None:
            continue
        # A "▁" the normalizer writes for spaces (Llama-2 style) is a space, not a change.
        out = unicodedata.normalize("NFC", normalizer.normalize_str(text)).replace(MARKER, " ")
        out = out[1:] if out.startswith(" ") and not text.startswith(" ") else out
        changed += _changed(text, out)
        lost += _changed(text.casefold(), out.casefold())
    share = (lambda n: n / chars) if chars else (lambda n: 0.0)
    return {"normalization_changed": share(changed), "normalization_loss": share(lost)}


def parity(tokenizer, rows: list[tuple[str, str]], ref: list[tuple[str, str]]) -> float | None:
    """Tokens of `rows` / tokens of `ref` over their common ids; None when they share none."""
    reference = dict(ref)
    common = [(text, reference[i]) for i, text in rows if i in reference]
    if not common:
        return None
    ours = sum(len(e.ids) for e in tokenizer.encode_batch([t for t, _ in common], add_special_tokens=False))
    theirs = sum(len(e.ids) for e in tokenizer.encode_batch([r for _, r in common], add_special_tokens=False))
    return ours / theirs if theirs else None


def jargon_stats(tokenizer, terms: list[str]) -> dict[str, Any]:
    """Tokens per jargon term: mean, share of single-token terms, and per term."""
    encodings = tokenizer.encode_batch(terms, add_special_tokens=False)
    per_term = {t: len(e.ids) for t, e in zip(terms, encodings, strict=True)}
    n = len(per_term)
    return {"terms": n, "tokens_per_term": sum(per_term.values()) / n if n else 0.0,
            "single_token": sum(1 for v in per_term.values() if v == 1) / n if n else 0.0, "per_term": per_term}


def describe(tokenizer) -> dict[str, Any]:
    """The model type, the normalizer's effects in words, and the pre-tokenizer type of a tokenizer."""
    data = json.loads(tokenizer.to_str())
    pre = data.get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [p.get("type") for p in parts]
    return {"model": data["model"]["type"], "normalizer": describe_normalizer(data),
            "pre_tokenizer": [k for k in kinds if k] or ["none"]}  # fmt: skip


def _table(results: dict[str, dict[str, dict]], names: list[str], title: str, cell) -> list[str]:
    lines = ["", f"### {title}", "", "| language | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for lang, row in results.items():
        lines.append(f"| {lang} | " + " | ".join(cell(row[n]) for n in names) + " |")
    return lines


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def markdown_report(results: dict[str, dict[str, dict]], described: dict[str, dict], jargon: dict | None,
                    reference: str | None, extension: dict | None = None) -> str:  # fmt: skip
    """The Markdown report: fertility / UNK first, then the other measures, normalizer effects and jargon."""
    names = list(described)
    fertility = lambda s: f"{s['fertility']:.2f} / {_pct(s['unk_rate'])}"  # noqa: E731
    first = _table(results, names, "Tokens per word / UNK rate", fertility)
    lines = first[1:]  # no blank line before the first table
    lines += _table(results, names, "Characters per token", lambda s: f"{s['chars_per_token']:.2f}")
    lines += _table(results, names, "Words split into several tokens", lambda s: _pct(s["continued_word_ratio"]))
    lines += _table(results, names, "Characters changed by the normalizer (beyond case)",
                    lambda s: f"{_pct(s['normalization_changed'])} ({_pct(s['normalization_loss'])})")  # fmt: skip
    if reference and any(s["parity"] is not None for row in results.values() for s in row.values()):
        lines += _table(results, names, f"Parity: tokens relative to {reference} on parallel records",
                        lambda s: "-" if s["parity"] is None else f"{s['parity']:.2f}")  # fmt: skip
    lines += ["", "### Normalizer and pre-tokenizer", ""]
    for name, info in described.items():
        worst = max(results, key=lambda lang: results[lang][name]["normalization_loss"])
        loss = results[worst][name]["normalization_loss"]
        effect = f"; {_pct(loss)} of {worst} characters change beyond case" if loss > 0 else ""
        lines.append(f"- {name} ({info['model']}): {', '.join(info['normalizer'])}; pre-tokenizer "
                     f"{', '.join(info['pre_tokenizer'])}{effect}")  # fmt: skip
    for name, check in (extension or {}).items():
        langs = ", ".join(f"{lang} {_pct(share)}" for lang, share in check["retokenized"].items())
        lines += ["", f"### Extension {name} against {check['base']}", "",
                  f"- unreachable pieces: {check['unreachable']} of {check['added']} added",
                  f"- records re-tokenized: {langs}"]  # fmt: skip
    if jargon:
        lines += ["", "### Jargon: tokens per term", "", "| tokenizer | terms | tokens/term | single token |",
                  "| --- | --- | --- | --- |"]  # fmt: skip
        for name, j in jargon.items():
            lines.append(f"| {name} | {j['terms']} | {j['tokens_per_term']:.2f} | {_pct(j['single_token'])} |")
    return "\n".join(lines) + "\n"
