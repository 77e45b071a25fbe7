"""`polytune.models` stands below the stages: importing it loads no stage package and none of torch,
transformers or peft (they load inside the functions that need them)."""

from __future__ import annotations

import json
import subprocess
import sys

STAGES = ("adapters", "corpus", "tokenizer", "evaluation", "tune", "pipeline", "cli")
CODE = (
    "import json, sys; import polytune.models, polytune.models.generation, polytune.models.ensembles; "
    "print(json.dumps(sorted(m for m in sys.modules if m.startswith('polytune') or m.split('.')[0] in "
    "('torch', 'transformers', 'peft'))))"
)


def test_models_imports_no_stage_and_no_torch():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    assert "polytune.models.generation" in loaded  # the probe saw the package itself
    stages = [m for m in loaded if m.split(".")[1:2] and m.split(".")[1] in STAGES]
    assert stages == [], stages
    assert not [m for m in loaded if m.split(".")[0] in ("torch", "transformers", "peft")]


def test_the_old_names_still_import_from_polytune_models():
    import polytune.models as models

    for name in ("allowing_pickle", "pickle_allowed", "load_config", "config_hash", "tokenizer_hash",
                 "load_tokenizer", "load_mlm", "load_clm", "load_seq2seq", "load_sequence_classifier",
                 "load_token_classifier", "load_task_base", "lm_objective", "read_adapter_manifest",
                 "merge_language_adapter", "require_classifier", "load_classifier", "read_labels", "LABELED_TASKS",
                 "check_task_architecture", "init_missing_head", "load_task_model", "devices"):  # fmt: skip
        assert hasattr(models, name), name
    assert callable(models.devices)  # the function, not the module of the same name
