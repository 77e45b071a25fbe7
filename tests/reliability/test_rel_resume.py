"""Adapter training checkpoints: SIGKILL after a checkpoint, rerun, and the run resumes from it exactly.

The resumed run must log the step it resumed from (so it provably did not restart from 0) and save an adapter
byte-identical to an uninterrupted run's. Checkpoints are safetensors + JSON: nothing is pickled.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from polytune.adapters import checkpoints
from polytune.config import LanguageAdapterConfig

SEED = 11
SAVE_EVERY = 5


def _argv(kind: str, corpus: Path, bert: Path, out: Path) -> list[str]:
    # 16 records in batches of 4: an epoch is 4 steps, so checkpoints at 5 and 10 fall mid-epoch (skipped batches).
    common = ["--base", str(bert), "--input", str(corpus), "--out", str(out), "--max-steps", "16",
              "--batch-size", "4", "--max-length", "24", "--max-train-records", "16",
              "--save-every", str(SAVE_EVERY)]
    if kind == "language":
        return ["adapt", "language", "--lang", "nya_Latn", *common]
    if kind == "denoise":  # `bert` is a tiny T5 here: span corruption drawn in the training step
        return ["adapt", "language", "--lang", "nya_Latn", "--target-modules", "q", "v", *common]
    # task-early: the dev history and the best weights so far ride in the checkpoint; a high learning rate so the
    # best step moves around, and a patience that never stops it before the kill.
    early = ["--eval-every", "3", "--patience", "100", "--learning-rate", "5e-2"] if kind == "task-early" else []
    return ["adapt", "task", "--lang", "eng_Latn", "--label-field", "genre", *common, *early]


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory, synthetic_corpus) -> Path:
    """A 1-layer T5 over a word-level tokenizer of the synthetic corpus (no sentinels: span deletion)."""
    import json

    from tests.adapters.test_task_types import _word_tokenizer
    from transformers import T5Config, T5ForConditionalGeneration

    folder = tmp_path_factory.mktemp("tiny_t5")
    texts = [json.loads(x)["text"] for x in (synthetic_corpus / "nya_Latn" / "part-00000.jsonl").open()]
    tok = _word_tokenizer(folder, texts)
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(tok), d_model=32, d_ff=64, d_kv=16, num_layers=1, num_heads=2,
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)  # fmt: skip
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


def _kill_after_checkpoint(argv: list[str], work: Path, step: int) -> None:
    """Run `polytune ARGV` in a subprocess and SIGKILL it once checkpoint `step` is complete."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "polytune.cli.main", "--quiet", *argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = work / f"checkpoint-{step}" / checkpoints.COMPLETE
    deadline = time.monotonic() + 300  # generous: a loaded 2-core machine takes minutes to start a run
    while proc.poll() is None and not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    finished = proc.poll() is not None
    if not finished:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not finished and marker.exists(), "the run ended before its checkpoint: nothing to resume"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["language", "task", "task-early", "denoise"])
def test_sigkill_after_a_checkpoint_resumes_from_it_exactly(tmp_path, synthetic_corpus, tiny_bert, cli, digest,
                                                            caplog, kind, request):  # fmt: skip
    out = tmp_path / "out"
    base = request.getfixturevalue("tiny_t5") if kind == "denoise" else tiny_bert
    argv = _argv(kind, synthetic_corpus, base, out)
    code, _, err = cli(argv)
    assert code == 0, err
    reference = digest(out)
    shutil.move(out, tmp_path / "reference")
    step = random.Random(f"{SEED}-{kind}").choice([SAVE_EVERY, 2 * SAVE_EVERY])
    work = checkpoints.work_dir(out)
    _kill_after_checkpoint(argv, work, step)
    assert not out.exists()
    with caplog.at_level(logging.WARNING, logger="polytune"):
        code, _, err = cli(argv)
    assert code == 0, err
    resumed = [r.getMessage() for r in caplog.records if "resuming from checkpoint" in r.getMessage()]
    # A checkpoint newer than `step` may have completed before the kill landed; never step 0.
    assert resumed and any(f"step {n} of 16" in resumed[0] for n in (step, step + SAVE_EVERY)), resumed
    assert digest(out) == reference, f"{kind} adapter resumed at step {step} differs from an uninterrupted run"
    assert not work.exists(), "the checkpoint folder outlived the final save"
    if kind == "task-early":
        stopping = __import__("json").loads((out / "manifest.json").read_text())["early_stopping"]
        assert [s for s, _ in stopping["history"]] == [3, 6, 9, 12, 15], stopping  # measured before the kill too


def test_checkpoints_of_another_config_are_refused_in_one_line(tmp_path, synthetic_corpus, tiny_bert, cli):
    out = tmp_path / "la"
    work = checkpoints.work_dir(out)
    work.mkdir()
    (work / "run.json").write_text('{"hash": "0123456789abcdef"}', encoding="utf-8")
    code, _, err = cli(_argv("language", synthetic_corpus, tiny_bert, out))
    errors = [line for line in err.splitlines() if line.startswith("polytune: error: ")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert "another config" in errors[0] and str(work) in errors[0] and "0123456789ab" in errors[0]
    assert not out.exists() and (work / "run.json").exists()  # the user's checkpoints are left alone


def test_rng_states_round_trip_without_pickle(tmp_path):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    checkpoints.save_rng(tmp_path, 0)
    expected = (random.random(), np.random.rand(), torch.rand(2))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    checkpoints.load_rng(tmp_path, 0)
    got = (random.random(), np.random.rand(), torch.rand(2))
    assert got[:2] == expected[:2] and torch.equal(got[2], expected[2])
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".safetensors"]


def test_optimizer_and_scheduler_round_trip(tmp_path):
    def make():
        torch.manual_seed(0)
        param = torch.nn.Parameter(torch.randn(3))
        opt = torch.optim.AdamW([param], lr=0.1, betas=(0.8, 0.9))
        return param, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / 10)

    def step(param, opt, sched):
        opt.zero_grad()
        (param ** 2).sum().backward()
        opt.step()
        sched.step()

    param, opt, sched = make()
    for _ in range(3):
        step(param, opt, sched)
    checkpoints.save_optimizer(opt, sched, tmp_path)
    saved = param.detach().clone()
    step(param, opt, sched)
    other, opt2, sched2 = make()
    with torch.no_grad():
        other.copy_(saved)
    checkpoints.load_optimizer(opt2, sched2, tmp_path)
    step(other, opt2, sched2)
    assert torch.equal(other, param) and sched2.get_last_lr() == sched.get_last_lr()
    assert opt2.param_groups[0]["betas"] == (0.8, 0.9)


@pytest.mark.parametrize(("max_steps", "given", "expected"),
                         [(30, None, 0), (49, None, 0), (50, None, 5), (1000, None, 100), (10_000, None, 200),
                          (1000, 0, 0), (1000, 7, 7)])
def test_default_checkpoint_interval(tmp_path, max_steps, given, expected):
    (tmp_path / "base").mkdir()
    cfg = LanguageAdapterConfig(input="in.jsonl", out="out", base=str(tmp_path / "base"), lang="nya",
                                max_steps=max_steps, save_every=given)  # fmt: skip
    assert checkpoints.save_every(cfg) == expected
