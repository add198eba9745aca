"""Parameter-efficient tuning through peft: `LoRA`, `IA3`, `AdaLoRA`, `PrefixTuning`,
`PromptTuning`, `PTuning`.

Each wraps the adapter's bare `transformers` model (`llm.model`) with
`get_peft_model(..., TaskType.FEATURE_EXTRACTION)` after freezing the whole adapter, so
only peft's parameters train. The adapter runs the bare model itself, puts prompt / p-tuning
virtual tokens in front (`llm.num_virtual_tokens`) and seeds prefix tuning's keys/values
into the cache (see `videollm_plugins.llms.hf_causal`).
"""
from __future__ import annotations

from typing import Any

from videollm_core.base import LLMAdapter, Tuner
from videollm_core.errors import ConfigError

from .targets import ia3_targets, lora_targets

WHERE = "model.tuner"


def _model_type(llm: LLMAdapter) -> str:
    return str(getattr(llm.model.config, "model_type", ""))


def wrap_with_peft(llm: LLMAdapter, peft_config: Any) -> None:
    """Freeze `llm`, then replace `llm.model` by its peft-wrapped version."""
    from peft import get_peft_model

    if hasattr(llm.model, "peft_config"):
        raise ConfigError("the LLM already carries a peft tuner", where=WHERE, hint="apply one tuner per pipeline")
    llm.requires_grad_(False)
    try:
        llm.model = get_peft_model(llm.model, peft_config)
    except ValueError as e:
        raise ConfigError(f"{type(peft_config).__name__}: {e}", where=WHERE) from e


class _PeftTuner(Tuner):
    def peft_config(self, llm: LLMAdapter) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, llm: LLMAdapter) -> None:
        wrap_with_peft(llm, self.peft_config(llm))


def _check_positive(**values: int) -> None:
    for key, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key} must be a positive integer, got {value!r}", where=f"{WHERE}.{key}")


class LoRA(_PeftTuner):
    """Low-rank adapters of rank `r` (scale `alpha / r`) on `target_modules` (default:
    the attention projections of the architecture, see `targets`)."""

    def __init__(self, r: int = 8, alpha: float = 16, dropout: float = 0.05, target_modules: list[str] | str | None = None):
        _check_positive(r=r)
        self.r, self.alpha, self.dropout, self.target_modules = r, alpha, dropout, target_modules

    def peft_config(self, llm: LLMAdapter) -> Any:
        from peft import LoraConfig, TaskType

        targets = self.target_modules or lora_targets(_model_type(llm), WHERE)
        return LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
                          target_modules=targets, fan_in_fan_out=_model_type(llm) == "gpt2")


class AdaLoRA(_PeftTuner):
    """LoRA with adaptive rank budget (from `init_r` down to `target_r` between steps
    `tinit` and `total_step - tfinal`). Call `step_end` after every optimizer step."""

    def __init__(self, init_r: int = 12, target_r: int = 8, alpha: float = 32, dropout: float = 0.05,
                 total_step: int = 1000, tinit: int = 0, tfinal: int = 0, delta_t: int = 1,
                 target_modules: list[str] | str | None = None):
        _check_positive(init_r=init_r, target_r=target_r, total_step=total_step)
        self.init_r, self.target_r, self.alpha, self.dropout = init_r, target_r, alpha, dropout
        self.total_step, self.tinit, self.tfinal, self.delta_t = total_step, tinit, tfinal, delta_t
        self.target_modules = target_modules

    def peft_config(self, llm: LLMAdapter) -> Any:
        from peft import AdaLoraConfig, TaskType

        targets = self.target_modules or lora_targets(_model_type(llm), WHERE)
        return AdaLoraConfig(task_type=TaskType.FEATURE_EXTRACTION, init_r=self.init_r, target_r=self.target_r,
                             lora_alpha=self.alpha, lora_dropout=self.dropout, total_step=self.total_step,
                             tinit=self.tinit, tfinal=self.tfinal, deltaT=self.delta_t, target_modules=targets,
                             fan_in_fan_out=_model_type(llm) == "gpt2")

    def step_end(self, llm: LLMAdapter, step: int) -> None:
        """Rank allocation after optimizer step `step` (gradients still present)."""
        llm.model.base_model.update_and_allocate(step)


