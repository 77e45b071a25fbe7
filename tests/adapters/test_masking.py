"""polytune's own MLM masking (adapters/masking.py): the BERT recipe on a seeded generator."""

from __future__ import annotations

import torch

from polytune.adapters.objectives.lm import LMCollator, mask_tokens


def _draw(probability: float, seed: int = 0, shape=(64, 256)):
    ids = torch.randint(5, 1000, shape, generator=torch.Generator().manual_seed(99))
    maskable = torch.ones(shape, dtype=torch.bool)
    maskable[:, 0] = False  # e.g. [CLS]
    return ids, maskable, mask_tokens(ids, maskable, probability, 4, 1000, torch.Generator().manual_seed(seed))


def test_chosen_positions_follow_the_bert_recipe():
    ids, maskable, (corrupted, labels) = _draw(0.15)
    chosen = labels != -100
    assert not chosen[:, 0].any()  # never a special position
    assert torch.equal(labels[chosen], ids[chosen])  # the label is the original token
    share = chosen.float().mean().item() / maskable.float().mean().item()
    masked = (corrupted == 4) & chosen
    kept = (corrupted == ids) & chosen
    assert abs(share - 0.15) < 0.01
    assert abs(masked.sum().item() / chosen.sum().item() - 0.8) < 0.03
    assert abs(kept.sum().item() / chosen.sum().item() - 0.1) < 0.03  # 10% kept (+ rare random == original)
    assert torch.equal(corrupted[~chosen], ids[~chosen])  # nothing else changes


def test_probability_one_chooses_every_maskable_position_and_seed_decides_the_draws():
    ids, maskable, (_, labels) = _draw(1.0)
    assert torch.equal(labels != -100, maskable)
    assert all(torch.equal(a, b) for a, b in zip(_draw(0.15, 3)[2], _draw(0.15, 3)[2], strict=True))
    assert not torch.equal(_draw(0.15, 3)[2][1], _draw(0.15, 4)[2][1])


def test_collator_pads_masks_and_labels_causal_batches(tiny_bert):
    from polytune.models import load_tokenizer

    tok = load_tokenizer(str(tiny_bert))
    examples = [dict(tok("in the beginning god created"), position=0), dict(tok("and the earth"), position=1)]
    mlm = LMCollator(tok, mlm=True, mlm_probability=1.0, seed=1)(examples)
    pad = mlm["attention_mask"] == 0
    special = torch.isin(mlm["labels"], torch.tensor(tok.all_special_ids))
    assert pad.any() and (mlm["labels"][pad] == -100).all() and not special.any()
    clm = LMCollator(tok, mlm=False, mlm_probability=0.15, seed=1)(examples)
    real = clm["attention_mask"].bool()
    assert torch.equal(clm["labels"][real], clm["input_ids"][real]) and (clm["labels"][~real] == -100).all()


def test_masks_follow_the_stream_position_not_the_batch(tiny_bert):
    """A text at stream position p is masked alike whatever batch it is collated in (1 process of 4 examples or
    2 of 2), and differently at another position."""
    from polytune.models import load_tokenizer

    tok = load_tokenizer(str(tiny_bert))
    text = "in the beginning god created the heaven and the earth and the lord said"
    examples = [dict(tok(text), position=p) for p in range(4)]
    collator = LMCollator(tok, mlm=True, mlm_probability=0.3, seed=5)
    together = collator(examples)
    halves = [collator(examples[:2]), collator(examples[2:])]
    assert torch.equal(together["labels"], torch.cat([h["labels"] for h in halves]))
    assert torch.equal(together["input_ids"], torch.cat([h["input_ids"] for h in halves]))
    assert len({tuple(row.tolist()) for row in together["labels"]}) > 1  # positions draw different masks
