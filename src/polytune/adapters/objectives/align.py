"""The align objective: a language adapter trained on translation pairs, optionally mixed with masked LM.

The adapted model reads a target sentence; the frozen base (no adapter, no gradient) has read its source
translation beforehand (`teacher_states`). The adapter is trained so that two representations match
(Reimers & Gurevych 2020; Cao et al. 2020):

- `first`: the first token's last hidden state, which a BERT classification head reads (through its pooler);
- `mean`: the mean of the token states (what retrieval and sentence embedders use).

Each is matched by MSE, by a contrastive term (InfoNCE on cosine similarity, the other pairs of the batch as
negatives, both directions), or by both. MSE alone pulls every sentence toward the same region of the source
space; the contrastive term also pushes a sentence away from other sentences' translations. With several
processes the negatives are the whole global batch: each process gathers the others' vectors
(`torch.distributed.nn.functional.all_gather`, through which gradients flow back), so two processes of 4 pairs
train as one batch of 8.

Mixed with MLM (`objectives: {align: 1.0, mlm: 0.5}`), `PairCollator` also masks a copy of each target text.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from polytune.adapters.data import spread, tokenize
from polytune.adapters.losses import Loss, mean_loss
from polytune.adapters.objectives.base import Objective
from polytune.adapters.objectives.lm import MaskedLMLoss, mask_rows
from polytune.adapters.parallel import load_pairs
from polytune.errors import ConfigError, ModelError
from polytune.models import lm_objective, load_mlm, load_tokenizer
from polytune.models.devices import device_of

POOLINGS = ("first", "mean")


def pool(hidden: torch.Tensor, attention: torch.Tensor, how: str) -> torch.Tensor:
    """One vector per sequence: the first token's state, or the mean over attended tokens.

    Example: hidden [[[1, 1], [3, 5], [9, 9]]], attention [[1, 1, 0]] -> first [[1, 1]], mean [[2, 3]].
    """
    if how == "first":
        return hidden[:, 0]
    weights = attention.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def backbone(model: Any) -> Any:
    """The encoder under a peft / task-head wrapper (`bert` of BertForMaskedLM)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(inner, inner.base_model_prefix, inner)


