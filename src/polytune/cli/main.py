"""The `polytune` command. Subcommands live in sibling modules, each exposing `register(subparsers)`.

A PolytuneError (bad input, config or model) prints one line and exits 2; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
import warnings

from polytune import __version__
from polytune.errors import PolytuneError, short_reason
from polytune.logs import summaries_hidden
from polytune.models import allowing_pickle

# Imported lazily at start-up; a module registers its own subcommands (cli/<name>.py: register(subparsers)).
SUBCOMMAND_MODULES = ("corpus", "pairs", "balance", "augment", "tokenizer", "adapt", "evaluate", "report", "models",
                      "export", "run", "doctor", "tune", "explain")
# Commands that print no stage summary themselves: the stages' summary log lines are theirs (polytune.logs).
LOGS_SUMMARIES = ("run", "tune")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polytune", description="Specialize pretrained models for new languages.")
    parser.add_argument("--version", action="version", version=f"polytune {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--quiet", action="store_true", help="no progress bars, warnings only")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="load .bin/.pt model weights (torch weights_only loader) when a model has no safetensors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:  # a module that fails to import is a bug to see, never a command to drop
        importlib.import_module(f"polytune.cli.{name}").register(subparsers)
    return parser


def _known_failure(exc: Exception) -> str | None:
    """One line for failures of the user's files or machine that escaped a stage's own checks; None for bugs.

    A corrupt safetensors file and a full disk or denied permission are the user's to fix, not polytune's:
    they get one line and exit code 2 instead of a traceback.
    """
    if type(exc).__module__.startswith("safetensors"):
        return f"corrupt or truncated safetensors weights ({short_reason(exc)}); rebuild or re-download the model"
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}; check the path, its permissions and the free disk space"
    return None


# Libraries whose own log reports (transformers' LOAD REPORT tables, "checkpoint seem corrupted" for the MLM head
# polytune initializes on purpose, a "Loading weights" bar per model, datasets' "Map" bars) read like failures or
# noise to a user; polytune logs what matters in one line of its own and keeps its own progress bars. --debug shows
# all of it. Their log levels go to errors; their warnings do not: only the known ones below are hidden.
CHATTY = ("transformers", "datasets", "huggingface_hub", "peft", "accelerate", "torch", "sentence_transformers")
# (category, message start, module) of warnings that say nothing a polytune user can act on, each with its cause.
KNOWN_NOISE = (
    # peft's get_peft_model reads the deprecated attribute itself (peft_model.py); polytune never calls it.
    (FutureWarning, "`is_gradient_checkpointing` is deprecated", r"transformers\.modeling_utils"),
    # GPT-2's Conv1D layers: peft switches fan_in_fan_out on by itself and says so.
    (UserWarning, "fan_in_fan_out is set to False but the target module is `Conv1D`", r"peft\..*"),
)


def silence_libraries() -> None:
    """Errors only from CHATTY libraries' loggers, and the KNOWN_NOISE warnings hidden (before or after import)."""
    for name in ("TRANSFORMERS_VERBOSITY", "DATASETS_VERBOSITY", "HF_HUB_VERBOSITY"):
        os.environ.setdefault(name, "error")
    for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(name, "1")
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.ERROR)
    for category, message, module in KNOWN_NOISE:
        warnings.filterwarnings("ignore", message=re.escape(message), category=category, module=module)
    if "transformers" in sys.modules:  # already imported: it read the environment then
        sys.modules["transformers"].logging.set_verbosity_error()
        sys.modules["transformers"].logging.disable_progress_bar()
    if "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if not args.debug:
        silence_libraries()
    if args.quiet:
        os.environ["TQDM_DISABLE"] = "1"
    try:
        with allowing_pickle(args.allow_pickle), summaries_hidden(args.command not in LOGS_SUMMARIES):
            return args.handler(args) or 0
    except PolytuneError as exc:
        if args.debug:
            raise
        print(f"polytune: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        message = _known_failure(exc)
        if message is None or args.debug:
            raise
        print(f"polytune: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("polytune: interrupted; rerun the same command to restart the stage cleanly", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
