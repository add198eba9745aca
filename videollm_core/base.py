"""Base classes of the eight component roles.

A class registered in a role's registry must subclass that role's base class
(checked at registration). Shapes: ``B`` batch, ``T`` feature steps, ``N`` visual
units (tokens), ``S`` stream length, ``Df`` feature dim, ``E`` LLM input-embedding
dim, ``H`` LLM hidden size. Times are seconds.

Build-time contract: the pipeline fills in the dimensions a YAML need not state
(``Translator(in_dim, out_dim)``, ``TaskHead(in_dim)``); datasets hand their heads
and metrics defaults such as ``num_classes`` through :meth:`VideoDataset.head_args`
and :meth:`VideoDataset.metric_args`.
"""
from __future__ import annotations

import json
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterator

import torch
from torch import Tensor, nn

from .features import FeatureSource
from .types import StreamInputs, TokenSequence, VideoBatch

if TYPE_CHECKING:  # pragma: no cover
    from .pipeline import VideoLLM

#: Version of the plugin API (hook specs + base classes). A plugin may declare the
#: range it supports with a module attribute ``VIDEOLLM_API = ">=1.0,<2"``.
PLUGIN_API_VERSION = "1.0"


class Encoder(nn.Module):
    """Modality encoder: a :class:`VideoBatch` to one token per short-term visual unit.

    Subclasses set ``self.in_dim`` (feature dim ``Df`` they accept) and ``self.out_dim``
    (token dim they produce) in ``__init__``.
    """

    in_dim: int
    out_dim: int

    @classmethod
    def input_dim(cls, cfg: dict[str, Any]) -> int | None:
        """The feature dim ``Df`` an encoder built from ``cfg`` (its arguments) reads, before building it.

        Datasets check their features against it. Default: the ``in_dim`` argument; an encoder
        that reads pixels or video files (``FrameEncoder``) returns ``None`` (nothing to check).
        """
        value = cfg.get("in_dim")
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else None

    def forward(self, batch: VideoBatch) -> TokenSequence:  # pragma: no cover - abstract
        """``batch.features [B, T, Df]`` -> ``TokenSequence(embeds [B, N, out_dim], mask [B, N], spans [B, N, 2] s)``."""
        raise NotImplementedError

    def open_stream(self) -> "EncoderStream":
        """Return an incremental encoder for one video (see :class:`EncoderStream`)."""
        raise NotImplementedError(f"{type(self).__name__} does not support streaming")


class EncoderStream:
    """Incremental unitization of one video: frames in, completed units out."""

    def push(self, features: Tensor, timestamps: Tensor) -> TokenSequence | None:
        """``features [T, Df]``, ``timestamps [T, 2]`` s -> completed units ``[1, n, out_dim]`` or None."""
        raise NotImplementedError

    def flush(self) -> TokenSequence | None:
        """At the end of a video: the trailing partial units the batch ``forward`` would make, or None."""
        return None


class TextEncoder(nn.Module):
    """Encodes text (task prompt, queries) into tokens ``[B, L, out_dim]``.

    :meth:`bind` is called once with the pipeline's LLM adapter before use, so an
    encoder may use the LLM's own tokenizer and input embeddings. ``out_dim`` must be
    known after :meth:`bind`; when it differs from ``llm.embed_dim`` the pipeline puts
    a linear projection behind it.
    """

    out_dim: int

    def bind(self, llm: "LLMAdapter") -> None:
        """Give the encoder access to the LLM adapter (default: nothing to do)."""

    def forward(self, texts: list[str]) -> TokenSequence:  # pragma: no cover - abstract
        """``B`` strings -> ``TokenSequence(embeds [B, L, out_dim], mask [B, L], spans zeros)``."""
        raise NotImplementedError


class Translator(nn.Module):
    """Semantic translator: visual tokens ``[B, N, in_dim]`` to LLM tokens ``[B, N*k, out_dim]``.

    ``in_dim`` and ``out_dim`` are supplied by the pipeline. ``tokens_per_unit`` (k) is
    the number of LLM tokens made per visual unit; heads read the last one of each unit.
    """

    tokens_per_unit: int = 1

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.in_dim = int(in_dim)
        self.out_dim = int(out_dim)

    def forward(self, tokens: TokenSequence) -> TokenSequence:  # pragma: no cover - abstract
        raise NotImplementedError


