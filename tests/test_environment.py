"""The lock, the tested window and `polytune doctor`: installs are reproducible and say what they run on."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import re
from pathlib import Path

import pytest

from polytune import environment
from polytune.cli import main
from polytune.io import manifest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"


def _lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and re.fullmatch(r"[0-9][0-9A-Za-z.]*", version), f"not an exact pin: {line!r}"
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_every_installed_package_is_locked_at_its_installed_version():
    """What this environment runs is exactly the lock (CI installs from it; a helper's extra install shows here)."""
    pins = _lock()
    drift = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"].lower().replace("_", "-")
        if name == "polytune":
            continue
        installed = dist.version.split("+")[0]  # torch 2.13.0+cpu is locked as 2.13.0
        if pins.get(name) != installed:
            drift[name] = (installed, pins.get(name))
    assert not drift, f"installed vs locked (regenerate with make lock): {drift}"


def test_tested_versions_are_the_locked_ones():
    pins = _lock()
    tested = environment.tested_versions()
    assert tested and set(tested) <= set(environment.LIBRARIES)
    assert {name: pins[name] for name in tested} == tested
    assert {"torch", "transformers", "peft", "accelerate", "datasets", "datatrove"} <= set(tested)


def test_make_installs_only_from_the_lock_and_ci_runs_make_test():
    installs = [line for line in (ROOT / "Makefile").read_text().splitlines() if "pip install" in line]
    assert installs and all("-c $(LOCK)" in line for line in installs), installs
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(
    "installed, lower, tested, expected",
    [
        ("5.24.0", "5.24", "5.24.0", None),
        ("5.23.0", "5.24", "5.24.0", "older than the lowest supported 5.24"),
        ("5.25.1", "5.24", "5.24.0", "newer than the tested 5.24.0"),
        ("2.13.0+cu128", "2.13", "2.13.0", None),  # a CUDA build of the locked release
        ("6.0.0", None, None, None),  # nothing known: no opinion
        (None, "1.0", "1.0", None),  # not installed
    ],
)
def test_window_warning(installed, lower, tested, expected):
    warning = environment.window_warning("lib", installed, lower, tested)
    assert (warning is None) if expected is None else (expected in warning)


def test_declared_lower_bounds_come_from_the_package_metadata():
    bounds = environment.declared_lower_bounds()
    assert bounds["transformers"] == "5.24" and bounds["torch"] == "2.13"


def test_doctor_prints_versions_assets_and_no_warning_on_the_locked_install(capsys):
    assert main.main(["doctor", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["packages"]["transformers"] == metadata.version("transformers")
    import torch

    assert info["devices"]["cuda"] is torch.cuda.is_available() and "mps" in info["devices"]
    assert set(info["assets"]) == set(environment.ASSETS)
    assert all(info["assets"].values()), info["assets"]  # make test installs the demo extra: all found
    assert info["warnings"] == []
    assert main.main(["doctor"]) == 0
    text = capsys.readouterr().out
    assert f"transformers     {metadata.version('transformers')}" in text and "demo assets:" in text


def test_every_manifest_records_the_environment():
    env = manifest("test", {"seed": 1})["environment"]
    assert env["packages"]["peft"] == metadata.version("peft") and env["python"].count(".") == 2
    assert "devices" not in env  # reading devices would import torch in torch-free stages
