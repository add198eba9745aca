"""Base classes of the component roles (the study executors' base is in `videollm_core.executor`).

A class registered in a role's registry must subclass that role's base class
(checked at registration). Shapes: `B` batch, `T` feature steps, `N` visual
units (tokens), `S` stream length, `Df` feature dim, `E` LLM input-embedding
dim, `H` LLM hidden size. Times are seconds.

Build-time contract: the pipeline fills in the dimensions a YAML need not state
(`Translator(in_dim, out_dim)`, `TaskHead(in_dim)`); datasets hand their heads
and metrics defaults such as `num_classes` through [`VideoDataset.head_args`][videollm_core.data.VideoDataset.head_args]
and [`VideoDataset.metric_args`][videollm_core.data.VideoDataset.metric_args].
"""
from __future__ import annotations

import contextlib
import contextvars
import weakref
from abc import ABC, ABCMeta, abstractmethod
from typing import Any, ClassVar, Iterator, Mapping

from torch import Tensor, nn

from .data import DataErrors, FeatureSource, Metric, VideoDataset, pad_collate
from .errors import ConfigError, PluginError
from .sections import ContextConfig
from .executor import Executor
from .streaming import class_answers
from .types import StreamInputs, TokenSequence, VideoBatch

#: Version of the plugin API (hook specs + base classes). A plugin may declare the
#: range it supports with a module attribute `VIDEOLLM_API = ">=2.1,<3"`. 2.0: the whole contract
#: declared in the base classes; heads bind to the LLM adapter (`self.llm`), no longer to the pipeline;
#: datasets keep their `on_error` policy in `self.errors` (`DataErrors`). 2.1: `LLMAdapter.set_context`
#: receives a checked `ContextConfig` (`.window`, `.sink`), no longer the raw mapping; hooks read the
#: typed config (`runner.config`).
PLUGIN_API_VERSION = "2.1"

#: what the pipeline supplies to the component being built (`in_dim`...) and its plugin.
_SUPPLIED: contextvars.ContextVar[tuple[Mapping[str, Any], str, Any]] = contextvars.ContextVar("videollm_supplied",
                                                                                               default=({}, "?", None))


@contextlib.contextmanager
def supplying(args: Mapping[str, Any], plugin: str, registries: Any = None) -> Iterator[None]:
    """While a registry builds a component: the arguments the pipeline supplies to it (`in_dim`,
    `out_dim`...), so that a base class gets them even when a subclass does not forward them, and
    the registries it is built from (`building_registries`)."""
    token = _SUPPLIED.set((dict(args), plugin, registries))
    try:
        yield
    finally:
        _SUPPLIED.reset(token)


def building_registries() -> Any:
    """The [`Registries`][videollm_core.registry.Registries] the component being built comes from, for a
    component that builds a part of its own (a head's decoder LLM); None outside a registry's `build`."""
    return _SUPPLIED.get()[2]


def _dims(obj: object, base: str, **given: Any) -> list[int]:
    """The dimensions a base-class constructor needs: as given, else as the pipeline supplied them to
    the subclass being built; a [`PluginError`][videollm_core.errors.PluginError] naming the class, its plugin and the fix otherwise."""
    supplied, plugin, _ = _SUPPLIED.get()
    values: dict[str, Any] = {k: v if v is not None else supplied.get(k) for k, v in given.items()}
    missing = [k for k, v in values.items() if v is None]
    if missing:
        cls, args = type(obj).__name__, ", ".join(given)
        origin = f"plugin '{plugin}', " if plugin != "?" else ""
        raise PluginError(f"{cls} ({origin}module {type(obj).__module__}) calls {base}.__init__ without "
                          f"{', '.join(missing)}", where=cls,
                          hint=f"the pipeline passes {args} to {cls}: accept them in {cls}.__init__ and call "
                               f"super().__init__({args})")
    return [int(values[k]) for k in given]


