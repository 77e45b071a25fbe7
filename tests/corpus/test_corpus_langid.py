"""LID backends (langid, py3langid, fastText) give normalized keys; train_lid is deterministic and accurate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polytune.config import LidTrainConfig
from polytune.corpus.langid import _train_in_fresh_process, available_backends, get_backend, label_key, train_lid
from polytune.errors import ConfigError, InputError, ModelError
from polytune.registry import names

SAMPLES = [
    ("For God so loved the world, that he gave his only begotten Son.", "eng_Latn"),
    ("Car Dieu a tant aimé le monde qu'il a donné son Fils unique.", "fra_Latn"),
    ("Denn also hat Gott die Welt geliebt, daß er seinen eingeborenen Sohn gab.", "deu_Latn"),
    ("Porque de tal manera amó Dios al mundo, que ha dado a su Hijo unigénito.", "spa_Latn"),
    ("Ибо так возлюбил Бог мир, что отдал Сына Своего Единородного.", "rus_Cyrl"),
    ("لانه هكذا احب الله العالم حتى بذل ابنه الوحيد", "ara_Arab"),
    ("하나님이 세상을 이처럼 사랑하사 독생자를 주셨으니", "kor_Kore"),
    ("Vì Đức Chúa Trời yêu thương thế gian, đến nỗi đã ban Con một của Ngài.", "vie_Latn"),
]


@pytest.mark.parametrize(
    ("label", "key"),
    [("__label__en", "eng_Latn"), ("__label__ny", "nya_Latn"), ("__label__swh_Latn", "swh_Latn"),
     ("__label__ara_Arab", "ara_Arab"), ("ko", "kor_Kore"), ("__label__zxx_Zxxx", None), ("__label__und", None),
     ("", None), ("__label__../etc", None)],
)  # fmt: skip
def test_label_key_normalizes_model_labels(label, key):
    assert label_key(label) == key


def test_unknown_backend_says_did_you_mean():
    assert available_backends() == ["fasttext", "heliport", "langid", "py3langid"]
    assert sorted(names("lid_backends")) == available_backends()  # config validates against the registry
    with pytest.raises(ConfigError, match="did you mean 'fasttext'"):
        get_backend("fastext")


def test_langid_backend_expected_labels_and_probabilities():
    predictions = get_backend("langid").predict([text for text, _ in SAMPLES])
    assert [lang for lang, _ in predictions] == [lang for _, lang in SAMPLES]
    assert all(0.9 < p <= 1.0 for _, p in predictions)
    assert get_backend("langid").predict([]) == []


def test_py3langid_backend_expected_labels():
    predictions = get_backend("py3langid").predict([text for text, _ in SAMPLES[:6]])
    assert [lang for lang, _ in predictions] == [lang for _, lang in SAMPLES[:6]]
    assert all(0.0 <= p <= 1.0 for _, p in predictions)


def test_fasttext_missing_or_corrupt_model_is_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        get_backend("fasttext", str(tmp_path / "missing.bin"))
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x00not a fasttext model" * 10)
    with pytest.raises(ModelError, match="corrupt"):
        get_backend("fasttext", str(bad))
    with pytest.raises(ModelError, match="needs a model"):
        get_backend("fasttext")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_fasttext_model_trained_on_verses_identifies_held_out_verses(raw_verses, lid_model):
    backend = get_backend("fasttext", str(lid_model))
    fixed = ["Ndipo Yesu anati kwa iwo, Tsatirani Ine.", "For God so loved the world",
             "لانه هكذا احب الله العالم", "Vì Đức Chúa Trời yêu thương thế gian"]  # fmt: skip
    assert [lang for lang, _ in backend.predict(fixed)] == ["nya_Latn", "eng_Latn", "ara_Arab", "vie_Latn"]
    for lang in ("eng_Latn", "nya_Latn", "ara_Arab", "vie_Latn"):
        test = [r["text"] for r in _rows(raw_verses / f"{lang}.jsonl") if r["split"] == "test"]
        predicted = [key for key, _ in backend.predict(test)]
        assert len(test) > 50 and predicted.count(lang) / len(test) > 0.97, lang
    # fastText itself refuses newlines; the backend flattens them.
    assert backend.predict(["For God so loved\nthe world"])[0][0] == "eng_Latn"


def test_train_lid_counts_manifest_and_identical_bytes(raw_verses, lid_model, tmp_path):
    again = tmp_path / "again.bin"
    counts = train_lid(LidTrainConfig(input=raw_verses, out=again, bucket=20000, epoch=5, seed=13))
    assert again.read_bytes() == lid_model.read_bytes()
    manifest = json.loads((tmp_path / "again.bin.manifest.json").read_text())
    assert manifest["counts"] == counts and manifest["stage"] == "lid"
    train_sizes = {lang: sum(r["split"] == "train" for r in _rows(raw_verses / f"{lang}.jsonl")) for lang in counts}
    assert counts == train_sizes
    capped = train_lid(LidTrainConfig(input=raw_verses, out=tmp_path / "c.bin", bucket=5000, max_per_lang=100))
    assert capped == dict.fromkeys(counts, 100)


def test_fasttext_labels_in_iso_639_1_are_normalized(tmp_path):
    lines = ["__label__en the lord said unto moses", "__label__ny ndipo yehova anati kwa mose"] * 50
    train = tmp_path / "train.txt"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    params = {"epoch": 5, "lr": 0.5, "dim": 16, "minn": 2, "maxn": 3, "bucket": 20000, "thread": 1, "seed": 1}
    _train_in_fresh_process(train, tmp_path / "iso1.bin", params)
    predictions = get_backend("fasttext", str(tmp_path / "iso1.bin")).predict(["the lord said", "yehova anati"])
    assert [lang for lang, _ in predictions] == ["eng_Latn", "nya_Latn"]


def test_train_lid_needs_two_labeled_languages(tmp_path):
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"text": "hello there", "lang": "en", "split": "train"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="2\\+ languages"):
        train_lid(LidTrainConfig(input=one, out=tmp_path / "m.bin"))
    unlabeled = tmp_path / "unlabeled.jsonl"
    unlabeled.write_text(json.dumps({"text": "hello", "split": "train"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="no 'lang'"):
        train_lid(LidTrainConfig(input=unlabeled, out=tmp_path / "m.bin"))
    assert not (tmp_path / "m.bin").exists()


def test_fasttext_batched_topk_matches_the_plain_model(tmp_path):
    """The vectorized batch path equals per-line `model.predict`; rounding equals round(); k > labels is fine."""
    lines = ["__label__en the lord said unto moses", "__label__ny ndipo yehova anati kwa mose"] * 50
    train = tmp_path / "train.txt"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    params = {"epoch": 5, "lr": 0.5, "dim": 16, "minn": 2, "maxn": 3, "bucket": 20000, "thread": 1, "seed": 1}
    _train_in_fresh_process(train, tmp_path / "iso1.bin", params)
    backend = get_backend("fasttext", str(tmp_path / "iso1.bin"))
    texts = ["the lord said", "yehova\nanati", "", "moses"]
    exact, rounded = backend.predict_topk(texts, 5), backend.predict_topk(texts, 5, decimals=4)
    for text, row, short in zip(texts, exact, rounded, strict=True):
        labels, probs = backend._model.predict(text.replace("\n", " "), k=5)
        assert [key for key, _ in row] == [label_key(label) for label in labels]
        assert [p for _, p in row] == pytest.approx([min(1.0, p) for p in probs.tolist()])
        assert short == [(key, round(p, 4)) for key, p in row] and all(0 <= p <= 1 for _, p in row)
