"""Tiny LLM configs of every family and a per-unit classification head for pipeline tests.

A plain module with a name of its own (``from llm_zoo import ...``): ``from conftest import``
would pick whichever ``conftest`` module pytest imported first.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from videollm_core import REGISTRIES, TaskHead
from videollm_core.registry import registering_as

WORDS = "detect the action open close take put cup drawer knife what happens next".split()
TOKENIZER = {"words": WORDS}

#: family -> (adapter type, tiny config); bos/eos None as tiny vocabularies need.
FAMILIES = {
    "gpt2": ("HFCausalLM", dict(model_type="gpt2", n_layer=2, n_embd=32, n_head=2, n_positions=1024,
                                bos_token_id=None, eos_token_id=None)),
    "opt": ("HFCausalLM", dict(model_type="opt", num_hidden_layers=2, hidden_size=32, ffn_dim=64, num_attention_heads=2,
                               word_embed_proj_dim=32, max_position_embeddings=1024, bos_token_id=None,
                               eos_token_id=None, pad_token_id=0)),
    "opt-350m": ("HFCausalLM", dict(model_type="opt", num_hidden_layers=2, hidden_size=32, ffn_dim=64, num_attention_heads=2,
                                    word_embed_proj_dim=16, do_layer_norm_before=False, max_position_embeddings=1024,
                                    bos_token_id=None, eos_token_id=None, pad_token_id=0)),
    "llama": ("HFCausalLM", dict(model_type="llama", num_hidden_layers=2, hidden_size=32, intermediate_size=64,
                                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                                 bos_token_id=None, eos_token_id=None, pad_token_id=None)),
    "t5-decoder": ("T5Decoder", dict(model_type="t5", num_layers=2, d_model=32, d_ff=64, num_heads=2, d_kv=16,
                                     bos_token_id=None, eos_token_id=None, pad_token_id=0, decoder_start_token_id=0)),
}

TUNERS = {
    "Frozen": {"type": "Frozen"},
    "Full": {"type": "Full"},
    "Partial": {"type": "Partial", "last_n_blocks": 1, "norms": True},
    "LoRA": {"type": "LoRA", "r": 2, "alpha": 4, "dropout": 0.0},
    "IA3": {"type": "IA3"},
    "AdaLoRA": {"type": "AdaLoRA", "init_r": 4, "target_r": 2, "total_step": 10},
    "PrefixTuning": {"type": "PrefixTuning", "num_virtual_tokens": 3},
    "PromptTuning": {"type": "PromptTuning", "num_virtual_tokens": 3},
    "PTuning": {"type": "PTuning", "num_virtual_tokens": 3, "encoder_hidden_size": 16},
}


def llm_cfg(family: str, **extra) -> dict:
    kind, config = FAMILIES[family]
    return {"type": kind, "config": dict(config), "tokenizer": TOKENIZER, **extra}


def build_llm(family: str, **extra):
    torch.manual_seed(0)
    return REGISTRIES.llms.build(llm_cfg(family, **extra), where="model.llm")


class UnitClassifierTestHead(TaskHead):
    """Per-unit linear classifier with cross-entropy on ``targets["labels"] [B, T]`` (unit_size 1)."""

    task = "unit_test"

    def __init__(self, in_dim: int, num_classes: int = 5):
        super().__init__(in_dim)
        self.fc = torch.nn.Linear(in_dim, num_classes)

    def forward(self, hidden, batch, stream):
        return {"logits": self.fc(hidden), "mask": stream.visual.mask}

    def loss(self, outputs, batch):
        logits, mask = outputs["logits"], outputs["mask"]
        labels = batch.targets["labels"][:, : logits.shape[1]]
        return {"loss": F.cross_entropy(logits[mask], labels[mask])}

    def predict(self, outputs, batch):
        return [{"video_id": m.get("video_id"), "scores": s.tolist()} for m, s in zip(batch.meta, outputs["logits"].softmax(-1))]


def register_test_head() -> None:
    """Register :class:`UnitClassifierTestHead` in the process-wide registries (the pipeline tests'
    autouse fixture calls it before every test, so no earlier reconfiguration can lose it)."""
    if "UnitClassifierTestHead" not in REGISTRIES.heads:
        with registering_as("pipeline-tests"):
            REGISTRIES.heads.register_module(name="UnitClassifierTestHead", module=UnitClassifierTestHead)


def pipeline_cfg(family: str, tuner: str = "Frozen", *, encoder: dict | None = None, translator: dict | None = None,
                 prompt: str | None = "detect the action", in_dim: int = 12) -> dict:
    model = {
        "encoder": encoder or {"type": "TemporalUnitEncoder", "in_dim": in_dim, "unit_size": 1},
        "translator": translator or {"type": "LinearTranslator"},
        "llm": llm_cfg(family),
        "tuner": dict(TUNERS[tuner]),
        "head": {"type": "UnitClassifierTestHead", "num_classes": 5},
    }
    if prompt:
        model["prompt"] = prompt
    return {"model": model}


def video_batch(b: int = 2, t: int = 6, d: int = 12, queries: bool = True, seed: int = 0):
    from videollm_core import VideoBatch

    g = torch.Generator().manual_seed(seed)
    lengths = [t - i for i in range(b)]
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    start = torch.arange(t, dtype=torch.float32)
    ts = torch.stack([start, start + 1], -1).expand(b, t, 2).clone() * mask[..., None]
    labels = torch.randint(0, 5, (b, t), generator=g).masked_fill(~mask, -100)
    return VideoBatch(features=torch.randn(b, t, d, generator=g) * mask[..., None], mask=mask, timestamps=ts,
                      queries=["what happens next", "take the cup"][:b] if queries else None,
                      targets={"labels": labels}, meta=[{"video_id": f"v{i}"} for i in range(b)])
