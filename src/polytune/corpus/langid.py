"""Language identification: a registry of backends with one `predict(texts)` API, and fastText LID training.

Every backend returns `(key, probability)` per text, the key normalized to `xxx_Scrp` (None when the model's
label is not a language, e.g. GlotLID's `__label__zxx_Zxxx`), so filters never see backend-specific labels.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from polytune import registry
from polytune.config import LidTrainConfig
from polytune.errors import InputError, LanguageCodeError, ModelError, require_module
from polytune.io import atomic_path, iter_records, manifest, write_json
from polytune.langcodes import covers, normalize, same_language
from polytune.logs import SUMMARY

log = logging.getLogger(__name__)

Prediction = tuple[str | None, float]


@functools.lru_cache(maxsize=1024)
def label_key(label: str) -> str | None:
    """Normalized key of a model label, or None. Example: label_key("__label__ny") -> "nya_Latn"."""
    try:
        return normalize(label)
    except LanguageCodeError:
        return None


class LidBackend(ABC):
    """Base of LID backends: owns the public `predict`/`predict_topk`; a subclass fills `_predict_topk` (raw labels)
    and `_labels` (every raw label it can output)."""

    name = "base"
    # A backend whose runner-ups cost extra (heliport) lists them only for texts whose best probability is below
    # this; the filter sets it to what its mixed-language flag needs. Other backends always list k.
    runner_ups_below = 1.0

    def predict(self, texts: list[str]) -> list[Prediction]:
        """Top-1 language and its probability for each text.

        Example: predict(["For God so loved the world"]) -> [("eng_Latn", 0.99...)]

        Args:
            texts: the texts, any length (newlines are fine).

        Returns:
            One (key or None, probability in [0, 1]) per text.
        """
        return [top[0] if top else (None, 0.0) for top in self.predict_topk(texts, 1)]

    def predict_topk(self, texts: list[str], k: int = 3, decimals: int | None = None) -> list[list[Prediction]]:
        """The k best (key or None, probability) per text, best first; keys normalized to `xxx_Scrp`.

        Example: predict_topk(["Moni, muli bwanji?"], 2, decimals=4) -> [[("nya_Latn", 0.9712), ("swh_Latn", 0.01)]]

        Args:
            texts: the texts, any length (newlines are fine).
            k: how many labels per text.
            decimals: round probabilities to this many decimals (what a filter writes), or keep them exact.
        """
        if not texts:
            return []
        raw = self._predict_topk(_one_line(texts), k)
        rows = [[(label_key(label), min(1.0, max(0.0, float(prob)))) for label, prob in row] for row in raw]
        if decimals is None:
            return rows
        return [[(key, round(prob, decimals)) for key, prob in row] for row in rows]

    @functools.cached_property
    def languages(self) -> frozenset[str]:
        """Every language key this backend can predict."""
        return frozenset(key for key in map(label_key, self._labels()) if key)

    def knows(self, key: str) -> bool:
        """True when this backend can predict `key` or a language that matches it (macrolanguage, script alias).

        Example: Py3LangidBackend().knows("swh_Latn") -> True (it predicts `sw`, the macrolanguage)
        """
        known = self.__dict__.setdefault("_known", {})
        if key not in known:
            known[key] = covers(self.languages, key)
        return known[key]

    @abstractmethod
    def _predict_topk(self, texts: list[str], k: int) -> list[list[tuple[str, float]]]:
        """The k best (raw model label, probability) per one-line text, best first."""

    @abstractmethod
    def _labels(self) -> list[str]:
        """Every raw label the model can output."""


def _one_line(texts: list[str]) -> list[str]:
    """fastText refuses line breaks; the other backends do not care. Example: ["a\nb"] -> ["a b"]."""
    return [t.replace("\n", " ") if "\n" in t else t for t in texts]


class _LangidLike(LidBackend):
    """langid and py3langid share one API: classify for top-1, rank for every language."""

    _identifier: Any

    def _predict_topk(self, texts: list[str], k: int) -> list[list[tuple[str, float]]]:
        if k == 1:
            return [[self._identifier.classify(text)] for text in texts]
        return [self._identifier.rank(text)[:k] for text in texts]

    def _labels(self) -> list[str]:
        return list(self._identifier.nb_classes)


class LangidBackend(_LangidLike):
    """langid.py (97 languages, model embedded in the package) with normalized probabilities."""

    name = "langid"

    def __init__(self, model: str | None = None) -> None:
        self._identifier = _langid_identifier()


class Py3LangidBackend(_LangidLike):
    """py3langid (142 languages, more of Africa: ha, ig, yo, so, rw, sn, zu, xh) with normalized probabilities."""

    name = "py3langid"

    def __init__(self, model: str | None = None) -> None:
        self._identifier = _py3langid_identifier()


@functools.lru_cache(maxsize=1)
def _langid_identifier() -> Any:
    langid = require_module("langid.langid", "langid")
    return langid.LanguageIdentifier.from_modelstring(langid.model, norm_probs=True)


@functools.lru_cache(maxsize=1)
def _py3langid_identifier() -> Any:
    py3 = require_module("py3langid.langid", "py3langid")
    return py3.LanguageIdentifier.from_model_file(py3.MODEL_FILE, norm_probs=True)


class FastTextBackend(LidBackend):
    """Any fastText LID model (.bin/.ftz: lid.176, GlotLID, OpenLID, or one train_lid wrote)."""

    name = "fasttext"

    def __init__(self, model: str | None = None) -> None:
        if not model:
            raise ModelError("backend fasttext needs a model: give the path of a .bin/.ftz fastText LID model")
        path = Path(model)
        if path.is_dir():
            raise ModelError(f"fastText model {path} is a folder; give the model file inside it (.bin/.ftz), or "
                             "train one with `polytune lid train`")  # fmt: skip
        if not path.is_file():
            raise ModelError(f"fastText model not found: {path} (train one with `polytune lid train`)")
        fasttext = require_module("fasttext", "fasttext-numpy2")
        try:
            self._model = fasttext.load_model(str(path))
        except Exception as exc:  # the C++ binding raises ValueError or RuntimeError for any bad file
            raise ModelError(f"fastText model is corrupt or not a fastText model: {path} ({exc}); retrain it") from exc

    def predict_topk(self, texts: list[str], k: int = 3, decimals: int | None = None) -> list[list[Prediction]]:
        """As LidBackend.predict_topk, vectorized per batch: this is the hot loop of a filter run.

        One native call for the whole batch (the binding's `multilinePredict`, which `model.predict(list)` wraps
        after a per-line check we fold into the newline replacement), clipping and rounding in numpy on the
        (n, k) score matrix, and labels mapped through a dict built once per model.
        """
        if not texts:
            return []
        lines = [(t.replace("\n", " ") if "\n" in t else t) + "\n" for t in texts]
        labels, probs = self._model.f.multilinePredict(lines, k, 0.0, "strict")
        rows = _score_rows(probs, decimals)
        keys = self._keys
        return [list(zip(map(keys.__getitem__, lab), row, strict=True)) for lab, row in zip(labels, rows, strict=True)]

    def _predict_topk(self, texts: list[str], k: int) -> list[list[tuple[str, float]]]:
        labels, probs = self._model.f.multilinePredict([t + "\n" for t in texts], k, 0.0, "strict")
        return [list(zip(lab, row, strict=True)) for lab, row in zip(labels, _score_rows(probs, None), strict=True)]

    @functools.cached_property
    def _keys(self) -> dict[str, str | None]:
        return {label: label_key(label) for label in self._model.get_labels()}

    def _labels(self) -> list[str]:
        return list(self._model.get_labels())


def _score_rows(probs: list[Any], decimals: int | None) -> list[list[float]]:
    """fastText's per-line score arrays as lists of floats in [0, 1] (its softmax can exceed 1 by an ulp)."""
    try:
        matrix = np.minimum(np.asarray(probs, dtype=np.float64), 1.0)  # (n, k): one C pass, not n small ones
    except ValueError:  # ragged rows (a model with fewer than k labels for some lines): row by row
        return [_score_rows([row], decimals)[0] if len(row) else [] for row in probs]
    if decimals is not None:
        matrix = matrix.round(decimals)
    return matrix.tolist()