def states(model: Any, input_ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """Last hidden states of the model's encoder."""
    return backbone(model)(input_ids=input_ids, attention_mask=attention).last_hidden_state


def pad(rows: list[list[int]], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask) of right-padded rows. Example: [[5, 6], [7]], 0 -> [[5, 6], [7, 0]], [[1, 1], [1, 0]]."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [value] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    return ids, mask


@torch.no_grad()
def teacher_states(model: Any, rows: list[list[int]], pad_id: int, batch_size: int) -> dict[str, torch.Tensor]:
    """The frozen model's `first` and `mean` vectors of tokenized source sentences, in eval mode (no dropout).

    Call it on the base before any adapter is attached (or with the adapter disabled).

    Returns:
        {"first": (len(rows), hidden), "mean": (len(rows), hidden)}, float32 on CPU.
    """
    was_training = model.training
    model.eval()
    device = device_of(model)
    out: dict[str, list[torch.Tensor]] = {how: [] for how in POOLINGS}
    for i in range(0, len(rows), batch_size):
        ids, mask = pad(rows[i : i + batch_size], pad_id)
        hidden = states(model, ids.to(device), mask.to(device))
        for how in POOLINGS:
            out[how].append(pool(hidden, mask.to(device), how).float().cpu())
    model.train(was_training)
    return {how: torch.cat(parts) if parts else torch.empty(0) for how, parts in out.items()}


def _gathered(vectors: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Every process's vectors (differentiable: gradients flow back to each process's own) and where this
    process's rows start."""
    from torch.distributed.nn.functional import all_gather

    parts = all_gather(vectors.contiguous())
    return torch.cat(parts), torch.distributed.get_rank() * len(vectors)


def contrastive_sum(student: torch.Tensor, teacher: torch.Tensor, temperature: float,
                    gather: bool = False) -> torch.Tensor:  # fmt: skip
    """Symmetric InfoNCE summed over this process's pairs: pair i's student vector must be closer (cosine) to its
    teacher than to the other teachers of the (global) batch, and its teacher closer to it than to the others.

    Example: identical orthogonal rows give a sum near 0 at a small temperature.
    """
    student, teacher = F.normalize(student.float(), dim=-1), F.normalize(teacher.float(), dim=-1)
    all_students, start = _gathered(student) if gather else (student, 0)
    all_teachers, _ = _gathered(teacher) if gather else (teacher, 0)
    target = torch.arange(start, start + len(student), device=student.device)
    rows = F.cross_entropy(student @ all_teachers.T / temperature, target, reduction="sum")
    columns = F.cross_entropy(teacher @ all_students.T / temperature, target, reduction="sum")
    return (rows + columns) / 2


def contrastive(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """`contrastive_sum` of one batch as a mean over its pairs."""
    return contrastive_sum(student, teacher, temperature) / len(student)


class AlignLoss(Loss):
    """Terms `align` (per pair: MSE and/or InfoNCE of the pooled states, averaged over poolings) and `mlm`."""

    def __init__(self, weights: dict[str, float], poolings: tuple[str, ...], kind: str, temperature: float) -> None:
        self.weights = {name: float(w) for name, w in weights.items() if w}
        self.poolings, self.kind, self.temperature = poolings, kind, temperature
        self.mlm = MaskedLMLoss(keys=("mlm_input_ids", "labels"))

    def units(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        units = {}
        if "align" in self.weights:
            units["align"] = float(len(batch["input_ids"]))
        if "mlm" in self.weights:
            units["mlm"] = self.mlm.units(batch)["loss"]
        return units

    def sums(self, model: Any, batch: dict[str, torch.Tensor], gather: bool = False) -> dict[str, torch.Tensor]:
        out = {}
        if "align" in self.weights:
            hidden = states(model, batch["input_ids"], batch["attention_mask"])
            total = hidden.new_zeros((), dtype=torch.float32)
            for how in self.poolings:
                student, teacher = pool(hidden, batch["attention_mask"], how).float(), batch[f"teacher_{how}"].float()
                if self.kind in ("mse", "both"):
                    total = total + ((student - teacher) ** 2).mean(dim=-1).sum()
                if self.kind in ("contrastive", "both"):
                    total = total + contrastive_sum(student, teacher, self.temperature, gather)
            out["align"] = total / len(self.poolings)
        if "mlm" in self.weights:
            out["mlm"] = self.mlm.sums(model, batch)["loss"]
        return out


class PairCollator:
    """Batches of target `input_ids` with the teacher vectors of their pairs (`pair` indexes `teachers`); with
    `mlm`, a masked copy (`mlm_input_ids`) and its `labels`, each text masked from its own seeded generator."""

    seeded_per_example = True

    def __init__(self, tokenizer: Any, teachers: dict[str, torch.Tensor] | None, mlm: bool, probability: float,
                 seed: int) -> None:  # fmt: skip
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.mask_id, self.vocab = tokenizer.mask_token_id, len(tokenizer)
        self.special = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        self.teachers, self.mlm, self.probability, self.seed = teachers, mlm, probability, seed

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        ids, attention = pad([list(e["input_ids"]) for e in examples], self.pad_id)
        batch = {"input_ids": ids, "attention_mask": attention}
        if self.teachers is not None:
            index = torch.tensor([int(e["pair"]) for e in examples])
            batch.update({f"teacher_{how}": vectors[index] for how, vectors in self.teachers.items()})
        if not self.mlm:
            return batch
        maskable = (attention == 1) & ~torch.isin(ids, self.special)
        masked, labels = mask_rows(ids, maskable, attention.sum(dim=1).tolist(), examples, self.seed,
                                   self.probability, self.mask_id, self.vocab)  # fmt: skip
        for row in range(len(examples)):
            if not (labels[row] != -100).any() and maskable[row].any():  # every text predicts at least one token
                first = int(maskable[row].int().argmax())
                masked[row, first], labels[row, first] = self.mask_id, ids[row, first]
        return {**batch, "mlm_input_ids": masked, "labels": labels}


class Align(Objective):
    """Align the target language's sentence representations to the frozen base's of their translations; with
    `objectives`, mixed with masked LM by weight. Encoders only.

    Raises:
        ModelError: the base is not an encoder (no masked-LM model class).
    """

    def __init__(self, cfg: Any, weights: dict[str, float]) -> None:
        super().__init__(cfg)
        if lm_objective(cfg.base) != "mlm":
            raise ModelError(f"objective align needs an encoder base (a masked-LM model class); {cfg.base} is not "
                             "one")
        if cfg.replay and weights.get("align"):
            raise ConfigError("replay mixes source-language text into an LM objective; align already reads the source "
                              "side of every pair: set replay to 0")
        self.weights = {name: w for name, w in weights.items() if w}
        self.name = "+".join(self.weights)
        self.mlm_head = "mlm" in self.weights
        poolings = ("first", "mean") if cfg.align_pooling == "both" else (cfg.align_pooling,)
        self.loss = AlignLoss(self.weights, poolings, cfg.align_loss, cfg.align_temperature)
        self.teachers: dict[str, dict[str, torch.Tensor] | None] = {"train": None, "dev": None}

    def load_model(self, base: str) -> Any:
        return load_mlm(base)

    def examples(self) -> tuple[list[dict], list[dict], dict[str, int]]:
        """Translation pairs {id, text (target), source}, or without alignment the target's records."""
        cfg = self.cfg
        if "align" not in self.weights:
            return super().examples()
        train, dev, counts = load_pairs(cfg.input, cfg.lang, cfg.source_lang, cfg.parallel)
        # Training sees at most steps x global batch pairs (`train_limit`); that many pairs spread over the corpus
        # are kept, so the teacher reads each source sentence once instead of the whole corpus.
        as_records = [[{**p, "text": p["target"]} for p in part] for part in (train, dev)]
        return spread(as_records[0], self.train_limit()), spread(as_records[1], cfg.max_eval_records), counts

    def offered(self) -> list[dict]:
        """Every train pair's target side (the records a --from leak check compares)."""
        if "align" not in self.weights:
            return super().offered()
        train, _, _ = load_pairs(self.cfg.input, self.cfg.lang, self.cfg.source_lang, self.cfg.parallel)
        return [{**p, "text": p["target"]} for p in train]

    def prepare(self, model: Any, tokenizer: Any, train: list[dict], dev: list[dict]) -> None:
        """The base's vectors of the source sentences, read with the base's own tokenizer (not an extended one)."""
        if "align" not in self.weights:
            return
        source = load_tokenizer(self.cfg.base)
        pad_id = source.pad_token_id if source.pad_token_id is not None else 0
        for split, rows in (("train", train), ("dev", dev)):
            ids = tokenize(source, [r["source"] for r in rows], self.cfg.max_length)
            self.teachers[split] = teacher_states(model, ids, pad_id, self.cfg.batch_size)

    def dataset(self, tokenizer: Any, rows: list[dict], split: str) -> Any:
        from datasets import Dataset

        ids = tokenize(tokenizer, [r["text"] for r in rows], self.cfg.max_length)
        return Dataset.from_dict({"input_ids": ids, "pair": list(range(len(rows)))})

    def collator(self, tokenizer: Any, model: Any, seed: int, split: str) -> PairCollator:
        if self.mlm_head and tokenizer.mask_token_id is None:
            raise ModelError(f"the tokenizer of {self.cfg.tokenizer or self.cfg.base} has no mask token; drop mlm "
                             "from objectives")
        return PairCollator(tokenizer, self.teachers[split], self.mlm_head, self.cfg.mlm_probability, seed)

    def measure(self, model: Any, batches: list[dict[str, torch.Tensor]]) -> dict[str, float | None]:
        """dev_loss, and dev_retrieval: acc@1 of the dev pairs, target -> source, by cosine of mean states."""
        return {"dev_loss": mean_loss(self.loss, model, batches), "dev_retrieval": self._retrieval(model, batches)}

    @torch.no_grad()
    def _retrieval(self, model: Any, batches: list[dict[str, torch.Tensor]]) -> float | None:
        if not batches or "teacher_mean" not in batches[0]:
            return None
        was_training = model.training
        model.eval()
        device, students, teachers = device_of(model), [], []
        for batch in batches:
            ids, attention = batch["input_ids"].to(device), batch["attention_mask"].to(device)
            students.append(pool(states(model, ids, attention), attention, "mean").float())
            teachers.append(batch["teacher_mean"].to(device).float())
        model.train(was_training)
        s, t = F.normalize(torch.cat(students), dim=-1), F.normalize(torch.cat(teachers), dim=-1)
        return float(((s @ t.T).argmax(dim=1) == torch.arange(len(s), device=s.device)).float().mean())
