"""The real MiniLM (no MLM head shipped): a language adapter runs and saves; a task adapter learns genres."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from polytune.adapters import train_language_adapter, train_task_adapter
from polytune.adapters.methods import METHODS
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig


@pytest.mark.slow
def test_minilm_language_adapter(tmp_path, minilm_path, synthetic_corpus):
    out = tmp_path / "nya"
    summary = train_language_adapter(
        LanguageAdapterConfig(
            base=str(minilm_path),
            input=synthetic_corpus,
            lang="nya",
            out=out,
            max_steps=4,
            batch_size=8,
            max_length=32,
            max_eval_records=16,
            learning_rate=1e-3,
        )
    )
    assert summary["steps"] == 4
    tensors = load_file(out / "adapter_model.safetensors")
    assert tensors and all(METHODS["lora"].prefix in k for k in tensors)  # no head, no embedding matrix
    assert json.loads((out / "manifest.json").read_text())["base"] == str(minilm_path)


@pytest.mark.slow
def test_minilm_task_adapter_learns_genre_markers(tmp_path, minilm_path, synthetic_corpus):
    summary = train_task_adapter(
        TaskAdapterConfig(
            base=str(minilm_path),
            input=synthetic_corpus,
            out=tmp_path / "task",
            max_steps=60,
            batch_size=16,
            max_length=48,
            learning_rate=3e-3,
            max_eval_records=40,
        )
    )
    # 8 genres (4 in the dev chapters): chance is at most 0.25.
    assert summary["dev_accuracy"] >= 0.6
    assert summary["loss_last"] < summary["loss_first"]
