"""Show that chosen tests can fail: apply one mutation of the behaviour a test names, run that test, expect a failure.

    .venv/bin/python tools/mutation_check.py          # every mutation below
    .venv/bin/python tools/mutation_check.py 0 3      # some of them, by index

Each mutation is a one-line edit of the committed tree in a scratch git worktree (your working tree is never
touched); the test runs there alone, against that worktree's src/. Prints one line per mutation and exits 1 when a
mutated behaviour passed its test (a test that cannot fail). The list holds the tests issue 26 named as unable to
fail, and later ones of the same kind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"

# (what the mutation breaks, file, text, replacement, test)
MUTATIONS = [
    ("the caller's seed is not used for the SentencePiece sample", "src/polytune/tokenizer/train.py",
     "_sample(sentences(), input_sentence_size, seed)", "_sample(sentences(), input_sentence_size, 13)",
     "tests/tokenizer/test_tokenizer_train.py::test_same_texts_and_seed_give_identical_model_bytes"),
    ("gradient accumulation ignored (every micro-batch an optimizer step)", "src/polytune/adapters/loop.py",
     'self.accumulation = max(1, int(getattr(cfg, "gradient_accumulation_steps", 1)))', "self.accumulation = 1",
     "tests/adapters/test_recipe.py::test_accumulation_and_checkpointing_train_as_one_plain_batch"),
    ("a task adapter trains without its source language adapter", "src/polytune/adapters/tasks/base.py",
     "    if cfg.lang_adapter is not None:\n        # MAD-X", "    if False:\n        # MAD-X",
     "tests/adapters/test_recipe.py::test_task_adapter_trains_on_the_source_language_adapter"),
    ("doctor reports the opposite of torch's CUDA flag", "src/polytune/models/devices.py",
     "    cuda = torch.cuda.is_available()", "    cuda = not torch.cuda.is_available()",
     "tests/test_environment.py::test_doctor_prints_versions_assets_and_no_warning_on_the_locked_install"),
    ("a run's report evaluates only the first target language", "src/polytune/pipeline.py",
     '"langs": s.target_langs, "baseline"', '"langs": s.target_langs[:1], "baseline"',
     "tests/test_pipeline.py::test_end_to_end_reduced_demo_then_resume"),
    ("a config key's row is missing from the reference", "docs/reference/config.md",
     "| `seed` | seed of every stage (default 13) |\n", "",
     "tests/test_docs.py"),
    ("chrF counts hypothesis n-grams of an order the reference lacks",
     "src/polytune/evaluation/metrics/sacrebleu_stats.py",
     "row += [sum(hyp.values()) if ref else 0,", "row += [sum(hyp.values()),",
     "tests/evaluation/test_sacrebleu_stats.py"),
]


def run(index: int, worktree: Path) -> bool:
    """Apply mutation `index` in `worktree`, run its test, restore the file; True when the test failed."""
    what, path, old, new, test = MUTATIONS[index]
    target = worktree / path
    text = target.read_text(encoding="utf-8")
    if old not in text:
        raise SystemExit(f"mutation {index}: {path} no longer holds {old!r}; update tools/mutation_check.py")
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(worktree / "src")}
    try:
        done = subprocess.run([str(PYTHON), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", test],
                              cwd=worktree, env=env, capture_output=True, text=True)  # fmt: skip
    finally:
        target.write_text(text, encoding="utf-8")
    failed = done.returncode != 0
    print(f"[{index}] {what}: {test} -> {'FAILED (good)' if failed else 'passed (the test cannot see it)'}")
    return failed


def main(argv: list[str]) -> int:
    chosen = [int(a) for a in argv] or list(range(len(MUTATIONS)))
    with tempfile.TemporaryDirectory() as tmp:
        worktree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), "HEAD"], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        try:
            results = [run(i, worktree) for i in chosen]
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, capture_output=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
