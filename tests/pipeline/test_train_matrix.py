"""Every visual encoder x translator x LLM family x tuner builds and trains two steps, and
gradients reach exactly the trainable parameters (the issue's test matrix)."""
from __future__ import annotations

import pytest
import torch

from videollm_core import REGISTRIES, VideoBatch
from videollm_core.pipeline import VideoLLM, build_pipeline

from llm_zoo import TUNERS, build_llm, pipeline_cfg, video_batch

ENCODERS = {
    "TemporalUnitEncoder": {"type": "TemporalUnitEncoder", "in_dim": 12, "unit_size": 2, "pooling": "mean"},
    "FrameEncoder": {"type": "FrameEncoder", "unit_size": 1, "image_size": 16,
                     "backbone": {"config": {"model_type": "vit", "hidden_size": 16, "num_hidden_layers": 1,
                                             "num_attention_heads": 2, "intermediate_size": 32, "image_size": 16,
                                             "patch_size": 8}}},
}
TRANSLATORS = {
    "LinearTranslator": {"type": "LinearTranslator"},
    "MLPTranslator": {"type": "MLPTranslator"},
    "QFormerTranslator": {"type": "QFormerTranslator", "num_queries": 2, "num_layers": 1, "num_heads": 2, "hidden_dim": 16},
}


def _batch(encoder: str) -> VideoBatch:
    batch = video_batch()
    if encoder == "FrameEncoder":
        g = torch.Generator().manual_seed(1)
        pixels = torch.rand(*batch.features.shape[:2], 3, 16, 16, generator=g)
        batch = VideoBatch(features=pixels, mask=batch.mask, timestamps=batch.timestamps, queries=batch.queries,
                           targets=batch.targets, meta=batch.meta)
    return batch


def _train_two_steps(pipeline: VideoLLM, batch: VideoBatch) -> list[float]:
    trainable = pipeline.trainable_parameters()
    assert trainable, "nothing trains"
    before = {n: p.detach().clone() for n, p in trainable.items()}
    opt = torch.optim.SGD(trainable.values(), lr=0.5)
    losses = []
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        loss = pipeline.loss(pipeline(batch), batch)["loss"]
        loss.backward()
        got = {n for n, p in pipeline.named_parameters() if p.grad is not None}
        assert got == set(trainable), (sorted(set(trainable) - got)[:4], sorted(got - set(trainable))[:4])
        opt.step()
        losses.append(loss.item())
    changed = [n for n, p in trainable.items() if not torch.equal(p.detach(), before[n])]
    assert any(n.startswith("heads.") for n in changed) and any(n.startswith("translator.") for n in changed)
    return losses


@pytest.mark.slow  # 45 tests x 6 encoder/translator pairs: about a minute on an idle 2-core machine
@pytest.mark.parametrize("tuner", list(TUNERS))
def test_every_encoder_translator_trains_exactly_the_trainable_set(family, tuner):
    llm = build_llm(family)
    tuner_obj = REGISTRIES.tuners.build(dict(TUNERS[tuner]), where="model.tuner")
    tuner_obj.apply(llm)
    llm_trainable = set(tuner_obj.trainable_parameters(llm))
    assert llm_trainable == {n for n, p in llm.named_parameters() if p.requires_grad}
    assert (len(llm_trainable) == 0) == (tuner == "Frozen")
    for enc_name, enc_cfg in ENCODERS.items():
        for tr_name, tr_cfg in TRANSLATORS.items():
            torch.manual_seed(0)
            encoder = REGISTRIES.encoders.build(dict(enc_cfg), where="model.encoder")
            translator = REGISTRIES.translators.build(dict(tr_cfg), where="model.translator",
                                                      default_args={"in_dim": encoder.out_dim, "out_dim": llm.embed_dim})
            head = REGISTRIES.heads.build({"type": "UnitClassifierTestHead"}, default_args={"in_dim": llm.hidden_size})
            text = REGISTRIES.encoders.build({"type": "LLMTextEncoder"})
            pipeline = VideoLLM(encoder, translator, llm, {"unit_test": head}, text_encoder=text,
                                prompts={"unit_test": "detect the action"})
            losses = _train_two_steps(pipeline, _batch(enc_name))
            assert all(torch.isfinite(torch.tensor(losses))), (enc_name, tr_name, losses)
            names = {n.removeprefix("llm.") for n in pipeline.trainable_parameters() if n.startswith("llm.")}
            assert names == llm_trainable


def test_build_pipeline_from_config_single_task():
    pipeline = build_pipeline(pipeline_cfg("gpt2", "LoRA"))
    assert pipeline.tasks == ["task"] and pipeline.prompts == {"task": "detect the action"}  # no metric: the default name
    assert pipeline.heads["task"].in_dim == pipeline.llm.hidden_size == 32
    batch = video_batch()
    hidden, stream = pipeline.encode(batch)
    assert hidden.shape == (2, 6, 32)
    # [prompt 3 words][query][units]: sample 0 has query "what happens next" (3), sample 1 "take the cup" (3)
    assert stream.visual_positions[0].tolist() == [6, 7, 8, 9, 10, 11]
    assert stream.visual_positions[1].tolist() == [6, 7, 8, 9, 10, -1]
    assert torch.all(hidden[1, 5] == 0) and stream.mask.sum(1).tolist() == [12, 11]
    sd = pipeline.trainable_state_dict()
    assert sd and all(pipeline.get_parameter(n).requires_grad for n in sd)
    pipeline.load_trainable_state_dict({n: torch.zeros_like(t) for n, t in sd.items()})
    assert all(p.detach().abs().sum().item() == 0 for p in pipeline.trainable_parameters().values())


def test_queries_come_before_units_and_are_seen():
    """Causal attention: with the query first, changing it changes every unit's hidden state."""
    pipeline = build_pipeline(pipeline_cfg("llama", prompt=None)).eval()
    batch = video_batch(b=1)
    h1, _ = pipeline.encode(batch)
    batch.queries = ["take the knife"]
    h2, s2 = pipeline.encode(batch)
    assert s2.visual_positions[0, 0].item() == 3
    assert (h1 - h2).abs().amax(-1).min() > 1e-4


def test_multi_task_heads_and_unknown_task():
    from videollm_core.errors import ConfigError

    cfg = pipeline_cfg("opt")
    head = cfg["model"].pop("head")
    cfg["model"].pop("prompt")
    cfg["tasks"] = [{"name": "a", "head": head, "prompt": "detect the action"}, {"name": "b", "head": dict(head, num_classes=3)}]
    pipeline = build_pipeline(cfg)
    assert pipeline.tasks == ["a", "b"] and pipeline.prompts == {"a": "detect the action", "b": ""}
    batch = video_batch()
    assert pipeline(batch, "b")["logits"].shape == (2, 6, 3)
    with pytest.raises(ConfigError, match="name one"):
        pipeline(batch)
    with pytest.raises(ConfigError, match="unknown task"):
        pipeline(batch, "c")
