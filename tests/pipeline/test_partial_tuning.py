"""``Partial`` tuning unfreezes exactly the blocks it names: the first, the last, or both, in
every LLM family (the paper compares tuning the first block with tuning the last)."""
from __future__ import annotations

import pytest

from videollm_core import REGISTRIES
from videollm_core.errors import ConfigError
from videollm_plugins.tuning.basic import decoder_blocks

from llm_zoo import FAMILIES, build_llm


def _trainable_blocks(llm) -> list[int]:
    """Indices of the blocks with a trainable parameter; asserts nothing outside the blocks trains."""
    blocks = list(decoder_blocks(llm.model))
    inside = {id(p) for b in blocks for p in b.parameters()}
    assert not [n for n, p in llm.named_parameters() if p.requires_grad and id(p) not in inside]
    picked = [i for i, b in enumerate(blocks) if any(p.requires_grad for p in b.parameters())]
    for i in picked:  # a chosen block trains in full
        assert all(p.requires_grad for p in blocks[i].parameters())
    return picked


def _tuned(family: str, **args):
    llm = build_llm(family)
    REGISTRIES.tuners.build({"type": "Partial", **args}, where="model.tuner").apply(llm)
    return llm


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize(("args", "expected"), [({"first_n_blocks": 1}, [0]), ({"last_n_blocks": 1}, [1]),
                                                ({"first_n_blocks": 1, "last_n_blocks": 1}, [0, 1]),
                                                ({"first_n_blocks": 2}, [0, 1])])
def test_partial_unfreezes_the_named_blocks(family, args, expected):
    assert _trainable_blocks(_tuned(family, **args)) == expected


def test_first_and_last_block_differ_but_train_as_many_parameters():
    first, last = _tuned("gpt2", first_n_blocks=1), _tuned("gpt2", last_n_blocks=1)
    names = {k: {n for n, p in m.named_parameters() if p.requires_grad} for k, m in (("first", first), ("last", last))}
    assert names["first"] and names["last"] and not names["first"] & names["last"]
    assert all(".h.0." in n for n in names["first"]) and all(".h.1." in n for n in names["last"])
    count = {k: sum(p.numel() for p in m.parameters() if p.requires_grad) for k, m in (("first", first), ("last", last))}
    assert count["first"] == count["last"] > 0


@pytest.mark.parametrize(("args", "where"), [({"first_n_blocks": 3}, "first_n_blocks"), ({"last_n_blocks": 5}, "last_n_blocks")])
def test_more_blocks_than_the_llm_has_is_a_config_error(args, where):
    with pytest.raises(ConfigError, match="the LLM has 2 blocks") as err:
        _tuned("gpt2", **args)
    assert err.value.where == f"model.tuner.{where}"


def test_negative_block_count_is_a_config_error():
    with pytest.raises(ConfigError, match="first_n_blocks must be >= 0"):
        REGISTRIES.tuners.build({"type": "Partial", "first_n_blocks": -1}, where="model.tuner")
