"""Vocabulary extension: learn SentencePiece pieces on target text and append the best ones to the base MODEL vocab.

Steps: the training text is normalized and pre-tokenized with the base tokenizer's own normalizer and
pre-tokenizer (so pieces match what the model sees); SentencePiece is trained on those words; each piece occurrence
in the segmentation of the training words becomes a family entry (WordPiece: word-initial "abc", continuation
"##abc"); entries already in the vocab are dropped; the rest are ranked by tokens saved and the top `add` are
appended after the base ids (base ids never move). New entries are real model vocabulary, never AddedTokens.

Tokens saved by an entry = its frequency x (base cost - 1), where the base cost is how many base tokens the piece
takes in its position, an [UNK] counting as one token per character it hides (the cost of spelling it out).
Characters the base cannot tokenize at all (a new script) are added first, as single-character entries, since
WordPiece turns a whole word into [UNK] when any character of it is missing.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polytune.config import TokenizerExtendConfig
from polytune.errors import ConfigError, InputError
from polytune.io import atomic_path, manifest, write_json
from polytune.tokenizer.analyze import load_tokenizer, tokenizer_file
from polytune.tokenizer.train import select_records, train_sentencepiece

logger = logging.getLogger(__name__)

ENGLISH = "eng_Latn"
MAX_ENGLISH_RECORDS = 2000
SIDE_FILES = ("tokenizer_config.json", "special_tokens_map.json")


class WordPieceFamily:
    """Extension hooks of the WordPiece family (BERT): entry names, base tokenization, vocab append."""

    name = "wordpiece"

    def __init__(self, model: dict[str, Any]) -> None:
        self.model = model
        self.vocab: dict[str, int] = model["vocab"]
        self.prefix = model.get("continuing_subword_prefix") or "##"
        self.unk = self.vocab.get(model.get("unk_token") or "[UNK]")
        self.max_chars = model.get("max_input_chars_per_word") or 100

    def entry(self, surface: str, initial: bool) -> str:
        """The vocab entry of a piece. Example: entry("abc", False) -> "##abc"."""
        return surface if initial else self.prefix + surface

    def base_ids(self, surface: str, initial: bool) -> list[int]:
        """How the base tokenizes `surface` as a word start (initial) or as the rest of a word (continuation).

        WordPiece's own greedy longest-match-first, started in the given position: a continuation uses only
        "##" entries, exactly as WordPiece does after an earlier piece of the same word. Like WordPiece, a piece
        that cannot be fully matched is one [UNK].
        """
        if len(surface) > self.max_chars:
            return [self.unk]
        ids, start = [], 0
        while start < len(surface):
            for end in range(len(surface), start, -1):
                token = surface[start:end] if initial and start == 0 else self.prefix + surface[start:end]
                if token in self.vocab:
                    ids.append(self.vocab[token])
                    start = end
                    break
            else:
                return [self.unk]
        return ids

    def append(self, tokens: list[str], start: int) -> dict[str, Any]:
        """A copy of the model JSON with `tokens` appended as ids start, start+1, ..."""
        vocab = dict(self.vocab)
        vocab.update({token: start + i for i, token in enumerate(tokens)})
        return {**self.model, "vocab": vocab}


# tokenizer.json model type -> family; Unigram and BPE extension come in a later release.
FAMILIES: dict[str, type] = {"WordPiece": WordPieceFamily}
PLANNED = {"Unigram": "unigram", "BPE": "bpe"}


def get_family(model: dict[str, Any], base: str) -> WordPieceFamily:
    """The family hooks of a tokenizer.json `model` section.

    Raises:
        ConfigError: the family is not supported yet (the message names it and the supported ones).
    """
    kind = model.get("type", "?")
    if kind not in FAMILIES:
        name = PLANNED.get(kind, str(kind).lower())
        raise ConfigError(
            f"base tokenizer {base} is a {name} ({kind}) model; vocabulary extension supports only "
            f"{', '.join(f.name for f in FAMILIES.values())} so far: use a WordPiece (BERT-style) base"
        )
    return FAMILIES[kind](model)


@dataclass
class _Scan:
    """Word counts of one pass over the input: base pre-tokens per language, whitespace words, English records."""

    words: dict[str, Counter] = field(default_factory=dict)
    spaces: Counter = field(default_factory=Counter)
    records: Counter = field(default_factory=Counter)
    english: list[list[str]] = field(default_factory=list)

    def total(self) -> Counter:
        return sum(self.words.values(), Counter())


def _pretokenize(base, text: str) -> list[str]:
    """The base tokenizer's words of `text`: its normalizer, then its pre-tokenizer (whitespace if none)."""
    text = base.normalizer.normalize_str(text) if base.normalizer else text
    if base.pre_tokenizer is None:
        return text.split()
    return [word for word, _ in base.pre_tokenizer.pre_tokenize_str(text)]


