"""Configs of the adapters stage: the training settings every adapter shares, language and task adapters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polytune import registry
from polytune.config.base import (
    TAG_SCHEMES,
    _choice,
    _fraction,
    _help,
    _positive,
    _registered,
)
from polytune.errors import ConfigError, did_you_mean
from polytune.langcodes import normalize
from polytune.prompts import prompt_fields
from polytune.resources import check_resource

# Adapter methods (peft): the rows of `adapters/methods.py`, named here so config validates without peft.
ADAPTER_METHODS = registry.names("adapter_methods")  # rows of adapters/methods.py
TRACKERS = ("none", "tensorboard", "wandb", "mlflow", "trackio")  # accelerate's trackers (adapters/tracking.py)


@dataclass(kw_only=True)
class AdapterTrainingConfig:
    """Settings shared by language and task adapters (peft LoRA, DoRA, IA3 or LoHa)."""

    method: str = _help("adapter method: lora | dora (LoRA with learned magnitudes) | ia3 (learned scaling "
                        "vectors; no rank, alpha, dropout, layers or new rows) | loha (low-rank Hadamard product; "
                        "no dropout, no new rows)", default="lora", registry="adapter_methods")
    lora_r: int = _help("rank (lora, dora, loha)", default=8)
    lora_alpha: int = _help("scaling alpha (lora, dora, loha)", default=16)
    lora_dropout: float = _help("dropout on the adapter's input (lora, dora)", default=0.0)
    target_modules: list[str] | None = _help("module names the adapter wraps; None (auto): the attention query and "
                                             "value projections by architecture, as peft names them (query, value "
                                             "for BERT/XLM-R; q_proj, v_proj for Llama/Gemma; c_attn for GPT-2)",
                                             default=None)
    max_steps: int = _help("optimizer steps", default=200)
    batch_size: int = _help("examples per step", default=16)
    learning_rate: float = _help("peak learning rate (linear decay)", default=5e-4)
    max_length: int = _help("truncate examples to this many tokens", default=64)
    max_train_records: int | None = _help("use at most this many training records", default=None)
    max_eval_records: int | None = _help("measure dev loss/accuracy on at most this many records", default=256)
    seed: int = _help("seed", default=13)
    precision: str = _help("auto (bf16 on a GPU that has it, else fp32) | fp32 | bf16 | fp16", default="auto")
    gradient_accumulation_steps: int = _help("batches summed per optimizer step", default=1)
    gradient_checkpointing: bool = _help("recompute activations in backward (less memory, more compute)",
                                         default=False)
    save_every: int | None = _help("checkpoint every N steps into .<out>.ckpt/ beside the output; a rerun resumes "
                                   "from the last one. None: every 10% of max_steps (at most 200 apart, none "
                                   "under 50 steps); 0: never", default=None)
    eval_every: int | None = _help("measure the dev metric every N steps for early stopping (language adapters: "
                                   "held-out LM loss; task adapters: accuracy, entity F1 or dev loss by task, and "
                                   "the best step's weights are kept); None: never", default=None)
    patience: int = _help("stop after this many dev measurements without improvement", default=3)
    layers_to_transform: list[int] | None = _help("the adapter only in these layer indices, the other layers stay "
                                                  "frozen (None: every layer; not with method ia3)", default=None)
    from_adapter: str | None = _help("continue training this adapter or pack (`--from`): its adapter weights, new "
                                     "rows and head; the manifest names it as the parent (None: a fresh adapter)",
                                     default=None)
    report_to: str = _help("training curves (loss, learning rate, gradient norm, tokens/s, dev metric, early stop) "
                           "through accelerate's trackers: none | tensorboard | wandb | mlflow | trackio, or several "
                           "comma-separated", default="none")
    tracking_dir: Path | None = _help("where local trackers (tensorboard) write; None: tracking/ beside the output "
                                      "folder (open with `tensorboard --logdir <folder>`)", default=None)

    def _check_training(self) -> None:
        for name in ("lora_r", "lora_alpha", "max_steps", "batch_size", "learning_rate", "max_length",
                     "gradient_accumulation_steps"):
            _positive(getattr(self, name), name)
        if self.save_every is not None:
            _positive(self.save_every, "save_every", allow_zero=True)
        _positive(self.patience, "patience")
        if self.eval_every is not None:
            _positive(self.eval_every, "eval_every")
        _choice(self.precision, "precision", ("auto", "fp32", "bf16", "fp16"))
        for name in str(self.report_to).split(","):
            _choice(name.strip(), "report_to", TRACKERS)
        self.tracking_dir = Path(self.tracking_dir) if self.tracking_dir is not None else None
        _registered(self.method, "method", "adapter_methods")
        _fraction(self.lora_dropout, "lora_dropout")
        if isinstance(self.target_modules, str):
            self.target_modules = [self.target_modules]
        for name in ("max_train_records", "max_eval_records"):
            if getattr(self, name) is not None:
                _positive(getattr(self, name), name)
        if self.layers_to_transform is not None:
            layers = self.layers_to_transform
            layers = [layers] if isinstance(layers, int) else layers
            if not layers or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in layers):
                raise ConfigError(f"layers_to_transform must be a list of layer indices >= 0, got {layers!r}")
            self.layers_to_transform = sorted(set(layers))


MIXABLE_OBJECTIVES = ("align", "mlm")


def objective_weights(value: Any, objective: str) -> dict[str, float] | None:
    """Mixed-objective weights from a mapping or a CLI string; None when there is nothing to mix.

    Example: objective_weights("align=1,mlm=0.5", "auto") -> {"align": 1.0, "mlm": 0.5}

    Raises:
        ConfigError: an unknown objective, a weight that is not a non-negative number, no positive weight, or an
            `objective` that the weights leave out.
    """
    if value is None:
        return None
    if isinstance(value, str):
        parts = [p.split("=", 1) for p in value.split(",") if p.strip()]
        if any(len(p) != 2 for p in parts):
            raise ConfigError(f"objectives must be NAME=WEIGHT pairs such as align=1,mlm=0.5, got {value!r}")
        try:
            value = {name.strip(): float(weight) for name, weight in parts}
        except ValueError as exc:
            raise ConfigError(f"objectives: a weight is not a number in {value!r}") from exc
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"objectives must be a mapping of objective to weight, e.g. {{align: 1.0}}, got {value!r}")
    for name, weight in value.items():
        if name not in MIXABLE_OBJECTIVES:
            raise ConfigError(f"unknown objective {name!r} in objectives{did_you_mean(str(name), MIXABLE_OBJECTIVES)}")
        _positive(weight, f"objectives weight of {name}", allow_zero=True)
    if not any(value.values()):
        raise ConfigError(f"objectives: at least one weight must be positive, got {value!r}")
    if objective != "auto" and objective not in value:
        raise ConfigError(f"objective {objective!r} is not among objectives {sorted(value)}; drop one of the two")
    return {name: float(weight) for name, weight in sorted(value.items())}


@dataclass(kw_only=True)
class LanguageAdapterConfig(AdapterTrainingConfig):
    """A language adapter: LoRA + MLM on one language, new embedding rows trainable when the vocab was extended."""

    base: str = _help("base model folder (or hub id)")
    input: Path = _help("filtered corpus folder")
    lang: str = _help("the adapter's language")
    out: Path = _help("output adapter folder")
    tokenizer: str | None = _help("extended tokenizer folder (with extension.json); None: the base's", default=None)
    init: str = _help("new-row initialization: subword_mean | subword_mean_norm (rescaled to the norm of the rows "
                      "averaged) | mean | random | focus (fastText on the train text)", default="subword_mean")
    mlm_probability: float = _help("share of tokens masked (mlm), or corrupted in spans (denoise)", default=0.15)
    objective: str = _help("auto (mlm for encoders, clm for decoders, denoise for encoder-decoders) | mlm | clm | "
                           "denoise (span corruption: T5 sentinels, else the mask token, else span deletion) | "
                           "align (encoders: match the frozen base's representation of the source translation)",
                           default="auto", registry="objectives")
    objectives: dict[str, float] | None = _help(
        "weights of mixed objectives, e.g. {align: 1.0, mlm: 0.5} (CLI: align=1,mlm=0.5); replaces objective. "
        "None: objective alone", default=None
    )  # fmt: skip
    source_lang: str = _help("align: language of the translations (its records share an id with the target's)",
                             default="eng_Latn")
    parallel: Path | None = _help(
        "align: TSV (source<TAB>target) or JSONL ({source, target[, id]}) file of translation pairs; None: records "
        "of input/<source_lang> and input/<lang> sharing an id. Pairs with a test-split side are never used",
        default=None,
    )
    align_pooling: str = _help("align: representations matched, first (first token: what the classification head "
                               "reads) | mean (mean of token states) | both", default="both")
    align_loss: str = _help("align: mse | contrastive (InfoNCE on cosine, in-batch negatives) | both (their sum)",
                            default="both")
    align_temperature: float = _help("align: temperature of the contrastive term", default=0.05)
    embedding_steps: int = _help("extended tokenizer: train only the new embedding rows (body and LoRA frozen) "
                                 "this many steps before the adapter trains (0, or no extended tokenizer: none)",
                                 default=0)
    mean_span_length: float = _help("denoise: mean length of a corrupted span, in tokens", default=3.0)
    head_warmup_steps: int = _help("MLM bases without a head: fit the head alone this many steps first, then "
                                   "keep it frozen while the adapter trains (0: train head and adapter together)",
                                   default=0)
    replay: float = _help("share of the training examples drawn from source_lang's own train text (mlm, clm, "
                          "denoise), against forgetting it; 0: none", default=0.0)

    def __post_init__(self) -> None:
        if not self.base or not self.lang:
            raise ConfigError("language adapter: base and lang are required")
        _registered(self.objective, "objective", "objectives", "auto")
        self.objectives = objective_weights(self.objectives, self.objective)
        self.source_lang = normalize(self.source_lang)
        self.parallel = Path(self.parallel) if self.parallel is not None else None
        _choice(self.align_pooling, "align_pooling", ("first", "mean", "both"))
        _choice(self.align_loss, "align_loss", ("mse", "contrastive", "both"))
        _positive(self.align_temperature, "align_temperature")
        _positive(self.embedding_steps, "embedding_steps", allow_zero=True)
        _positive(self.mean_span_length, "mean_span_length")
        _positive(self.head_warmup_steps, "head_warmup_steps", allow_zero=True)
        if not isinstance(self.replay, (int, float)) or isinstance(self.replay, bool) or not 0 <= self.replay < 1:
            raise ConfigError(f"replay must be a share in [0, 1), got {self.replay!r}")
        self.base = check_resource(self.base)  # a zoo: or pkg: spec is resolved when the step runs
        self.lang = normalize(self.lang)
        self.input, self.out = Path(self.input), Path(self.out)
        _choice(self.init, "init", ("subword_mean", "subword_mean_norm", "mean", "random", "focus"))
        _fraction(self.mlm_probability, "mlm_probability")
        self._check_training()


@dataclass(kw_only=True)
class TaskAdapterConfig(AdapterTrainingConfig):
    """A task adapter trained on the source language: LoRA + a head (classification, tagging) or LoRA alone
    (seq2seq and causal-LM generation)."""

    base: str = _help("base model folder (or hub id)")
    input: Path = _help("filtered corpus folder")
    lang: str = _help("source language the task is trained on", default="eng_Latn")
    out: Path = _help("output adapter folder")
    label_field: str = _help("record field holding the label", default="genre")
    lang_adapter: str | None = _help(
        "source-language adapter folder, active and frozen while the task trains (MAD-X stacking); "
        "None: train on the bare base",
        default=None,
    )
    class_weights: str | None = _help("class_weights.json from the balance stage (loss weight per label)",
                                      default=None)
    label_smoothing: float = _help("cross-entropy label smoothing (0: none)", default=0.0)
    task: str = _help(
        "sequence_classification | token_classification (tags per word, e.g. NER) | seq2seq (encoder-decoder "
        "generation) | causal_lm (prompted generation with a decoder) | regression (a float label, MSE loss)",
        default="sequence_classification", registry="task_types",
    )  # fmt: skip
    text_field: str = _help(
        "record field of the input: text, or for token_classification a list of words (a string is split on "
        "whitespace)", default="text"
    )  # fmt: skip
    tag_scheme: str = _help("token_classification: tag scheme the tags must follow, IOB2 | BIOES", default="IOB2")
    prompt: str | None = _help(
        "seq2seq/causal_lm: template of the input with {field} placeholders over the record, e.g. "
        "'{text}\\nAnswer:' (None: the text field alone; causal_lm adds a line break)", default=None
    )  # fmt: skip

    def __post_init__(self) -> None:
        if not self.base:
            raise ConfigError("task adapter: base is required")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        _registered(self.task, "task", "task_types")
        _choice(self.tag_scheme, "tag_scheme", TAG_SCHEMES)
        if self.task == "regression" and (self.class_weights or self.label_smoothing):
            raise ConfigError("regression (a float label, MSE loss) takes no class_weights or label_smoothing; "
                              "remove them")
        if self.class_weights and self.task in ("seq2seq", "causal_lm"):
            raise ConfigError(f"class_weights weigh labels of classification tasks, not {self.task}; remove it")
        if self.prompt is not None:
            prompt_fields(self.prompt)
        self.base = check_resource(self.base)  # a zoo: or pkg: spec is resolved when the step runs
        self.lang = normalize(self.lang)
        self.input, self.out = Path(self.input), Path(self.out)
        self._check_training()