class Encoder(nn.Module, metaclass=ABCMeta):
    """Modality encoder: a [`VideoBatch`][videollm_core.types.VideoBatch] to one token per short-term visual unit.

    Subclasses set `self.in_dim` (feature dim `Df` they accept) and `self.out_dim`
    (token dim they produce) in `__init__`.
    """

    in_dim: int
    out_dim: int

    @classmethod
    def input_dim(cls, cfg: dict[str, Any]) -> int | None:
        """The feature dim `Df` an encoder built from `cfg` (its arguments) reads, before building it.

        Datasets check their features against it. Default: the `in_dim` argument; an encoder
        that reads pixels or video files (`FrameEncoder`) returns `None` (nothing to check).
        """
        value = cfg.get("in_dim")
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else None

    @abstractmethod
    def forward(self, batch: VideoBatch) -> TokenSequence:  # pragma: no cover - abstract
        """`batch.features [B, T, Df]` -> `TokenSequence(embeds [B, N, out_dim], mask [B, N], spans [B, N, 2] s)`."""
        raise NotImplementedError

    def open_stream(self) -> "EncoderStream":
        """Return an incremental encoder for one video (see [`EncoderStream`][videollm_core.base.EncoderStream])."""
        raise NotImplementedError(f"{type(self).__name__} does not support streaming")


class EncoderStream(ABC):
    """Incremental unitization of one video: frames in, completed units out."""

    @abstractmethod
    def push(self, features: Tensor, timestamps: Tensor) -> TokenSequence | None:
        """`features [T, Df]`, `timestamps [T, 2]` s -> completed units `[1, n, out_dim]` or None."""
        raise NotImplementedError

    def flush(self) -> TokenSequence | None:
        """At the end of a video: the trailing partial units the batch `forward` would make, or None."""
        return None


class TextEncoder(nn.Module, metaclass=ABCMeta):
    """Encodes text (task prompt, queries) into tokens `[B, L, out_dim]`.

    [`bind`][videollm_core.base.TextEncoder.bind] is called once with the pipeline's LLM adapter before use, so an
    encoder may use the LLM's own tokenizer and input embeddings. `out_dim` must be
    known after [`bind`][videollm_core.base.TextEncoder.bind]; when it differs from `llm.embed_dim` the pipeline puts
    a linear projection behind it.
    """

    out_dim: int

    def bind(self, llm: "LLMAdapter") -> None:
        """Give the encoder access to the LLM adapter (default: nothing to do)."""

    @abstractmethod
    def forward(self, texts: list[str]) -> TokenSequence:  # pragma: no cover - abstract
        """`B` strings -> `TokenSequence(embeds [B, L, out_dim], mask [B, L], spans zeros)`."""
        raise NotImplementedError


class Translator(nn.Module, metaclass=ABCMeta):
    """Semantic translator: visual tokens `[B, N, in_dim]` to LLM tokens `[B, N*k, out_dim]`.

    `in_dim` and `out_dim` are supplied by the pipeline. `tokens_per_unit` (k) is
    the number of LLM tokens made per visual unit; heads read the last one of each unit.
    """

    tokens_per_unit: int = 1

    def __init__(self, in_dim: int | None = None, out_dim: int | None = None):
        super().__init__()
        self.in_dim, self.out_dim = _dims(self, "Translator", in_dim=in_dim, out_dim=out_dim)

    @abstractmethod
    def forward(self, tokens: TokenSequence) -> TokenSequence:  # pragma: no cover - abstract
        """`embeds [B, N, in_dim]` unit tokens -> `[B, N*k, out_dim]` (mask and spans repeated per unit)."""
        raise NotImplementedError

    def open_stream(self) -> "TranslatorStream":
        """A translator for one stream, fed units as they complete ([`TranslatorStream`][videollm_core.base.TranslatorStream]).

        Default: each push is translated on its own, right for a translator whose unit
        `j` depends on unit `j` only; one that reads earlier units returns a stream
        that keeps them.
        """
        return TranslatorStream(self)


class TranslatorStream:
    """Translates the units of one stream as they complete: `push(tokens [1, n, in_dim])`
    returns the `[1, n*k, out_dim]` tokens the full forward gives these units."""

    def __init__(self, translator: Translator) -> None:
        self.translator = translator

    def push(self, tokens: TokenSequence) -> TokenSequence:
        return self.translator(tokens)