def _training(cfg: TokenizerExtendConfig, record: dict[str, Any]) -> bool:
    return not cfg.langs or record.get("lang") in cfg.langs


def _scan(cfg: TokenizerExtendConfig, base) -> _Scan:
    scan = _Scan()
    for record in select_records(cfg.input, (), cfg.split):
        lang, text = record.get("lang") or "und", str(record["text"])
        words = None
        if _training(cfg, record):
            words = _pretokenize(base, text)
            scan.words.setdefault(lang, Counter()).update(words)
            scan.spaces[lang] += len(text.split())
            scan.records[lang] += 1
        if lang == ENGLISH and len(scan.english) < MAX_ENGLISH_RECORDS:
            scan.english.append(words if words is not None else _pretokenize(base, text))
    missing = [lang for lang in cfg.langs if not scan.spaces[lang]]
    if missing or not sum(scan.spaces.values()):
        which = f"{', '.join(missing or cfg.langs) or 'any language'}, split {cfg.split}"
        raise InputError(f"no text to learn pieces from in {cfg.input} ({which}); check --langs and --split")
    return scan


def _occurrences(processor, words: Counter) -> Counter:
    """(surface, initial) -> frequency, over the SentencePiece segmentation of every distinct word."""
    occ: Counter = Counter()
    distinct = sorted(words)
    for word, pieces in zip(distinct, processor.encode(distinct, out_type=str), strict=True):
        initial = True
        for piece in pieces:
            surface = piece[1:] if initial and piece.startswith("\u2581") else piece
            if not surface:
                continue  # a lone "▁": the next piece starts the word
            if processor.piece_to_id(piece) != processor.unk_id():
                occ[(surface, initial)] += words[word]
            initial = False
    return occ


def _fallbacks(family: WordPieceFamily, words: Counter, coverage: float) -> list[tuple[str, bool, int]]:
    """Single characters (within `coverage` of the character mass) the base can only read as [UNK], both forms."""
    chars: Counter = Counter()
    for word, freq in words.items():
        if not word:
            continue
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
    # Both positions, even one not seen in training: held-out text may start (or continue) a word with it.
    found = [(c, ini, chars[(c, ini)]) for c in kept for ini in (True, False)]
    found = [item for item in found if family.base_ids(item[0], item[1]) == [family.unk]]
    return sorted(found, key=lambda x: (-x[2], family.entry(x[0], x[1])))


def _rank(family: WordPieceFamily, occ: Counter, words: Counter, cfg: TokenizerExtendConfig) -> list[dict[str, Any]]:
    """The entries to add, best first: missing characters, then pieces by tokens saved (ties: frequency, name)."""
    chosen, taken = [], set()
    for surface, initial, _ in _fallbacks(family, words, cfg.character_coverage):
        token = family.entry(surface, initial)
        chosen.append({"token": token, "piece": surface, "base_ids": [family.unk], "saved": 0})
        taken.add(token)
    if len(chosen) > cfg.add:
        logger.warning("%d characters are unknown to the base but add=%d: raise add", len(chosen), cfg.add)
    scored = []
    for (surface, initial), freq in occ.items():
        token = family.entry(surface, initial)
        if token in family.vocab or token in taken:
            continue
        ids = family.base_ids(surface, initial)
        cost = len(surface) if ids == [family.unk] else len(ids)
        if cost > 1:
            scored.append((-freq * (cost - 1), -freq, token, surface, ids))
    for neg_saved, _, token, surface, ids in sorted(scored):
        chosen.append({"token": token, "piece": surface, "base_ids": ids, "saved": -neg_saved})
    return chosen[: cfg.add]