def available_backends() -> list[str]:
    """Names of the registered LID backends (the registry's `lid_backends` table)."""
    return list(registry.names("lid_backends"))


def backend_from_spec(spec: str) -> LidBackend:
    """A backend from "langid", "py3langid", "heliport" or "fasttext:MODEL". Example: backend_from_spec("heliport")."""
    name, _, model = spec.partition(":")
    return get_backend(name, model or None)


def get_backend(name: str, model: str | None = None) -> LidBackend:
    """Build an LID backend by name.

    Args:
        name: a registered backend (a row of the registry's `lid_backends` table).
        model: model path, for backends that take one (fasttext).

    Returns:
        The backend.

    Raises:
        ConfigError: the name is not registered.
        ModelError: the model is missing or corrupt.
    """
    return registry.load("lid_backends", name)(model)


def combine(
    first: list[Prediction], second: list[Prediction], mode: str, known: Callable[[str], bool], names: tuple[str, str]
) -> tuple[list[Prediction], str]:
    """Merge two backends' top-k for one text: (top-k to use, "" or why the ensemble refuses the text).

    `agree`: both top-1 must name the same language (matching rule of polytune.langcodes). `fallback`: the second
    decides when its top-1 is a language the first cannot predict at all (`known`: the first backend's `knows`;
    e.g. langid first, a Chichewa-aware fastText model second).

    Example: combine([("eng_Latn", .9)], [("nya_Latn", .8)], "fallback", {"eng_Latn"}.__contains__, ("a", "b"))
    -> ([("nya_Latn", .8)], "")
    """
    top1, top2 = (first[0] if first else (None, 0.0)), (second[0] if second else (None, 0.0))
    if mode == "agree":  # the same language under the matching rule: langid's `sw` agrees with GlotLID's swh_Latn
        if top1[0] != top2[0] and (top1[0] is None or top2[0] is None or not same_language(top1[0], top2[0])):
            return first, f"{names[0]} says {top1[0]} ({top1[1]:.3f}), {names[1]} says {top2[0]} ({top2[1]:.3f})"
        return first, ""
    if top2[0] is not None and not known(top2[0]):
        return second, ""
    return first, ""


