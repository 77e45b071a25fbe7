"""Quiet by default: a model load through the CLI shows polytune's one line, not transformers' report tables."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Loading MiniLM's (absent) MLM head is what printed "LOAD REPORT" and "This checkpoint seem corrupted" in the demo.
SCRIPT = r"""
import logging, sys
from polytune.cli.main import silence_libraries
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
if sys.argv[2] == "quiet":
    silence_libraries()
from polytune.models import load_mlm
load_mlm(sys.argv[1])
"""


def _load(path, mode: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_VERBOSITY", "_DISABLE_PROGRESS_BARS"))}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(path), mode], capture_output=True, text=True,
                          env={**env, "HF_HUB_OFFLINE": "1"}, timeout=300, check=True)  # fmt: skip
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_library_reports_are_silenced_and_polytune_says_it_in_one_line(minilm_path):
    loud = _load(minilm_path, "loud")
    assert "LOAD REPORT" in loud  # without silencing, the table is there: the check below can fail
    quiet = _load(minilm_path, "quiet")
    assert "LOAD REPORT" not in quiet and "seem corrupted" not in quiet and "Loading weights" not in quiet
    lines = [line for line in quiet.splitlines() if line.strip()]
    assert len(lines) == 1 and "has no MLM head: initialized" in lines[0], quiet


def test_only_known_library_warnings_are_hidden():
    """The known noise (peft reading a deprecated transformers attribute) is hidden; any other warning of the same
    libraries, such as the deprecation of a call polytune itself would make, still shows."""
    import warnings

    from polytune.cli.main import silence_libraries

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        silence_libraries()
        for message in ("`is_gradient_checkpointing` is deprecated and will be removed in v6.",
                        "`gradient_checkpointing_enable` is deprecated and will be removed in v6."):  # fmt: skip
            warnings.warn_explicit(message, FutureWarning, "modeling_utils.py", 1,
                                   module="transformers.modeling_utils")
    assert [str(w.message) for w in seen] == [
        "`gradient_checkpointing_enable` is deprecated and will be removed in v6."]


def test_a_command_module_that_fails_to_import_is_an_error_not_a_missing_command(monkeypatch):
    from polytune.cli import main as cli

    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", (*cli.SUBCOMMAND_MODULES, "no_such_command_module"))
    with pytest.raises(ModuleNotFoundError, match="no_such_command_module"):
        cli.build_parser()
