"""`accelerate launch --multi_gpu` on a machine without GPU runs DDP on CPU (gloo): two processes, one folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_two_process_cpu_ddp_trains_one_adapter(tmp_path, tiny_bert, synthetic_corpus):
    launcher = Path(sys.executable).parent / "accelerate"
    if not launcher.exists():
        pytest.skip("accelerate is not installed")
    out = tmp_path / "task"
    cmd = [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "polytune.cli.main", "adapt", "task",
           "--base", str(tiny_bert), "--input", str(synthetic_corpus), "--out", str(out),
           "--max-steps", "3", "--batch-size", "4"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1",
           "TRANSFORMERS_VERBOSITY": "info"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Two ranks of 4 examples each: one optimizer step sees 8 examples.
    assert "Total train batch size (w. parallel, distributed & accumulation) = 8" in proc.stdout + proc.stderr
    meta = json.loads((out / "manifest.json").read_text())
    assert meta["steps"] == 3 and (out / "adapter_model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["task"]  # no leftover temporary folder from rank 1