def _training_texts(cfg: LidTrainConfig) -> dict[str, list[str]]:
    """Texts per language of the chosen split, then a seeded sample of at most max_per_lang per language."""
    texts: dict[str, list[str]] = defaultdict(list)
    for record in iter_records(cfg.input):
        if cfg.split != "all" and record.get("split") != cfg.split:
            continue
        if not record.get("lang"):
            raise InputError(f"{cfg.input}: record {record.get('id')!r} has no 'lang'; LID training needs labels")
        text = " ".join(str(record["text"]).split())
        if text:
            texts[normalize(record["lang"])].append(text)
    if len(texts) < 2:
        raise InputError(
            f"{cfg.input}: LID training needs records of 2+ languages in split {cfg.split!r}, found {sorted(texts)}"
        )
    if cfg.max_per_lang:
        for lang, items in texts.items():
            if len(items) > cfg.max_per_lang:
                rng = random.Random(f"{cfg.seed}:{lang}")
                texts[lang] = [items[i] for i in sorted(rng.sample(range(len(items)), cfg.max_per_lang))]
    return dict(sorted(texts.items()))


# fastText reads memory it never initialized when a model is trained after another was freed in the same
# process: results drift, or training dies with "Encountered NaN". A fresh interpreter gets zeroed memory.
_TRAIN_SCRIPT = """
import json, sys
import fasttext
train_file, out, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
fasttext.train_supervised(input=train_file, verbose=0, **params).save_model(out)
"""


def _train_in_fresh_process(train_file: Path, out: Path, params: dict[str, Any]) -> None:
    command = [sys.executable, "-c", _TRAIN_SCRIPT, str(train_file), str(out), json.dumps(params)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out.is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        hint = "lower lr" if "NaN" in last else "check the training records"
        raise ModelError(f"fastText LID training failed ({last}); {hint} (lr was {params['lr']})")


# fastText's default of 5 epochs is for large corpora; with few lines the linear learning-rate decay ends before the
# model separates the languages (a few hundred verses each of English, French, German: every score under 0.5).
DEFAULT_EPOCHS, MIN_WORDS_READ, MAX_EPOCHS = 5, 200_000, 100


def epochs_for(words: int, epoch: int | None = None) -> int:
    """The epochs to train: `epoch` when given, else 5, or enough passes to read MIN_WORDS_READ words (at most 100).

    Example: epochs_for(7_000) -> 29; epochs_for(2_000_000) -> 5; epochs_for(7_000, 5) -> 5
    """
    if epoch is not None:
        return epoch
    return min(MAX_EPOCHS, max(DEFAULT_EPOCHS, -(-MIN_WORDS_READ // max(1, words))))


def train_lid(cfg: LidTrainConfig) -> dict[str, int]:
    """Train a fastText LID model on labeled records; write it atomically with `<out>.manifest.json`.

    Training is single-threaded with a fixed seed and a seeded line order, so the same inputs give the same bytes.

    Args:
        cfg: the LID training config.

    Returns:
        Training lines per language.

    Raises:
        InputError: no records, unlabeled records, or fewer than two languages.
        ModelError: fastText training failed (e.g. diverged: lower lr).
    """
    require_module("fasttext", "fasttext-numpy2")
    texts = _training_texts(cfg)
    lines = [f"__label__{lang} {text}\n" for lang, items in texts.items() for text in items]
    random.Random(cfg.seed).shuffle(lines)
    counts = {lang: len(items) for lang, items in texts.items()}
    epochs = epochs_for(sum(len(text.split()) for items in texts.values() for text in items), cfg.epoch)
    params = {
        "epoch": epochs, "lr": cfg.lr, "dim": cfg.dim, "minn": cfg.minn, "maxn": cfg.maxn,
        "wordNgrams": cfg.word_ngrams, "bucket": cfg.bucket, "minCount": 1, "thread": 1, "seed": cfg.seed,
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="polytune-lid-") as scratch, atomic_path(cfg.out) as tmp:
        train_file = Path(scratch) / "train.txt"
        train_file.write_text("".join(lines), encoding="utf-8")
        _train_in_fresh_process(train_file, tmp, params)
    write_json(cfg.out.with_name(cfg.out.name + ".manifest.json"),
               manifest("lid", cfg, [cfg.input], counts, epochs=epochs))  # fmt: skip
    log.info("LID model %s: %d languages, %d lines, %d epochs", cfg.out, len(counts), len(lines), epochs,
             extra=SUMMARY)  # fmt: skip
    return counts