def _tokenize(model, words: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """word -> its ids under a tokenizers model (the model runs per pre-token, so this is exact)."""
    return {word: tuple(t.id for t in model.tokenize(word)) for word in words}


def _measure(scan: _Scan, base, new) -> dict[str, Any]:
    """Fertility (tokens per whitespace word) and UNK rate per language before/after; English words changed."""
    every = scan.total() + Counter(w for words in scan.english for w in words)
    before, after = _tokenize(base.model, every), _tokenize(new.model, every)
    unk = base.model.token_to_id(base.model.unk_token)
    fertility, unk_rate = {}, {}
    langs = {**{lang: scan.words[lang] for lang in sorted(scan.words)}, "all": scan.total()}
    for lang, words in langs.items():
        spaces = scan.spaces[lang] if lang != "all" else sum(scan.spaces.values())
        for name, table in (("before", before), ("after", after)):
            tokens = sum(freq * len(table[w]) for w, freq in words.items())
            unks = sum(freq * table[w].count(unk) for w, freq in words.items())
            fertility.setdefault(lang, {})[name] = round(tokens / max(spaces, 1), 6)
            unk_rate.setdefault(lang, {})[name] = round(unks / max(tokens, 1), 6)
    english = None
    if scan.english:
        changed = {w for w in every if before[w] != after[w]}
        n_words = sum(len(words) for words in scan.english)
        english = {
            "records": len(scan.english),
            "records_changed": round(sum(1 for ws in scan.english if changed.intersection(ws)) / len(scan.english), 6),
            "words_changed": round(sum(1 for ws in scan.english for w in ws if w in changed) / max(n_words, 1), 6),
        }
    return {"fertility": fertility, "unk_rate": unk_rate, "english_changed": english}


def _sentences(cfg: TokenizerExtendConfig, base):
    """The training text as the base sees it: normalized, pre-tokenized, words joined by spaces (second pass)."""
    for record in select_records(cfg.input, cfg.langs, cfg.split):
        yield " ".join(_pretokenize(base, str(record["text"])))


def extend_tokenizer(cfg: TokenizerExtendConfig) -> dict[str, Any]:
    """Extend the base tokenizer's model vocabulary with pieces learned on the target text; write the folder.

    The output folder (replaced atomically) holds tokenizer.json (+ the base's tokenizer_config.json,
    special_tokens_map.json and a regenerated vocab.txt when the base had them), so AutoTokenizer loads it;
    extension.json (see the module docstring and the shared contract), spm.model and manifest.json.

    Args:
        cfg: base, input, languages, split, how many pieces to add, SentencePiece settings and seed.

    Returns:
        A summary: out, added, base_vocab_size, vocab_size, records, fertility and unk_rate per language
        ({"before", "after"}; "all" over every training language) and english_changed (None without eng_Latn).

    Raises:
        ModelError: the base tokenizer is missing or corrupt.
        ConfigError: the base's tokenizer family is not supported yet, or a SentencePiece setting is invalid.
        InputError: the input is missing, unreadable or holds no text of the requested languages and split.
    """
    import sentencepiece as spm
    from tokenizers import Tokenizer

    base = load_tokenizer(cfg.base)
    source = tokenizer_file(cfg.base)
    data = json.loads(source.read_text(encoding="utf-8"))
    family = get_family(data["model"], str(cfg.base))
    scan = _scan(cfg, base)
    with atomic_path(cfg.out) as tmp:
        tmp = Path(tmp)
        spm_path = train_sentencepiece(
            _sentences(cfg, base), tmp, cfg.vocab_size, cfg.model_type, cfg.character_coverage, cfg.seed,
            normalization_rule_name="identity",  # the base normalizer already ran: pieces must match its output
        )
        processor = spm.SentencePieceProcessor(model_file=str(spm_path))
        words = scan.total()
        chosen = _rank(family, _occurrences(processor, words), words, cfg)
        start = base.get_vocab_size(with_added_tokens=True)
        new = Tokenizer.from_str(json.dumps({**data, "model": family.append([c["token"] for c in chosen], start)}))
        extension = {
            "base": str(cfg.base),
            "base_vocab_size": start,
            "family": family.name,
            "vocab_size": new.get_vocab_size(with_added_tokens=True),
            "added": [{"id": start + i, **entry} for i, entry in enumerate(chosen)],
            **_measure(scan, base, new),
            "spm": {"model": spm_path.name, "model_type": cfg.model_type, "pieces": processor.get_piece_size()},
            "records": dict(sorted(scan.records.items())),
        }
        _write(tmp, source, new, extension, cfg)
    summary = {key: extension[key] for key in ("base_vocab_size", "vocab_size", "fertility", "unk_rate")}
    records = sum(scan.records.values())
    logger.info("added %d pieces to %s: vocab %d -> %d", len(chosen), cfg.out, start, extension["vocab_size"])
    return {"out": str(cfg.out), "added": len(chosen), "records": records, **summary,
            "english_changed": extension["english_changed"]}


def _write(tmp: Path, source: Path, new, extension: dict[str, Any], cfg: TokenizerExtendConfig) -> None:
    new.save(str(tmp / "tokenizer.json"), pretty=True)
    for name in SIDE_FILES:
        if (source.parent / name).is_file():
            shutil.copyfile(source.parent / name, tmp / name)
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
    info = manifest("tokenizer.extend", cfg, [cfg.input, source], counts, family=extension["family"])
    write_json(tmp / "manifest.json", info)
