"""Training losses as sums over units, and the module that computes them inside what accelerate prepares.

Every loss polytune trains is a mean over units: predicted tokens, labeled words, translation pairs, examples, or
class weights. A `Loss` gives, per term, the sum over the units of a batch (`sums`) and how many units the batch
has (`units`, read off the batch before any forward). The loop adds up the units of every micro-batch of a step
on every process first; each micro-batch then contributes its sum divided by that global count. The gradient is
exactly the one of a single batch of the global size, however the step is split into processes and accumulated
micro-batches. (A mean per micro-batch weighs the tokens of a short batch more, which is why transformers' Trainer
passes `num_items_in_batch` to its losses.)

`ObjectiveModule` holds the model and its loss in one `torch.nn.Module`: `accelerator.prepare` wraps that module,
so the loss runs inside DDP's forward and the gradients of every process are averaged. (Calling the encoder under
the wrapper directly, as polytune once did for speed, skips DDP's hooks: each process trained alone.)

Example: loss = TokenCrossEntropy(); loss.units(batch) -> {"loss": 37.0}; loss.sums(model, batch) -> {"loss": ...}
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from polytune.models.devices import device_of


class Loss:
    """A weighted sum of terms, each a mean over units; subclasses implement `units` and `sums`."""

    weights: dict[str, float] = {"loss": 1.0}

    def units(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """Per term, the number of units the batch holds (tokens, pairs, examples or their class weights)."""
        raise NotImplementedError

    def sums(self, model: Any, batch: dict[str, torch.Tensor], gather: bool = False) -> dict[str, torch.Tensor]:
        """Per term, the loss summed over the batch's units. `gather`: the step is split over processes (a term
        whose units see each other, like in-batch negatives, gathers the other processes' part)."""
        raise NotImplementedError

    def combine(self, sums: dict[str, torch.Tensor], totals: dict[str, float]) -> torch.Tensor:
        """Σ weight · sum / total over the terms. Example: weights {a: 1, b: 0.5}, sums {a: 4, b: 6}, totals
        {a: 2, b: 3} -> 2 + 1 = 3."""
        parts = [self.weights[t] * sums[t] / max(totals[t], 1e-12) for t in self.weights if self.weights[t]]
        return torch.stack(parts).sum()


def batch_mean(loss: Loss, model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """One batch's loss as a mean per unit of each term, weighted (the value a model's own `.loss` reports)."""
    return loss.combine(loss.sums(model, batch), loss.units(batch))


@torch.no_grad()
def mean_loss(loss: Loss, model: Any, batches: list[dict[str, torch.Tensor]]) -> float:
    """The loss over fixed batches as one mean per term (what a dev measurement reports); NaN without units."""
    if not batches:
        return float("nan")
    was_training = model.training
    model.eval()
    device = device_of(model)
    sums: dict[str, float] = {t: 0.0 for t in loss.weights}
    totals: dict[str, float] = {t: 0.0 for t in loss.weights}
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        for term, n in loss.units(batch).items():
            totals[term] += n
        for term, value in loss.sums(model, batch).items():
            sums[term] += float(value)
    model.train(was_training)
    if not any(totals[t] for t in loss.weights if loss.weights[t]):
        return float("nan")
    return float(loss.combine({t: torch.tensor(v) for t, v in sums.items()}, totals))


class ObjectiveModule(torch.nn.Module):
    """The trained model and its loss as one module: its forward returns this process's share of the step's loss.

    Args:
        model: the peft model.
        loss: a `Loss`.
    """

    def __init__(self, model: Any, loss: Loss) -> None:
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, batch: dict[str, torch.Tensor], totals: dict[str, float], gather: bool) -> torch.Tensor:
        return self.loss.combine(self.loss.sums(self.model, batch, gather), totals)


def _labeled(labels: torch.Tensor, class_weights: torch.Tensor | None) -> torch.Tensor:
    """The units of a cross-entropy: 1 per label != -100, or its class weight."""
    mask = labels != -100
    if class_weights is None:
        return mask.sum().float()
    return class_weights.to(labels.device)[labels[mask]].sum().float()


class TokenCrossEntropy(Loss):
    """Cross-entropy of the model's logits against `labels` (-100 ignored), per token or per example.

    The same value as a transformers model's own loss (sequence or token classification, seq2seq, causal LM with
    `shift`), with optional class weights (a weighted mean, as torch's) and label smoothing.

    Args:
        class_weights: a loss weight per label id, or None.
        label_smoothing: cross-entropy label smoothing.
        shift: causal LMs predict position t+1 at t: logits and labels are shifted against each other.
        feed_labels: pass labels to the model (encoder-decoders build their decoder inputs from them).
    """

    def __init__(self, class_weights: list[float] | None = None, label_smoothing: float = 0.0, shift: bool = False,
                 feed_labels: bool = False) -> None:  # fmt: skip
        self.class_weights = None if class_weights is None else torch.tensor(class_weights)
        self.label_smoothing, self.shift, self.feed_labels = label_smoothing, shift, feed_labels

    def _labels(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return batch["labels"][:, 1:] if self.shift else batch["labels"]

    def units(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        return {"loss": float(_labeled(self._labels(batch), self.class_weights))}

    def sums(self, model: Any, batch: dict[str, torch.Tensor], gather: bool = False) -> dict[str, torch.Tensor]:
        inputs = batch if self.feed_labels else {k: v for k, v in batch.items() if k != "labels"}
        logits = model(**inputs).logits
        if self.shift:
            logits = logits[:, :-1]
        labels = self._labels(batch)
        weight = None if self.class_weights is None else self.class_weights.to(logits.device)
        total = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), weight=weight,
                                label_smoothing=self.label_smoothing, ignore_index=-100, reduction="sum")
        return {"loss": total}


class SquaredError(Loss):
    """Mean squared error of a single-output head against float labels (regression), per example."""

    def units(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        return {"loss": float(batch["labels"].numel())}

    def sums(self, model: Any, batch: dict[str, torch.Tensor], gather: bool = False) -> dict[str, torch.Tensor]:
        out = model(**{k: v for k, v in batch.items() if k != "labels"}).logits.float().squeeze(-1)
        return {"loss": F.mse_loss(out, batch["labels"].float(), reduction="sum")}
