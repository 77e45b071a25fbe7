"""Language-adapter objectives, one interface (`base.Objective`): mlm and clm (`lm.py`), denoise (`denoise.py`),
align and align mixed with mlm (`align.py`). Each is a registry row (`objectives`); `build` picks one for a config.

Example: objective = build(cfg)  # cfg.objective "auto" on a BERT base -> MaskedLM
"""

from __future__ import annotations

from polytune import registry
from polytune.adapters.objectives.base import Objective
from polytune.config import LanguageAdapterConfig
from polytune.models import lm_objective

__all__ = ["Objective", "build"]


def build(cfg: LanguageAdapterConfig) -> Objective:
    """The objective a language adapter config trains: `objectives` weights (align and/or mlm) when given, else
    `objective` (auto: mlm for encoders, clm for decoders, denoise for encoder-decoders).

    Raises:
        ModelError: the base has no readable config, or the objective cannot train it (align on a decoder).
    """
    weights = cfg.objectives
    if weights is None and cfg.objective == "align":
        weights = {"align": 1.0}
    if weights is not None and weights.get("align"):
        return registry.load("objectives", "align")(cfg, weights)
    name = "mlm" if weights is not None else lm_objective(cfg.base) if cfg.objective == "auto" else cfg.objective
    return registry.load("objectives", name)(cfg)