class IA3(_PeftTuner):
    """(IA)^3: learned rescaling of keys, values and feed-forward activations."""

    def __init__(self, target_modules: list[str] | str | None = None, feedforward_modules: list[str] | str | None = None):
        if (target_modules is None) != (feedforward_modules is None):
            raise ConfigError("give both target_modules and feedforward_modules, or neither", where=WHERE)
        self.target_modules, self.feedforward_modules = target_modules, feedforward_modules

    def peft_config(self, llm: LLMAdapter) -> Any:
        from peft import IA3Config, TaskType

        targets, ff = (self.target_modules, self.feedforward_modules)
        if targets is None:
            targets, ff = ia3_targets(_model_type(llm), WHERE)
        return IA3Config(task_type=TaskType.FEATURE_EXTRACTION, target_modules=targets, feedforward_modules=ff,
                         fan_in_fan_out=_model_type(llm) == "gpt2")


class PrefixTuning(_PeftTuner):
    """Prefix tuning: `num_virtual_tokens` trained key/value positions in every layer
    (optionally through an MLP reparameterisation, `projection=True`)."""

    def __init__(self, num_virtual_tokens: int = 10, projection: bool = False, projection_dim: int = 128):
        _check_positive(num_virtual_tokens=num_virtual_tokens)
        self.num_virtual_tokens, self.projection, self.projection_dim = num_virtual_tokens, projection, projection_dim

    def peft_config(self, llm: LLMAdapter) -> Any:
        from peft import PrefixTuningConfig, TaskType

        if getattr(llm.model, "is_activation_checkpointing", False):  # a transformers model's flag
            raise ConfigError("peft prefix tuning does not work with gradient checkpointing", where=WHERE,
                              hint="set model.llm.gradient_checkpointing: false")
        return PrefixTuningConfig(task_type=TaskType.FEATURE_EXTRACTION, num_virtual_tokens=self.num_virtual_tokens,
                                  prefix_projection=self.projection, encoder_hidden_size=self.projection_dim)


class PromptTuning(_PeftTuner):
    """Prompt tuning: `num_virtual_tokens` trained input embeddings in front of the stream."""

    def __init__(self, num_virtual_tokens: int = 10):
        _check_positive(num_virtual_tokens=num_virtual_tokens)
        self.num_virtual_tokens = num_virtual_tokens

    def peft_config(self, llm: LLMAdapter) -> Any:
        from peft import PromptTuningConfig, TaskType

        return PromptTuningConfig(task_type=TaskType.FEATURE_EXTRACTION, num_virtual_tokens=self.num_virtual_tokens,
                                  token_dim=llm.embed_dim)


class PTuning(_PeftTuner):
    """P-tuning: virtual tokens produced by a trained MLP prompt encoder (hidden `encoder_hidden_size`)."""

    def __init__(self, num_virtual_tokens: int = 10, encoder_hidden_size: int = 128):
        _check_positive(num_virtual_tokens=num_virtual_tokens, encoder_hidden_size=encoder_hidden_size)
        self.num_virtual_tokens, self.encoder_hidden_size = num_virtual_tokens, encoder_hidden_size

    def peft_config(self, llm: LLMAdapter) -> Any:
        from peft import PromptEncoderConfig, TaskType

        return PromptEncoderConfig(task_type=TaskType.FEATURE_EXTRACTION, num_virtual_tokens=self.num_virtual_tokens,
                                   encoder_hidden_size=self.encoder_hidden_size, token_dim=llm.embed_dim)