class LLMAdapter(nn.Module):
    """Wraps one decoder-only language model; nothing else touches its inputs.

    Attributes (set by subclasses):
        model: the underlying ``transformers`` module; tuners modify or wrap it.
        embed_dim: ``E``, the dimension of ``inputs_embeds`` (translators produce it).
        hidden_size: ``H``, the dimension of the hidden states :meth:`forward` returns.
        num_virtual_tokens: tokens a tuner put in front of every sequence (prompt or
            p-tuning); :meth:`forward` already slices them off its output.
    """

    model: nn.Module
    embed_dim: int
    hidden_size: int
    num_virtual_tokens: int = 0

    def tokenize(self, texts: list[str]) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        """``B`` strings -> ``(ids [B, L] long, mask [B, L] bool)``, right-padded."""
        raise NotImplementedError

    def embed_text(self, ids: Tensor) -> Tensor:  # pragma: no cover - abstract
        """``ids [B, L]`` -> input embeddings ``[B, L, E]``."""
        raise NotImplementedError

    def forward(self, embeds: Tensor, mask: Tensor, cache: Any = None, use_cache: bool = False):
        """``embeds [B, S, E]``, ``mask [B, S]`` (right padding) -> ``(hidden [B, S, H], cache)``.

        With ``cache`` (from a previous call) the new tokens continue that sequence.
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def lm_logits(self, hidden: Tensor) -> Tensor:  # pragma: no cover - abstract
        """``hidden [B, S, H]`` -> vocabulary logits ``[B, S, V]`` through the LM head."""
        raise NotImplementedError

    def generate(self, embeds: Tensor, mask: Tensor, max_new_tokens: int = 20, num_beams: int = 1) -> list[str]:
        """Continue ``embeds [B, S, E]`` with text decoded through the LM head (greedy or beam)."""
        raise NotImplementedError  # pragma: no cover - abstract


class Tuner:
    """Tuning strategy: decides which LLM parameters train (basic, partial, PEFT).

    After :meth:`apply`, exactly the parameters returned by :meth:`trainable_parameters`
    have ``requires_grad=True`` inside the adapter.
    """

    def apply(self, llm: LLMAdapter) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def trainable_parameters(self, llm: LLMAdapter) -> dict[str, nn.Parameter]:
        """Names (relative to ``llm``) and parameters that train after :meth:`apply`."""
        return {n: p for n, p in llm.named_parameters() if p.requires_grad}


class TaskHead(nn.Module):
    """Task head: reads the LLM's hidden states at the visual tokens.

    ``in_dim`` (= the LLM's ``hidden_size``) is supplied by the pipeline; datasets
    supply task defaults (``num_classes``...) through ``VideoDataset.head_args``.
    Heads that need the LLM itself (text generation) reach it through
    :attr:`pipeline` after :meth:`bind`.
    """

    #: the task this head serves (``"oad"``, ``"dense_caption"``...), for listings.
    task: ClassVar[str] = ""
    #: ask the pipeline to keep the LLM cache of the stream (``StreamInputs.cache``).
    needs_cache: ClassVar[bool] = False

    def __init__(self, in_dim: int):
        super().__init__()
        self.in_dim = int(in_dim)
        self._pipeline_ref: Any = None

    def bind(self, pipeline: "VideoLLM") -> None:
        """Called once by the pipeline after it is built (held as a weak reference)."""
        self._pipeline_ref = weakref.ref(pipeline)

    @property
    def pipeline(self) -> "VideoLLM":
        if self._pipeline_ref is None or self._pipeline_ref() is None:
            raise RuntimeError(f"{type(self).__name__} is not bound to a pipeline")
        return self._pipeline_ref()

    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        """``hidden [B, N, H]`` at the visual units (``stream.visual.mask`` marks real ones) -> outputs."""
        raise NotImplementedError  # pragma: no cover - abstract

    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        """Training losses; must hold ``"loss"`` (a scalar), may hold parts for logging."""
        raise NotImplementedError  # pragma: no cover - abstract

    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        """One prediction entry per video (or query), in the task metric's entry format."""
        raise NotImplementedError  # pragma: no cover - abstract


class VideoDataset(torch.utils.data.Dataset):
    """A task's dataset, reading the benchmark's real on-disk format.

    ``__getitem__`` returns a sample dict with ``features`` ``[T, Df]`` (numpy or
    tensor), ``timestamps`` ``[T, 2]`` seconds, optional ``query`` (str), ``targets``
    (dict of arrays with leading ``T`` or per-sample values) and ``meta`` (dict with
    ``video_id``). :meth:`collate` pads a list of them into a :class:`VideoBatch`.
    """

    task: ClassVar[str] = ""

    def skip_report(self) -> list[str]:
        """What ``on_error: skip`` dropped, one ``"where: problem"`` line each.

        Datasets record skipped items in ``self.skipped`` (rendered strings, ``(where,
        message)`` pairs, or a mapping ``id -> message``); the runner logs this report.
        """
        items = getattr(self, "skipped", None) or []
        if isinstance(items, dict):
            return [f"{k}: {v}" for k, v in items.items()]
        return [": ".join(str(x) for x in item if x) if isinstance(item, tuple) else str(item) for item in items]

    def ground_truth(self) -> Any:
        """The ground truth in the object form the task's :class:`Metric` evaluates."""
        raise NotImplementedError  # pragma: no cover - abstract

    def head_args(self) -> dict[str, Any]:
        """Defaults for the head's constructor (e.g. ``num_classes``)."""
        return {}

    def metric_args(self) -> dict[str, Any]:
        """Defaults for the metric's constructor."""
        return {}

    def collate(self, samples: list[dict[str, Any]]) -> VideoBatch:
        """Right-pad samples into a :class:`VideoBatch` (see :func:`pad_collate`)."""
        return pad_collate(samples)


def _as_tensor(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return torch.as_tensor(x)


def pad_collate(samples: list[dict[str, Any]]) -> VideoBatch:
    """Pad ``features [T_i, Df]`` / ``timestamps [T_i, 2]`` to ``max T_i``.

    Target values with a leading dimension equal to the sample's ``T_i`` are padded
    (with ``-100`` for integer dtypes, ``0`` otherwise) and stacked; other tensors of
    equal shape are stacked; everything else is kept as a list.
    """
    if not samples:
        raise ValueError("pad_collate needs at least one sample")
    feats = [_as_tensor(s["features"]).float() for s in samples]
    lengths = [int(f.shape[0]) for f in feats]
    t_max = max(lengths)
    b = len(samples)
    features = feats[0].new_zeros((b, t_max) + tuple(feats[0].shape[1:]))
    mask = torch.zeros(b, t_max, dtype=torch.bool)
    timestamps = torch.zeros(b, t_max, 2)
    for i, (f, s) in enumerate(zip(feats, samples)):
        features[i, : lengths[i]] = f
        mask[i, : lengths[i]] = True
        timestamps[i, : lengths[i]] = _as_tensor(s["timestamps"]).float()
    targets: dict[str, Any] = {}
    keys = samples[0].get("targets", {}).keys()
    for key in keys:
        values = [s["targets"][key] for s in samples]
        targets[key] = _collate_target(values, lengths, t_max)
    queries = [s.get("query") for s in samples]
    return VideoBatch(
        features=features,
        mask=mask,
        timestamps=timestamps,
        queries=queries if any(q is not None for q in queries) else None,
        targets=targets,
        meta=[dict(s.get("meta", {})) for s in samples],
    )


def _collate_target(values: list[Any], lengths: list[int], t_max: int) -> Any:
    if not all(isinstance(v, (Tensor,)) or hasattr(v, "__array__") for v in values):
        return values
    tensors = [_as_tensor(v) for v in values]
    if all(t.dim() >= 1 and t.shape[0] == n for t, n in zip(tensors, lengths)) and len(set(t.shape[1:] for t in tensors)) == 1:
        fill = -100 if not tensors[0].is_floating_point() and tensors[0].dtype != torch.bool else 0
        out = tensors[0].new_full((len(tensors), t_max) + tuple(tensors[0].shape[1:]), fill)
        for i, t in enumerate(tensors):
            out[i, : t.shape[0]] = t
        return out
    if len(set(tuple(t.shape) for t in tensors)) == 1:
        return torch.stack(tensors)
    return tensors


class Metric:
    """A benchmark metric, usable on its own (``videollm evaluate TASK``).

    Registered under the task's name. It reads and writes the benchmark's official
    files: :meth:`load_ground_truth`, :meth:`load_predictions`, :meth:`save_predictions`.
    In training, heads' prediction entries are gathered with :meth:`update` and
    turned into the official predictions object by :meth:`format_predictions`.
    """

    task: ClassVar[str] = ""
    #: the exact keys :meth:`evaluate` returns (values x100 where the official tool reports %).
    keys: ClassVar[tuple[str, ...]] = ()
    #: key used to pick the best checkpoint, and whether higher is better.
    primary_key: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = True

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []

    # -- official files -------------------------------------------------
    def load_ground_truth(self, path: str | Path) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def load_predictions(self, path: str | Path) -> Any:
        """Default: a JSON file."""
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def save_predictions(self, predictions: Any, path: str | Path) -> None:
        """Default: JSON. Tasks with another official format override it."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(predictions, f)

    def format_predictions(self, entries: list[dict[str, Any]]) -> Any:
        """Head entries -> the official predictions object (default: the list itself)."""
        return entries

    # -- evaluation -------------------------------------------------------
    def evaluate(self, predictions: Any, ground_truth: Any) -> dict[str, float]:  # pragma: no cover
        """Official predictions object and ground truth -> ``{key: value}`` for :attr:`keys`."""
        raise NotImplementedError

    def reset(self) -> None:
        self._entries = []

    def update(self, entries: list[dict[str, Any]]) -> None:
        self._entries.extend(entries)

    def compute(self, ground_truth: Any) -> dict[str, float]:
        return self.evaluate(self.format_predictions(self._entries), ground_truth)

    def entries(self) -> Iterator[dict[str, Any]]:
        return iter(self._entries)

    # -- pictures -----------------------------------------------------------
    def plot(self, predictions: Any, ground_truth: Any, path: str | Path, max_videos: int = 3) -> bool:
        """Draw predictions against ground truth for a few videos into the PNG ``path``.

        Timelines of segments for localisation and segmentation tasks, scores over time
        for online detection. Returns False when the task has no picture (default).
        """
        return False


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
}


__all__ = [
    "PLUGIN_API_VERSION",
    "Encoder",
    "EncoderStream",
    "TextEncoder",
    "Translator",
    "LLMAdapter",
    "Tuner",
    "TaskHead",
    "VideoDataset",
    "Metric",
    "pad_collate",
    "ROLE_BASES",
]
