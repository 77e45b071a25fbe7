"""Eval suites: the shipped per-language YAML files load, the template regenerates them, bad suites fail early."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytune.errors import ConfigError, InputError
from polytune.evaluation.suites import load_suite, load_suites, write_suites

SUITES = Path(__file__).resolve().parents[2] / "eval" / "suites"


def test_shipped_suites_match_the_template(tmp_path):
    shipped = load_suites(SUITES)
    assert set(shipped) >= {"nya_Latn", "ara_Arab", "vie_Latn"}
    assert shipped["nya_Latn"]["metrics"] == ["accuracy", "macro_f1"]
    written = write_suites(SUITES / "_template.yaml", ["ny", "ar"], tmp_path)
    assert [p.name for p in written] == ["nya_Latn.yaml", "ara_Arab.yaml"]
    assert written[0].read_text(encoding="utf-8") == (SUITES / "nya_Latn.yaml").read_text(encoding="utf-8")


def test_bad_suites(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("task: t\nlang: nya_Latn\nsplit: test\nmetrics: [acuracy]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="did you mean 'accuracy'"):
        load_suite(bad)
    bad.write_text("task: t\nlang: nya_Latn\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing split, metrics"):
        load_suite(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no suites in"):
        load_suites(tmp_path / "empty")
    with pytest.raises(InputError, match="not found"):
        load_suites(tmp_path / "missing")
    (tmp_path / "t.yaml").write_text("task: t\n", encoding="utf-8")
    with pytest.raises(InputError, match="no \\{lang\\} placeholder"):
        write_suites(tmp_path / "t.yaml", ["nya"], tmp_path / "out")
