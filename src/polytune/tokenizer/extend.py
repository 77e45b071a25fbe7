"""Vocabulary extension: learn SentencePiece pieces on target text and append the best ones to the base MODEL vocab.

Steps: the training text is normalized and pre-tokenized with the base tokenizer's own normalizer and
pre-tokenizer and split into the base's words (so pieces match what the model sees); SentencePiece is trained on
those words; each piece occurrence in the segmentation of the training words becomes an entry of the base's
family (families/: WordPiece "abc"/"##abc", Unigram "▁abc"/"abc" with a score, BPE "Ġabc"/"abc" plus merges);
entries already in the vocab are dropped; the rest are ranked by tokens saved and the top `add` are appended
after the base ids (base ids never move). New entries are real model vocabulary, never AddedTokens, so the
model's own algorithm decides where they apply: nothing is matched inside unrelated words.

Tokens saved by an entry = its frequency x (base cost - 1), where the base cost is how many base tokens the piece
takes in its position, an unknown token counting as one token per character it hides (the cost of spelling it
out). Characters the base cannot tokenize at all (a new script) are added first, as single-character entries.
Jargon terms (`jargon`: one per line) come before everything else: each word of a term becomes one entry.
Entries that change how the extended tokenizer splits guarded words are dropped and replaced by the next best
ones (up to PROTECT_ROUNDS rounds); jargon stays. Guarded: the base vocabulary's own word-initial Latin words
with frequent English endings (Family.guard_words: no English needed in the input), the English words of the
input's eng_Latn records when it has any, and with `guard_names` the proper names of the input (capitalized
words not starting a sentence: "Ahab", "Samaria" are shared with English text; off by default because
frequent target names such as "Mulungu" then block many useful word-start pieces).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from itertools import islice
from pathlib import Path
from typing import Any

from polytune.config import TokenizerExtendConfig
from polytune.errors import InputError
from polytune.io import atomic_path, manifest, write_json
from polytune.resources import resolved
from polytune.tokenizer.analyze import load_tokenizer, tokenizer_file
from polytune.tokenizer.families import Family, get_family
from polytune.tokenizer.measure import ENGLISH, MAX_ENGLISH_RECORDS, Scan, english_culprits, measure, pretokenize
from polytune.tokenizer.normalizers import replace_normalizer
from polytune.tokenizer.train import select_records, train_sentencepiece

logger = logging.getLogger(__name__)

SIDE_FILES = ("tokenizer_config.json", "special_tokens_map.json")
PROTECT_ROUNDS = 5  # rounds of dropping entries that change English words of the input (and refilling)
# Special token names -> transformers roles, for a base that ships tokenizer.json alone (the XLM-R asset does).
SPECIAL_ROLES = {
    "[CLS]": ("cls_token",), "[SEP]": ("sep_token",), "[PAD]": ("pad_token",), "[UNK]": ("unk_token",),
    "[MASK]": ("mask_token",), "<s>": ("bos_token", "cls_token"), "</s>": ("eos_token", "sep_token"),
    "<pad>": ("pad_token",), "<unk>": ("unk_token",), "<mask>": ("mask_token",),
}  # fmt: skip


def _scan(cfg: TokenizerExtendConfig, base, family: Family) -> Scan:
    scan = Scan()
    for record in select_records(cfg.input, (), cfg.split):
        lang, text = record.get("lang") or "und", str(record["text"])
        words = None
        if not cfg.langs or lang in cfg.langs:
            words = family.words(pretokenize(base, text))
            scan.words.setdefault(lang, Counter()).update(words)
            scan.spaces[lang] += len(text.split())
            scan.records[lang] += 1
            scan.names.update(_names(text))
        if lang == ENGLISH and len(scan.english) < MAX_ENGLISH_RECORDS:
            scan.english.append(words if words is not None else family.words(pretokenize(base, text)))
    if cfg.guard_input is not None:  # reference text (any language) whose words the new entries must not re-cut
        for record in islice(select_records(cfg.guard_input, (), cfg.split), MAX_ENGLISH_RECORDS):
            scan.english.append(family.words(pretokenize(base, str(record["text"]))))
    missing = [lang for lang in cfg.langs if not scan.spaces[lang]]
    if missing or not sum(scan.spaces.values()):
        which = f"{', '.join(missing or cfg.langs) or 'any language'}, split {cfg.split}"
        raise InputError(f"no text to learn pieces from in {cfg.input} ({which}); check --langs and --split")
    return scan


def _names(text: str) -> list[str]:
    """Capitalized words that do not start a sentence: proper names, shared with English ("Ahab", "Samaria")."""
    words = text.split()
    pairs = zip(words, words[1:], strict=False)
    return [w for prev, w in pairs if w[:1].isupper() and not prev.endswith((".", "!", "?", ":"))]


def _surfaces(family: Family, words: Counter) -> Counter:
    """Base words without their family marker, with frequencies: the text SentencePiece learns from."""
    surfaces: Counter = Counter()
    for word, freq in words.items():
        if surface := family.surface(word):
            surfaces[surface] += freq
    return surfaces


def _occurrences(processor, surfaces: Counter) -> Counter:
    """(surface, initial) -> frequency, over the SentencePiece segmentation of every distinct word."""
    occ: Counter = Counter()
    distinct = sorted(surfaces)
    for word, pieces in zip(distinct, processor.encode(distinct, out_type=str), strict=True):
        initial = True
        for piece in pieces:
            surface = piece[1:] if initial and piece.startswith("\u2581") else piece
            if not surface:
                continue  # a lone "▁": the next piece starts the word
            if processor.piece_to_id(piece) != processor.unk_id():
                occ[(surface, initial)] += surfaces[word]
            initial = False
    return occ


def _fallbacks(family: Family, surfaces: Counter, coverage: float) -> list[tuple[str, bool, int]]:
    """Single characters (within `coverage` of the character mass) the base can only read as unknown."""
    chars: Counter = Counter()
    for word, freq in surfaces.items():
        chars[(word[0], True)] += freq
        for char in word[1:]:
            chars[(char, False)] += freq
    mass: Counter = Counter()
    for (char, _), freq in chars.items():
        mass[char] += freq
    kept, seen, total = set(), 0, sum(mass.values())
    for char, freq in sorted(mass.items(), key=lambda kv: (-kv[1], kv[0])):
        if seen >= coverage * total:
            break
        kept.add(char)
        seen += freq
    # Every position the family needs, even one not seen in training: held-out text may use it.
    found = [(c, ini, mass[c] if len(family.fallback_positions) == 1 else chars[(c, ini)])
             for c in kept for ini in family.fallback_positions]  # fmt: skip
    found = [item for item in found if family.unknown(item[0], item[1])]
    return sorted(found, key=lambda x: (-x[2], family.entry(x[0], x[1])))


def _entry(family: Family, surface: str, initial: bool, saved: int, **extra: Any) -> dict[str, Any]:
    token = family.entry(surface, initial)
    return {"token": token, "piece": surface, "initial": initial, "base_ids": family.base_ids(surface, initial),
            "saved": saved, **extra}  # fmt: skip


def _jargon(family: Family, base, cfg: TokenizerExtendConfig, occ: Counter) -> list[dict[str, Any]]:
    """One word-initial entry per word of each jargon term the base splits, in file order."""
    if cfg.jargon is None:
        return []
    try:
        lines = Path(cfg.jargon).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"jargon list unreadable: {cfg.jargon} ({exc}); give a UTF-8 file, one term a line") from exc
    entries, seen = [], set()
    for term in (line.strip() for line in lines):
        if not term or term.startswith("#"):
            continue
        for word in family.words(pretokenize(base, term)):
            surface = family.surface(word)
            token = family.entry(surface, True)
            if surface and token not in family.vocab and token not in seen and family.cost(surface, True) > 1:
                seen.add(token)
                saved = occ[(surface, True)] * (family.cost(surface, True) - 1)
                entries.append(_entry(family, surface, True, saved, jargon=term))
    return entries


def _rank(family: Family, occ: Counter, surfaces: Counter, jargon: list[dict], cfg: TokenizerExtendConfig) -> list:
    """The entries to add, best first: jargon, missing characters, then pieces by tokens saved."""
    chosen, taken = list(jargon), {entry["token"] for entry in jargon}
    for surface, initial, _ in _fallbacks(family, surfaces, cfg.character_coverage):
        if family.entry(surface, initial) not in taken:
            chosen.append(_entry(family, surface, initial, 0))
            taken.add(chosen[-1]["token"])
    if len(chosen) > cfg.add:
        logger.warning("%d jargon words and unknown characters but add=%d: raise add", len(chosen), cfg.add)
    scored = []
    for (surface, initial), freq in occ.items():
        token = family.entry(surface, initial)
        if token in family.vocab or token in taken:
            continue
        cost = family.cost(surface, initial)
        if cost > 1:
            scored.append((-freq * (cost - 1), -freq, token, surface, initial))
    # Twice the budget: room to replace entries dropped because they change English words.
    for neg_saved, _, _, surface, initial in sorted(scored)[: max(2 * cfg.add - len(chosen), 0)]:
        chosen.append(_entry(family, surface, initial, -neg_saved))
    return chosen


def _sentences(cfg: TokenizerExtendConfig, base, family: Family):
    """The training text as the base sees it: normalized, pre-tokenized, words joined by spaces (second pass)."""
    for record in select_records(cfg.input, cfg.langs, cfg.split):
        yield " ".join(family.surface(w) for w in family.words(pretokenize(base, str(record["text"]))))


def _base(cfg: TokenizerExtendConfig) -> tuple[Any, dict[str, Any], Path, Family, list[str]]:
    """The base tokenizer (normalizer replaced on request), its JSON, file, family and what was replaced."""
    from tokenizers import Tokenizer

    source = tokenizer_file(cfg.base)
    base = load_tokenizer(cfg.base)
    data = json.loads(source.read_text(encoding="utf-8"))
    data, changes = replace_normalizer(data, cfg.normalizer)
    if changes:
        base = Tokenizer.from_str(json.dumps(data))
    return base, data, source, get_family(data, base.model, str(cfg.base)), changes


def extend_tokenizer(cfg: TokenizerExtendConfig) -> dict[str, Any]:
    """Extend the base tokenizer's model vocabulary with pieces learned on the target text; write the folder.

    The output folder (replaced atomically) holds tokenizer.json (+ the base's tokenizer_config.json,
    special_tokens_map.json and a regenerated vocab.txt when the base had them), so AutoTokenizer loads it;
    extension.json (new ids, pieces, how the base tokenized each, tokens saved, fertility before/after),
    spm.model and manifest.json.

    Args:
        cfg: base, input, languages, split, how many pieces to add, SentencePiece settings, jargon, seed.

    Returns:
        A summary: out, added, family, base_vocab_size, vocab_size, records, fertility and unk_rate per language
        ({"before", "after"}; "all" over every training language), english_changed (None without eng_Latn)
        and normalizer (what was replaced, empty when the base's is kept).

    Raises:
        ModelError: the base tokenizer is missing or corrupt.
        ConfigError: the base's tokenizer family is not supported, or a setting is invalid.
        InputError: the input or jargon list is missing, unreadable or holds no text of the languages and split.
    """
    import sentencepiece as spm
    from tokenizers import Tokenizer

    cfg = resolved(cfg)  # a zoo: or pkg: base becomes its folder (the manifest records the folder)
    base, data, source, family, changes = _base(cfg)
    scan = _scan(cfg, base, family)
    with atomic_path(cfg.out) as tmp:
        tmp = Path(tmp)
        spm_path = train_sentencepiece(
            _sentences(cfg, base, family), tmp, cfg.vocab_size, cfg.model_type, cfg.character_coverage, cfg.seed,
            normalization_rule_name="identity",  # the base normalizer already ran: pieces must match its output
            input_sentence_size=cfg.input_sentence_size,
        )
        processor = spm.SentencePieceProcessor(model_file=str(spm_path))
        surfaces = _surfaces(family, scan.total())
        occ = _occurrences(processor, surfaces)
        chosen = _rank(family, occ, surfaces, _jargon(family, base, cfg, occ), cfg)
        start = base.get_vocab_size(with_added_tokens=True)
        guarded, cache = {w for ws in scan.english for w in ws} | family.guard_words(), {}
        if cfg.guard_names:
            guarded.update(family.words(pretokenize(base, " ".join(sorted(scan.names)))))
        for _ in range(PROTECT_ROUNDS):
            model, added = family.append(chosen, start, cfg.add)
            new = Tokenizer.from_str(json.dumps({**data, "model": model}))
            culprits = english_culprits(guarded, base, new, start, cache, family.unk)
            chosen = [entry for entry in chosen if entry["token"] not in culprits or entry.get("jargon")]
            if not culprits:
                break
        extension = {
            "base": str(cfg.base),
            "base_vocab_size": start,
            "family": family.name,
            "vocab_size": new.get_vocab_size(with_added_tokens=True),
            "normalizer": changes,
            "added": [{"id": start + i, **entry} for i, entry in enumerate(added)],
            **measure(scan, base, new, family.unk),
            "spm": {"model": spm_path.name, "model_type": cfg.model_type, "pieces": processor.get_piece_size()},
            "records": dict(sorted(scan.records.items())),
        }
        _write(tmp, source, new, extension, cfg)
    summary = {key: extension[key] for key in ("family", "base_vocab_size", "vocab_size", "fertility", "unk_rate")}
    logger.info("added %d pieces to %s: vocab %d -> %d", len(added), cfg.out, start, extension["vocab_size"])
    return {"out": str(cfg.out), "added": len(added), "records": sum(scan.records.values()), **summary,
            "english_changed": extension["english_changed"], "normalizer": changes}  # fmt: skip


def _write(tmp: Path, source: Path, new, extension: dict[str, Any], cfg: TokenizerExtendConfig) -> None:
    new.save(str(tmp / "tokenizer.json"), pretty=True)
    for name in SIDE_FILES:
        if (source.parent / name).is_file():
            shutil.copyfile(source.parent / name, tmp / name)
    if not (source.parent / "tokenizer_config.json").is_file():
        write_json(tmp / "tokenizer_config.json", _tokenizer_config(new))
    vocab = new.get_vocab(with_added_tokens=True)
    if (source.parent / "vocab.txt").is_file():
        # A stale vocab.txt beside the extended tokenizer.json would let a slow loader see the old vocabulary.
        by_id = sorted(vocab.items(), key=lambda kv: kv[1])
        if [i for _, i in by_id] == list(range(len(by_id))):
            (tmp / "vocab.txt").write_text("".join(f"{token}\n" for token, _ in by_id), encoding="utf-8")
        else:
            logger.warning("vocabulary ids of %s have gaps: vocab.txt not written", source)
    write_json(tmp / "extension.json", extension)
    counts = {"added": len(extension["added"]), "vocab_size": extension["vocab_size"], **extension["records"]}
    inputs = [cfg.input, source, *(p for p in (cfg.jargon, cfg.guard_input) if p is not None)]
    write_json(tmp / "manifest.json", manifest("tokenizer.extend", cfg, inputs, counts, family=extension["family"]))


def _tokenizer_config(new) -> dict[str, Any]:
    """A tokenizer_config.json naming the special tokens, so AutoTokenizer knows its unk/pad/mask tokens."""
    config: dict[str, Any] = {"tokenizer_class": "PreTrainedTokenizerFast"}
    for token in new.get_added_tokens_decoder().values():
        for role in SPECIAL_ROLES.get(token.content, ()):
            config.setdefault(role, token.content)
    return config