class LLMAdapter(nn.Module, metaclass=ABCMeta):
    """Wraps one decoder-only language model; nothing else touches its inputs.

    Attributes (set by subclasses):
        model: the underlying `transformers` module; tuners modify or wrap it.
        embed_dim: `E`, the dimension of `inputs_embeds` (translators produce it).
        hidden_size: `H`, the dimension of the hidden states [`forward`][videollm_core.base.LLMAdapter.forward] returns.
        num_virtual_tokens: tokens a tuner put in front of every sequence (prompt or
            p-tuning); [`forward`][videollm_core.base.LLMAdapter.forward] already slices them off its output.
    """

    model: nn.Module
    embed_dim: int
    hidden_size: int
    num_virtual_tokens: int = 0
    #: the text tokenizer (a `transformers` tokenizer), or `None` when the LLM reads no text.
    tokenizer: Any = None
    #: the id that ends generated text (`None`: generation stops at `max_new_tokens`).
    eos_token_id: int | None = None

    @abstractmethod
    def tokenize(self, texts: list[str]) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        """`B` strings -> `(ids [B, L] long, mask [B, L] bool)`, right-padded."""
        raise NotImplementedError

    @abstractmethod
    def embed_text(self, ids: Tensor) -> Tensor:  # pragma: no cover - abstract
        """`ids [B, L]` -> input embeddings `[B, L, E]`."""
        raise NotImplementedError

    @abstractmethod
    def forward(self, embeds: Tensor, mask: Tensor, cache: Any = None, use_cache: bool = False):
        """`embeds [B, S, E]`, `mask [B, S]` (right padding) -> `(hidden [B, S, H], cache)`.

        With `cache` (from a previous call) the new tokens continue that sequence.
        """
        raise NotImplementedError  # pragma: no cover - abstract

    @abstractmethod
    def lm_logits(self, hidden: Tensor) -> Tensor:  # pragma: no cover - abstract
        """`hidden [B, S, H]` -> vocabulary logits `[B, S, V]` through the LM head."""
        raise NotImplementedError

    @abstractmethod
    def generate(self, embeds: Tensor | None, mask: Tensor | None, max_new_tokens: int = 20, num_beams: int = 1,
                 cache: Any = None, last_hidden: Tensor | None = None, step_embeds: Tensor | None = None) -> list[str]:
        """Continue `embeds [B, S, E]` (after `cache`, when given) with text decoded through the
        LM head, greedy (`num_beams=1`) or beam search, stopping at `eos_token_id`. With
        `last_hidden [B, H]` (the state of `cache`'s last token) and no `embeds`, generation
        continues `cache` directly. `step_embeds [B, E]` is added to the embedding of every
        generated token fed back (a condition such as an event token)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def set_context(self, context: ContextConfig) -> None:
        """Bound the LLM's context (`model.context`: a window of recent tokens plus sinks).
        Default: this adapter has no bounded context."""
        raise ConfigError(f"{type(self).__name__} has no bounded context", where="model.context",
                          hint="leave model.context out, or use an adapter with one (HFCausalLM, T5Decoder)")


class Tuner(ABC):
    """Tuning strategy: decides which LLM parameters train (basic, partial, PEFT).

    After `apply`, exactly the parameters returned by [`trainable_parameters`][videollm_core.base.Tuner.trainable_parameters]
    have `requires_grad=True` inside the adapter.
    """

    @abstractmethod
    def apply(self, llm: LLMAdapter) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def trainable_parameters(self, llm: LLMAdapter) -> dict[str, nn.Parameter]:
        """Names (relative to `llm`) and parameters that train after `apply`."""
        return {n: p for n, p in llm.named_parameters() if p.requires_grad}

    def step_end(self, llm: LLMAdapter, step: int) -> None:
        """Called after every optimizer step, while the gradients still exist (AdaLoRA
        allocates its ranks here). Default: nothing."""


class TaskHead(nn.Module, metaclass=ABCMeta):
    """Task head: reads the LLM's hidden states at the visual tokens.

    `in_dim` (= the LLM's `hidden_size`) is supplied by the pipeline; datasets
    supply task defaults (`num_classes`...) through `VideoDataset.head_args`.
    Heads that need the LLM itself (text generation) reach it through [`llm`][videollm_core.base.TaskHead.llm]
    after [`bind`][videollm_core.base.TaskHead.bind].
    """

    #: the task this head serves (`"oad"`, `"dense_caption"`...), for listings.
    task: ClassVar[str] = ""
    #: ask the pipeline to keep the LLM cache of the stream (`StreamInputs.cache`).
    needs_cache: ClassVar[bool] = False
    #: the head reads the query's hidden states at `StreamInputs.query_positions`, so it can serve
    #: `model.query_position: after` (offline heads that ground a query; the config check refuses the others).
    reads_query_after: ClassVar[bool] = False

    def __init__(self, in_dim: int | None = None):
        super().__init__()
        (self.in_dim,) = _dims(self, "TaskHead", in_dim=in_dim)
        self._llm_ref: Any = None

    def bind(self, llm: LLMAdapter) -> None:
        """Called once by the pipeline with its LLM adapter (held as a weak reference)."""
        self._llm_ref = weakref.ref(llm)

    @property
    def llm(self) -> LLMAdapter:
        """The pipeline's LLM adapter (text generation, embeddings)."""
        if self._llm_ref is None or self._llm_ref() is None:
            raise RuntimeError(f"{type(self).__name__} is not bound to an LLM: build it in a pipeline")
        return self._llm_ref()

    @abstractmethod
    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        """`hidden [B, N, H]` at the visual units (`stream.visual.mask` marks real ones) -> outputs."""
        raise NotImplementedError  # pragma: no cover - abstract

    @abstractmethod
    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        """Training losses; must hold `"loss"` (a scalar), may hold parts for logging."""
        raise NotImplementedError  # pragma: no cover - abstract

    @abstractmethod
    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        """One prediction entry per video (or query), in the task metric's entry format."""
        raise NotImplementedError  # pragma: no cover - abstract

    def stream_answer(self, outputs: dict[str, Any], first_unit: int, n_units: int, *, top: int = 3,
                      class_names: list[str] | None = None, state: dict[str, Any] | None = None,
                      final: bool = False) -> list[dict[str, Any]]:
        """What the user sees after a push of `pipeline.stream()` (video 0), as plain JSON-able
        Python: answers `{"unit": u, ...}`, `u` the unit answered at; times in seconds from the
        stream's start (the outputs' unit `spans`).

        Args:
            outputs: this head's outputs for units `first_unit .. first_unit + n_units - 1`
                (`{}` and `n_units = 0` at the end of a stream without trailing units).
            top: classes (moments, segments) shown per answer.
            class_names: the model's recorded class names (head order); ids are shown without them.
            state: a dict the caller keeps per stream across pushes, for what a head accumulates.
            final: the stream has ended (after `flush`): answer what waited for later units.

        Default (`class_answers`): top `top` softmax classes of
        per-unit scores `[1, n, C]` per unit, of per-video scores `[1, C]` and a generated
        caption at the newest unit.
        """
        return class_answers(outputs, first_unit, n_units, top, class_names)


#: role name -> the base class(es) a registered class must subclass.
ROLE_BASES: dict[str, tuple[type, ...]] = {
    "encoders": (Encoder, TextEncoder),
    "translators": (Translator,),
    "llms": (LLMAdapter,),
    "tuners": (Tuner,),
    "heads": (TaskHead,),
    "datasets": (VideoDataset,),
    "metrics": (Metric,),
    "features": (FeatureSource,),
    "executors": (Executor,),
}


__all__ = [
    "PLUGIN_API_VERSION",
    "Encoder",
    "EncoderStream",
    "TextEncoder",
    "Translator",
    "TranslatorStream",
    "LLMAdapter",
    "Tuner",
    "TaskHead",
    "VideoDataset",
    "DataErrors",
    "Metric",
    "FeatureSource",
    "pad_collate",
    "ROLE_BASES",
]
