"""What every language-adapter objective gives the one training flow (`adapters/language.py`).

An objective names the model class it trains, reads its examples, turns them into a dataset and batches, and
owns a `losses.Loss`; the flow does the rest (new rows, adapter, stages, early stopping, saving) the same way for
all of them. Collators that draw random numbers seed them per example (`example_generator`), by the example's
position in the training stream, so a batch's masks do not depend on how it was split over processes.

Example: objective = MaskedLM(cfg); train, dev, counts = objective.examples()
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from polytune.adapters.data import load_split, mlm_dataset
from polytune.adapters.losses import Loss, mean_loss
from polytune.config import LanguageAdapterConfig


def example_generator(seed: int, position: int) -> torch.Generator:
    """The random source of one example: a generator seeded by (seed, stream position), the same in every
    process and every rerun. Example: example_generator(13, 5) draws the same numbers each time it is made."""
    digest = hashlib.blake2b(f"{seed}:{position}".encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") >> 1)


class Objective:
    """A language-adapter objective; subclasses set `name`, `loss` and the hooks they change.

    Attributes:
        name: as the manifest records it (mlm, clm, denoise, align, align+mlm).
        loss: the `Loss` trained.
        mlm_head: the objective trains a masked-LM head (warm-up, `mlm_head.safetensors` for --from).
    """

    name = "?"
    mlm_head = False
    loss: Loss

    def __init__(self, cfg: LanguageAdapterConfig) -> None:
        self.cfg = cfg

    def load_model(self, base: str) -> Any:
        """The model the objective trains (an MLM-, causal-LM- or seq2seq-headed transformers model)."""
        raise NotImplementedError

    def examples(self) -> tuple[list[dict], list[dict], dict[str, int]]:
        """(train, dev, counts): records with `text` (and `id`); the target language's own records by default, and
        with `replay` a share of source-language train records (marked `replay`) against forgetting."""
        cfg = self.cfg
        train = load_split(cfg.input, cfg.lang, "train", self.train_limit())
        dev = load_split(cfg.input, cfg.lang, "dev", cfg.max_eval_records)
        counts = {"train_records": len(train), "dev_records": len(dev)}
        if cfg.replay:
            wanted = round(len(train) * cfg.replay / (1 - cfg.replay))
            replay = [{**r, "replay": True} for r in load_split(cfg.input, cfg.source_lang, "train", wanted)]
            train, counts["replay_records"] = train + replay, len(replay)
        return train, dev, counts

    def offered(self) -> list[dict]:
        """Every train record the run could read (its limit aside): what a --from leak check must see."""
        return load_split(self.cfg.input, self.cfg.lang, "train")

    def train_limit(self) -> int | None:
        """How many train records to read: cfg.max_train_records, else as many as the run's steps can see (every
        stage's steps x the global batch), spread over the corpus, so a short run does not tokenize a whole Bible;
        FOCUS reads them all (its fastText vectors learn from the text)."""
        from polytune.adapters.saving import process_state

        cfg = self.cfg
        if cfg.max_train_records is not None or cfg.init == "focus":
            return cfg.max_train_records
        steps = cfg.max_steps + cfg.embedding_steps + cfg.head_warmup_steps
        return steps * cfg.batch_size * cfg.gradient_accumulation_steps * process_state().num_processes

    def prepare(self, model: Any, tokenizer: Any, train: list[dict], dev: list[dict]) -> None:
        """Work on the bare base before an adapter attaches (alignment reads its teacher vectors here)."""

    def dataset(self, tokenizer: Any, rows: list[dict], split: str) -> Any:
        """A `datasets.Dataset` of the rows (`split`: train or dev)."""
        return mlm_dataset(tokenizer, rows, self.cfg.max_length)

    def collator(self, tokenizer: Any, model: Any, seed: int, split: str) -> Any:
        """Batches of dataset rows (`split`: train or dev)."""
        raise NotImplementedError

    def dev_batches(self, tokenizer: Any, model: Any, dev: list[dict]) -> list[dict[str, torch.Tensor]]:
        """The dev set collated once (masks drawn once), so every measurement sees the same batches."""
        data, collate = self.dataset(tokenizer, dev, "dev"), self.collator(tokenizer, model, self.cfg.seed + 3, "dev")
        size = self.cfg.batch_size
        batches = []
        for start in range(0, len(data), size):
            chunk = data.select(range(start, min(start + size, len(data))))
            batches.append(collate([dict(row, position=start + i) for i, row in enumerate(chunk)]))
        return batches

    def measure(self, model: Any, batches: list[dict[str, torch.Tensor]]) -> dict[str, float | None]:
        """Dev measurements of the model as it is: `dev_loss` (the trained loss, one mean per term)."""
        return {"dev_loss": mean_loss(self.loss, model, batches)}
