"""FOCUS-style initialization of new embedding rows (Dobler & de Melo, 2023), on fastText vectors.

An auxiliary fastText skip-gram model is trained on the target-language text, tokenized with the extended
tokenizer. Each new token's row is a sparse convex combination of the base rows of "overlapping" tokens (tokens
of the base vocabulary that occur in that text), weighted by sparsemax over cosine similarities in the fastText
space. A new token with no overlapping neighbour keeps its subword_mean row.

fastText is trained in a subprocess: fasttext-numpy2 is not safe to train twice in one process.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from polytune.errors import ModelError

log = logging.getLogger(__name__)

_TRAIN_SCRIPT = """
import sys, numpy as np, fasttext
corpus, words_file, out, dim, epoch = sys.argv[1:6]
# One thread: fastText's fixed internal seed then gives the same vectors every run (this build takes no seed).
model = fasttext.train_unsupervised(corpus, model="skipgram", dim=int(dim), epoch=int(epoch), minCount=1,
                                    minn=2, maxn=5, thread=1, verbose=0)
words = open(words_file, encoding="utf-8").read().split("\\n")
np.save(out, np.stack([model.get_word_vector(w) for w in words]).astype("float32"))
"""


def token_vectors(lines: list[list[str]], words: list[str], dim: int = 64, epoch: int = 5, seed: int = 0):
    """fastText skip-gram vectors of `words`, trained on tokenized `lines` (one thread: deterministic).

    `seed` is accepted for a uniform signature; fasttext-numpy2 has no seed option, one thread is deterministic.

    Returns:
        A float32 array of shape (len(words), dim); words unseen in training get vectors from their n-grams.

    Raises:
        ModelError: the fastText subprocess failed.
    """
    with tempfile.TemporaryDirectory(prefix="polytune-focus-") as tmp:
        corpus, words_file, out = Path(tmp, "corpus.txt"), Path(tmp, "words.txt"), Path(tmp, "vectors.npy")
        # fastText splits on whitespace and reads "</s>" as end of line: tokens are written as they are.
        corpus.write_text("\n".join(" ".join(t for t in line if t.strip()) for line in lines) + "\n", encoding="utf-8")
        words_file.write_text("\n".join(words), encoding="utf-8")
        args = [sys.executable, "-c", _TRAIN_SCRIPT, str(corpus), str(words_file), str(out), str(dim), str(epoch)]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ModelError(f"FOCUS: fastText training failed ({proc.stderr.strip()[-200:]}); check the corpus text")
        return np.load(out)


def sparsemax(scores: torch.Tensor) -> torch.Tensor:
    """Sparsemax over the last dimension (Martins & Astudillo, 2016): a projection onto the simplex.

    Example: sparsemax([2.0, 0.0]) -> [1.0, 0.0]; sparsemax([0.5, 0.5]) -> [0.5, 0.5].
    """
    z, _ = torch.sort(scores, dim=-1, descending=True)
    k = torch.arange(1, scores.shape[-1] + 1, dtype=scores.dtype, device=scores.device)
    cumulative = z.cumsum(-1)
    support = (1 + k * z) > cumulative
    k_max = support.sum(-1, keepdim=True)
    tau = (cumulative.gather(-1, k_max - 1) - 1) / k_max.to(scores.dtype)
    return torch.clamp(scores - tau, min=0)


def focus_rows(
    base: torch.Tensor, new_vectors: np.ndarray, overlap_ids: list[int], overlap_vectors: np.ndarray
) -> torch.Tensor:
    """Rows = sparsemax(cosine(new, overlap)) @ base[overlap_ids].

    Args:
        base: base embedding rows (base_vocab, hidden).
        new_vectors: fastText vectors of the new tokens (n_new, dim).
        overlap_ids: base ids of the overlapping tokens.
        overlap_vectors: their fastText vectors (n_overlap, dim).
    """
    new = torch.nn.functional.normalize(torch.from_numpy(new_vectors).float(), dim=-1)
    old = torch.nn.functional.normalize(torch.from_numpy(overlap_vectors).float(), dim=-1)
    weights = sparsemax(new @ old.T)
    return (weights @ base[overlap_ids].float()).to(base.dtype)


def focus_init(model: Any, extension: dict[str, Any], tokenizer: Any, texts: list[str], seed: int, **kw: Any) -> int:
    """Overwrite the new rows of `model` (input and untied output embeddings) with FOCUS rows.

    Args:
        model: a model already extended (`embeddings.extend_model`).
        extension: the parsed extension.json.
        tokenizer: the extended tokenizer.
        texts: target-language text to train the fastText vectors on.
        seed: fastText seed.
        **kw: dim and epoch of the fastText model.

    Returns:
        How many new rows got a FOCUS row (the others keep their previous initialization).
    """
    base_vocab = int(extension["base_vocab_size"])
    lines = [tokenizer.tokenize(text) for text in texts]
    counts = Counter(t for line in lines for t in line)
    vocab = tokenizer.get_vocab()
    added = [a for a in extension["added"] if counts[a["token"]] > 0]
    special = set(tokenizer.all_special_tokens)
    overlap = sorted(t for t in counts if vocab.get(t, base_vocab) < base_vocab and t not in special)
    if not added or not overlap:
        log.warning("FOCUS: no new token (%d) or no overlapping token (%d) in the text; rows unchanged",
                    len(added), len(overlap))
        return 0
    vectors = token_vectors(lines, [a["token"] for a in added] + overlap, seed=seed, **kw)
    new_vectors, overlap_vectors = vectors[: len(added)], vectors[len(added) :]
    overlap_ids = [vocab[t] for t in overlap]
    ids = [int(a["id"]) for a in added]
    matrices = [model.get_input_embeddings().weight]
    output = model.get_output_embeddings()
    if output is not None and output.weight.data_ptr() != matrices[0].data_ptr():
        matrices.append(output.weight)  # an untied head gets rows from its own base rows
    with torch.no_grad():
        for weight in matrices:
            rows = focus_rows(weight[:base_vocab].detach().cpu(), new_vectors, overlap_ids, overlap_vectors)
            weight[ids] = rows.to(weight.device, weight.dtype)
    log.info("FOCUS: %d of %d new rows from %d overlapping tokens", len(ids), len(extension["added"]), len(overlap))
    return len(ids)
