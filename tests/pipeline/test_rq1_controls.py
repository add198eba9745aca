"""The RQ1 controls selectable from YAML: ``model.llm: {type: NoLLM}`` (no reasoner: the translator
straight into the head) and ``HFCausalLM(pretrained=..., random_init=True)`` (the same architecture,
untrained weights); plus the encoder-only reasoner ``T5Encoder`` (offline only)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from videollm_core import REGISTRIES, VideoBatch, build_pipeline, load_config
from videollm_core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["online", "action", "detection"]
NOLLM = {"type": "NoLLM", "hidden_size": 64, "tokenizer": {"words": WORDS}}


@pytest.fixture(autouse=True)
def demo_cache(tmp_path_factory, monkeypatch):
    """The demo trees of the examples go to one folder shared by this module's tests."""
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path_factory.getbasetemp() / "rq1-demo-cache"))


def _cfg(example: str = "oad", llm: dict | None = None, tuner: str = "Frozen", **overrides):
    return load_config(ROOT / "examples" / f"{example}.yaml",
                       {"model.llm": llm or NOLLM, "model.tuner": {"type": tuner}, **overrides})


def _perturb(pipeline, scale: float = 0.2) -> None:
    """Untrained heads and translators: make every output depend on the input."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in pipeline.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * scale)


def _batch(feats: torch.Tensor) -> VideoBatch:
    b, t, _ = feats.shape
    start = torch.arange(t, dtype=torch.float32)
    return VideoBatch(features=feats, mask=torch.ones(b, t, dtype=torch.bool),
                      timestamps=torch.stack([start, start + 1], -1)[None].expand(b, t, 2),
                      meta=[{"video_id": f"v{i}", "fps": 1.0, "first_step": 0, "duration": float(t)} for i in range(b)])


# -- NoLLM ------------------------------------------------------------------------------
def test_nollm_trains_and_evaluates_through_the_runner(tmp_path, monkeypatch):
    from tasks.controls import train_example

    metrics, _, runner = train_example("oad", tmp_path, monkeypatch, **{"model.llm": NOLLM, "model.tuner": {"type": "Frozen"},
                                                                        "train.max_steps": 4, "train.eval_every": 4})
    assert "oad/mAP" in metrics and all(v == v for v in metrics.values())  # evaluated, no NaN
    llm = runner.pipeline.llm
    assert type(llm).__name__ == "NoLLM" and llm.embed_dim == llm.hidden_size == 64
    assert not any(p.requires_grad for p in llm.parameters())  # Frozen: only translator and head train
    assert {n.split(".")[0] for n in runner.pipeline.trainable_parameters()} == {"translator", "heads"}
    ids, mask = llm.tokenize(["online action detection", "action"])
    assert ids.shape == (2, 3) and mask.sum().item() == 4 and llm.embed_text(ids).shape == (2, 3, 64)
    full = build_pipeline(_cfg(tuner="Full")).llm  # Full trains the text embeddings, [PAD] [UNK] [BOS] [EOS] + words
    assert {n for n, p in full.named_parameters() if p.requires_grad} == {"model.embed_tokens.weight"}
    assert full.model.embed_tokens.num_embeddings == 4 + len(WORDS)


def test_nollm_streams_unit_by_unit_like_the_full_forward():
    pipeline = build_pipeline(_cfg()).eval()
    _perturb(pipeline)
    steps, d = 12, pipeline.encoder.in_dim
    feats = torch.randn(steps, d, generator=torch.Generator().manual_seed(1))
    head = pipeline.heads["oad"]
    seen: list[torch.Tensor] = []
    handle = head.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach().clone()))
    with torch.no_grad():
        full = pipeline(_batch(feats[None]))
    stream = pipeline.stream()
    parts = [stream.push(feats[i : i + 1]) for i in range(steps)] + [stream.flush()]
    handle.remove()
    parts = [p for p in parts if p is not None]
    assert stream.units == steps == len(parts) and stream.cache is None  # NoLLM keeps no state
    assert torch.allclose(torch.cat(seen[1:], 1), seen[0], atol=1e-6)
    for key in head.classifiers:
        assert torch.allclose(torch.cat([p[key] for p in parts], 1), full[key], atol=1e-5), key
    # the adapter alone: continuing a "cache" equals the full forward
    llm, x = pipeline.llm, torch.randn(2, 7, 64)
    h1, cache = llm(x[:, :3], torch.ones(2, 3, dtype=torch.bool), use_cache=True)
    h2, _ = llm(x[:, 3:], torch.ones(2, 4, dtype=torch.bool), cache=cache, use_cache=True)
    assert torch.equal(torch.cat([h1, h2], 1), llm(x, torch.ones(2, 7, dtype=torch.bool))[0])


def test_nollm_unit_sees_only_itself_but_an_llm_sees_the_past():
    feats = torch.randn(1, 10, 32, generator=torch.Generator().manual_seed(2))
    other = feats.clone()
    other[:, :6] = torch.randn(1, 6, 32, generator=torch.Generator().manual_seed(3))  # every unit before t=6 changes
    other[:, 7:] += 1.0  # and every unit after it
    hidden = {}
    for name, llm in (("nollm", None), ("gpt2", load_config(ROOT / "examples" / "oad.yaml")["model"]["llm"])):
        pipeline = build_pipeline(_cfg(llm=llm)).eval()
        _perturb(pipeline)
        with torch.no_grad():
            hidden[name] = [pipeline.encode(_batch(f), "oad")[0][0] for f in (feats, other)]
    a, b = hidden["nollm"]
    assert torch.equal(a[6], b[6]) and not torch.allclose(a[5], b[5])  # unit 6 unchanged, its neighbours changed
    a, b = hidden["gpt2"]
    assert not torch.allclose(a[6], b[6])  # a causal LLM carries the past into unit 6


def test_nollm_cannot_generate_text():
    llm = REGISTRIES.llms.build(dict(NOLLM), where="model.llm")
    for call in (lambda: llm.lm_logits(torch.zeros(1, 2, 64)), lambda: llm.generate(torch.zeros(1, 2, 64), None)):
        with pytest.raises(ConfigError, match="NoLLM cannot generate text") as err:
            call()
        assert err.value.where == "model.llm" and "captioning heads need an LLM" in err.value.hint
    pipeline = build_pipeline(_cfg("online_caption", llm={**NOLLM, "tokenizer": {"words": ["narrate", "c"]}}))
    batch = _batch(torch.randn(2, 6, 32))
    batch.targets = {"caption": ["c takes the cup", "c opens the tap"]}
    for training in (True, False):  # teacher forcing, then generation
        pipeline.train(training)
        with pytest.raises(ConfigError, match="NoLLM cannot generate text") as err:
            pipeline(batch)
        assert err.value.where == "model.llm"


@pytest.mark.parametrize("tuner", [{"type": "LoRA", "r": 2}, {"type": "LoRA", "target_modules": ["embed_tokens"]},
                                   {"type": "PromptTuning", "num_virtual_tokens": 2}], ids=["LoRA", "LoRA-targets", "Prompt"])
def test_nollm_with_a_peft_tuner_names_model_tuner(tuner):
    cfg = _cfg()
    cfg["model"]["tuner"] = tuner
    with pytest.raises(ConfigError, match="cannot adapt NoLLM") as err:
        build_pipeline(cfg)
    assert err.value.where == "model.tuner" and "Frozen" in err.value.hint


def test_nollm_without_tokenizer_reads_no_text():
    pipeline = build_pipeline(_cfg(llm={"type": "NoLLM", "hidden_size": 64}, **{"model.prompt": ""}))
    assert pipeline(_batch(torch.randn(1, 4, 32)))["action"].shape[:2] == (1, 4)
    with pytest.raises(ConfigError, match="no tokenizer") as err:
        pipeline.llm.tokenize(["online"])
    assert err.value.where == "model.llm.tokenizer"


def test_videollm_list_llms_shows_nollm(capsys):
    from videollm_core.cli.commands import main

    code = main(["list", "llms", "--json"])
    listing = json.loads(capsys.readouterr().out)["llms"]
    assert not code
    (entry,) = [c for c in listing if c["name"] == "NoLLM"]
    assert entry["params"]["hidden_size"] == {"default": 256, "annotation": "int"}
    (hf,) = [c for c in listing if c["name"] == "HFCausalLM"]
    assert hf["params"]["random_init"] == {"default": False, "annotation": "bool"}


# -- random_init -------------------------------------------------------------------------
@pytest.fixture
def tiny_gpt2(tmp_path) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    from videollm_plugins.llms.tokenizer import word_level_tokenizer

    tok = word_level_tokenizer(WORDS)
    torch.manual_seed(7)  # not random_init's default init_seed 0: the "pretrained" weights must differ from its draw
    folder = tmp_path / "gpt2-tiny"
    config = GPT2Config(n_layer=1, n_embd=32, n_head=2, n_positions=64, vocab_size=len(tok), bos_token_id=tok.bos_token_id,
                        eos_token_id=tok.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_random_init_keeps_the_architecture_and_draws_new_weights(tiny_gpt2):
    from transformers import GPT2LMHeadModel

    def build(**extra):
        return REGISTRIES.llms.build({"type": "HFCausalLM", "pretrained": str(tiny_gpt2), **extra}, where="model.llm")

    saved = GPT2LMHeadModel.from_pretrained(tiny_gpt2).transformer.state_dict()
    loaded, rand = build(), build(random_init=True)
    assert all(torch.equal(v, saved[k]) for k, v in loaded.model.state_dict().items())
    own = rand.model.state_dict()
    assert {k: v.shape for k, v in own.items()} == {k: v.shape for k, v in saved.items()}
    assert sum(p.numel() for p in rand.parameters()) == sum(p.numel() for p in loaded.parameters())
    assert not any(torch.allclose(own[k], saved[k]) for k in ("wte.weight", "h.0.attn.c_attn.weight", "h.0.mlp.c_fc.weight"))
    assert rand.tokenizer.get_vocab() == loaded.tokenizer.get_vocab()  # the tokenizer still comes from pretrained
    state = torch.get_rng_state()
    again = build(random_init=True)
    assert torch.equal(torch.get_rng_state(), state)  # drawn from init_seed, the global RNG untouched
    assert all(torch.equal(v, own[k]) for k, v in again.model.state_dict().items())
    assert not torch.allclose(build(random_init=True, init_seed=1).model.state_dict()["wte.weight"], own["wte.weight"])


def test_random_init_pipeline_reloads_with_the_same_weights(tiny_gpt2, tmp_path):
    """The folder keeps ``pretrained:`` (frozen weights are not copied), so reload draws them again: same seed, same weights."""
    from videollm_core import from_pretrained, save_pretrained

    pipeline = build_pipeline(_cfg(llm={"type": "HFCausalLM", "pretrained": str(tiny_gpt2), "random_init": True})).eval()
    _perturb(pipeline)
    save_pretrained(pipeline, tmp_path / "m")
    torch.manual_seed(123)  # whatever the global RNG holds at reload
    loaded = from_pretrained(tmp_path / "m")
    batch = _batch(torch.randn(1, 5, 32, generator=torch.Generator().manual_seed(4)))
    with torch.no_grad():
        assert torch.equal(pipeline(batch)["action"], loaded(batch)["action"])


# -- T5Encoder (bidirectional, offline only) ----------------------------------------------------
T5_SIZES = {"model_type": "t5", "num_layers": 2, "d_model": 32, "d_ff": 64, "num_heads": 2, "d_kv": 16, "pad_token_id": 0,
            "decoder_start_token_id": 0, "bos_token_id": None, "eos_token_id": None}


def _t5_pipeline(example: str = "action_segmentation", tuner: str = "Frozen"):
    cfg = _cfg(example, llm={"type": "T5Encoder", "config": dict(T5_SIZES), "tokenizer": {"words": WORDS}}, tuner=tuner,
               **{"model.encoder.unit_size": 1})
    return build_pipeline(cfg)


def test_t5_encoder_loads_the_encoder_of_a_full_checkpoint(tmp_path):
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(1)
    full = T5ForConditionalGeneration(T5Config(vocab_size=40, **{k: v for k, v in T5_SIZES.items() if k != "model_type"}))
    full.eval().save_pretrained(tmp_path)
    llm = REGISTRIES.llms.build({"type": "T5Encoder", "pretrained": str(tmp_path), "tokenizer": {"words": WORDS}},
                                where="model.llm").eval()
    ref = full.encoder.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in llm.model.state_dict().items()) and llm.hidden_size == 32
    x, mask = torch.randn(2, 6, 32), torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    with torch.no_grad():
        hidden, cache = llm(x, mask)
        alone, _ = llm(x[1:, :4], mask[1:, :4])  # right padding is masked out
        assert cache is None and torch.allclose(hidden, full.encoder(inputs_embeds=x, attention_mask=mask.long())[0], atol=1e-6)
        assert torch.allclose(hidden[1, :4], alone[0], atol=1e-5)
    with pytest.raises(ConfigError, match="bidirectional"):
        llm.generate(x, mask)


def test_t5_encoder_is_bidirectional_trains_with_lora_and_refuses_online_use():
    pipeline = _t5_pipeline(tuner="Frozen").eval()
    _perturb(pipeline)
    feats = torch.randn(1, 8, 32, generator=torch.Generator().manual_seed(5))
    later = feats.clone()
    later[:, 6:] += 1.0
    with torch.no_grad():
        a, b = (pipeline.encode(_batch(f))[0][0] for f in (feats, later))
    assert not torch.allclose(a[2], b[2])  # unit 2 sees units 6, 7: the encoder reads the future
    for prompt in ("action segmentation", ""):  # refused when the stream starts (its prompt) or at the first push
        pipeline.prompts["action_segmentation"] = prompt
        with pytest.raises(ConfigError, match="cannot stream") as err:
            pipeline.stream().push(feats[0, :3])
        assert err.value.where == "model.llm" and "T5Decoder" in err.value.hint
    lora = _t5_pipeline(tuner="LoRA")
    lora(_batch(feats))["logits"].sum().backward()
    grads = {n: p.grad for n, p in lora.trainable_parameters().items() if n.startswith("llm.")}
    assert grads and all("lora_" in n and g is not None for n, g in grads.items())
    with pytest.raises(ConfigError, match="oad head would see units after") as err:  # an online task's full forward
        _t5_pipeline("oad")
    assert err.value.where == "model.llm"
