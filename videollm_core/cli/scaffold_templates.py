"""The files of a plugin package written by ``videollm new-plugin`` (``string.Template``
texts keyed by path; ``${dist}``, ``${module}``, ``${plugin}``, ``${Prefix}``, ``${api}``...
are filled in by :func:`videollm_core.cli.scaffold.render`)."""
from __future__ import annotations

TEMPLATES: dict[str, str] = {}

TEMPLATES["pyproject.toml"] = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "${dist}"
version = "0.1.0"
description = "A videollm-core plugin"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["videollm-core"]

[project.entry-points.videollm]
${plugin} = "${module}.plugin"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

TEMPLATES["README.md"] = '''\
# ${dist}

A [videollm-core](https://pypi.org/project/videollm-core/) plugin (plugin name `${plugin}`,
plugin API `${api}`). It registers `${Prefix}Encoder`, `${Prefix}Translator`,
`${Prefix}Head`, `${Prefix}Dataset` and the metric `${plugin}`.

```bash
pip install -e .
python -m pytest -q
videollm plugins                    # lists '${plugin}' as loaded
videollm-run configs/example.yaml   # trains on generated demo data
```

Data layout read by `${Prefix}Dataset`: `ROOT/labels.csv` (header `video_id,split,labels`,
`labels` = one class index per feature step, space-separated) and
`ROOT/features/VIDEO_ID.npy` (`[T, Df]` float32, one row per step).
'''

TEMPLATES["src/${module}/__init__.py"] = '''\
"""${dist}: a videollm-core plugin (plugin name ``${plugin}``)."""

__version__ = "0.1.0"
'''

TEMPLATES["src/${module}/plugin.py"] = '''\
"""Plugin module of ``${dist}`` (entry point ``videollm: ${plugin}``)."""
from __future__ import annotations

import videollm_core

#: plugin API versions this plugin supports; outside it, `videollm plugins` shows it incompatible.
VIDEOLLM_API = "${api}"


@videollm_core.hookimpl
def videollm_register(registries) -> None:
    """Register this package's components (configs name them NAME or ${plugin}:NAME)."""
    from ..data import ${Prefix}Dataset
    from ..encoder import ${Prefix}Encoder
    from ..head import ${Prefix}Head
    from ..metric import ${Prefix}Accuracy
    from ..translator import ${Prefix}Translator

    registries.encoders.register_module(name="${Prefix}Encoder", module=${Prefix}Encoder)
    registries.translators.register_module(name="${Prefix}Translator", module=${Prefix}Translator)
    registries.heads.register_module(name="${Prefix}Head", module=${Prefix}Head)
    registries.datasets.register_module(name="${Prefix}Dataset", module=${Prefix}Dataset)
    registries.metrics.register_module(name="${plugin}", module=${Prefix}Accuracy)
'''

TEMPLATES["src/${module}/encoder.py"] = '''\
"""Modality encoder of ${dist}."""
from __future__ import annotations

from torch import nn

from .. import Encoder, TokenSequence, VideoBatch


class ${Prefix}Encoder(Encoder):
    """One token per feature step: a linear projection and GELU.

    ``features [B, T, in_dim]`` -> ``TokenSequence(embeds [B, T, out_dim], mask [B, T],
    spans = timestamps [B, T, 2] s)``.
    """

    def __init__(self, in_dim: int, out_dim: int = 32):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.proj = nn.Sequential(nn.Linear(in_dim, out_dim), nn.GELU())

    def forward(self, batch: VideoBatch) -> TokenSequence:
        return TokenSequence(embeds=self.proj(batch.features), mask=batch.mask, spans=batch.timestamps)
'''

TEMPLATES["src/${module}/translator.py"] = '''\
"""Semantic translator of ${dist}."""
from __future__ import annotations

from torch import nn

from .. import TokenSequence, Translator


class ${Prefix}Translator(Translator):
    """Two-layer MLP from visual tokens ``[B, N, in_dim]`` to LLM embeddings ``[B, N, out_dim]``.

    ``in_dim`` and ``out_dim`` are supplied by the pipeline.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 64):
        super().__init__(in_dim, out_dim)
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, out_dim))

    def forward(self, tokens: TokenSequence) -> TokenSequence:
        return tokens.with_embeds(self.mlp(tokens.embeds))
'''

TEMPLATES["src/${module}/head.py"] = '''\
"""Task head of ${dist}."""
from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from .. import StreamInputs, TaskHead, VideoBatch


class ${Prefix}Head(TaskHead):
    """A class per visual unit from the LLM hidden state ``[B, N, H]``; cross-entropy.

    Assumes one unit per feature step (``${Prefix}Encoder``), so ``targets["labels"]
    [B, T]`` (-100 on padding) are the unit labels.
    """

    task = "${plugin}"

    def __init__(self, in_dim: int, num_classes: int):
        super().__init__(in_dim)
        self.fc = nn.Linear(in_dim, num_classes)

    def forward(self, hidden: Tensor, batch: VideoBatch, stream: StreamInputs) -> dict[str, Any]:
        return {"logits": self.fc(hidden), "mask": stream.visual.mask}

    def loss(self, outputs: dict[str, Any], batch: VideoBatch) -> dict[str, Tensor]:
        logits = outputs["logits"]
        labels = batch.targets["labels"][:, : logits.shape[1]]
        return {"loss": F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)}

    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        classes, mask = outputs["logits"].argmax(-1).cpu(), outputs["mask"].cpu()
        return [{"video_id": m["video_id"], "labels": classes[i][mask[i]].tolist()} for i, m in enumerate(batch.meta)]
'''

TEMPLATES["src/${module}/data.py"] = '''\
"""Dataset of ${dist}: ``features/<video_id>.npy`` plus ``labels.csv``, and a demo-data writer."""
from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .. import ConfigError, DataError, VideoDataset


def read_labels(path: str | Path, split: str | None = None) -> dict[str, list[int]]:
    """``labels.csv`` (``video_id,split,labels``) -> ``{video_id: [class per step]}`` of ``split``."""
    path = Path(path)
    if not path.is_file():
        raise DataError("labels file not found", where=str(path), hint="expected ROOT/labels.csv")
    out = {}
    with path.open(newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                labels = [int(x) for x in row["labels"].split()]
            except (KeyError, AttributeError, ValueError):
                raise DataError("expected columns video_id,split,labels with integer labels", where=f"{path}:{line}") from None
            if split is None or row["split"] == split:
                out[row["video_id"]] = labels
    return out


def write_demo(out_dir: str | Path, num_videos: int = 16, steps: int = 16, feature_dim: int = 8,
               num_classes: int = 3, seed: int = 0) -> None:
    """Demo data in the real layout: features = class prototype + noise; a quarter of the videos is ``val``."""
    out = Path(out_dir)
    (out / "features").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(size=(num_classes, feature_dim))
    rows = []
    for i in range(num_videos):
        cut = int(rng.integers(1, steps))
        a, b = rng.choice(num_classes, size=2, replace=False)
        labels = np.array([a] * cut + [b] * (steps - cut))
        features = prototypes[labels] + 0.5 * rng.normal(size=(steps, feature_dim))
        np.save(out / "features" / f"v{i:03d}.npy", features.astype(np.float32))
        rows.append([f"v{i:03d}", "val" if i % 4 == 3 else "train", " ".join(map(str, labels))])
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["video_id", "split", "labels"], *rows])


class ${Prefix}Dataset(VideoDataset):
    """Videos with one class label per feature step.

    Args:
        root: folder with ``labels.csv`` and ``features/`` (default: demo data when ``demo`` is set).
        split: rows of ``labels.csv`` to read.
        fps: feature steps per second (step ``t`` covers ``[t / fps, (t + 1) / fps]`` s).
        feature_dim: expected ``Df`` (supplied by the runner).
        on_error: ``raise`` on a bad video, or ``skip`` it (see :attr:`skipped`).
        demo: parameters of :func:`write_demo`, e.g. ``{num_videos: 16, seed: 0}``.
    """

    task: ClassVar[str] = "${plugin}"
    provides_head_args: ClassVar[tuple[str, ...]] = ("num_classes",)

    def __init__(self, root: str | None = None, split: str = "train", fps: float = 1.0, feature_dim: int | None = None,
                 on_error: str = "raise", demo: dict | None = None):
        if root is None:
            if demo is None:
                raise ConfigError("give root or demo", where="${Prefix}Dataset", hint="demo: {num_videos: 16, seed: 0}")
            from videollm_plugins.demo import ensure_demo_data

            params = {"feature_dim": feature_dim or 8, **demo}
            root = str(ensure_demo_data("${plugin}", functools.partial(write_demo, **params), params))
        self.root, self.fps, self.skipped = Path(root), float(fps), {}
        self.labels, self.features = {}, {}
        for video_id, labels in read_labels(self.root / "labels.csv", split).items():
            try:
                self.features[video_id] = self._load(video_id, len(labels), feature_dim)
                self.labels[video_id] = labels
            except DataError as e:
                if on_error != "skip":
                    raise
                self.skipped[video_id] = e.render()
        self.video_ids = sorted(self.labels)
        self.num_classes = 1 + max((max(v) for v in self.labels.values() if v), default=0)

    def _load(self, video_id: str, steps: int, feature_dim: int | None) -> np.ndarray:
        path = self.root / "features" / f"{video_id}.npy"
        if "/" in video_id or "\\\\" in video_id or video_id.startswith("."):
            raise DataError(f"unsafe video id {video_id!r}", where=str(self.root / "labels.csv"))
        if not path.is_file():
            raise DataError("feature file not found", where=str(path))
        features = np.load(path, mmap_mode="r")
        if features.shape[0] != steps or (feature_dim is not None and features.shape[1:] != (feature_dim,)):
            raise DataError(f"features have shape {list(features.shape)}, expected [{steps}, {feature_dim}]", where=str(path))
        if not np.isfinite(features).all():
            raise DataError("features hold NaN or Inf", where=str(path))
        return features

    def __len__(self) -> int:
        return len(self.video_ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        video_id = self.video_ids[index]
        features = np.array(self.features[video_id], dtype=np.float32)
        t = np.arange(len(features), dtype=np.float32)
        return {"features": features, "timestamps": np.stack([t, t + 1], axis=1) / self.fps,
                "targets": {"labels": np.array(self.labels[video_id], dtype=np.int64)}, "meta": {"video_id": video_id}}

    def ground_truth(self) -> dict[str, list[int]]:
        return {v: list(self.labels[v]) for v in self.video_ids}

    def head_args(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes}
'''

TEMPLATES["src/${module}/metric.py"] = '''\
"""Metric of ${dist} (registered as ``${plugin}``)."""
from __future__ import annotations

from pathlib import Path

from .. import Metric

from ..data import read_labels


class ${Prefix}Accuracy(Metric):
    """Per-step accuracy x100 over every ground-truth step (missing videos count as wrong).

    Ground truth: ``labels.csv`` (rows of ``split``, or all); predictions: JSON ``{video_id: [class per step]}``.
    """

    task = "${plugin}"
    keys = ("accuracy",)
    primary_key = "accuracy"

    def __init__(self, split: str | None = None):
        super().__init__()
        self.split = split

    def load_ground_truth(self, path: str | Path) -> dict[str, list[int]]:
        return read_labels(path, self.split)

    def format_predictions(self, entries: list[dict]) -> dict[str, list[int]]:
        return {e["video_id"]: list(e["labels"]) for e in entries}

    def evaluate(self, predictions: dict, ground_truth: dict) -> dict[str, float]:
        total = sum(len(v) for v in ground_truth.values())
        hits = sum(int(p == g) for v, gt in ground_truth.items() for p, g in zip(predictions.get(v, []), gt))
        return {"accuracy": 100.0 * hits / total if total else 0.0}
'''

TEMPLATES["configs/example.yaml"] = '''\
# ${dist}: a few training steps with a tiny random-init GPT-2 on generated data (offline).
#   videollm-run configs/example.yaml
work_dir: work_dirs/${plugin}
seed: 0
model:
  encoder: {type: "${plugin}:${Prefix}Encoder", in_dim: 8, out_dim: 32}
  translator: {type: ${Prefix}Translator}
  llm:
    type: HFCausalLM
    config: {model_type: gpt2, n_layer: 2, n_embd: 32, n_head: 2, n_positions: 128, bos_token_id: null, eos_token_id: null}
    tokenizer: {words: [${plugin}]}
    # pretrained: gpt2     # <- a real LLM instead of the two lines above
  tuner: {type: Frozen}
  head: {type: ${Prefix}Head}
  prompt: "${plugin}"
data:
  train: {type: ${Prefix}Dataset, split: train, demo: {num_videos: 16, seed: 0}}
  val: {type: ${Prefix}Dataset, split: val, demo: {num_videos: 16, seed: 0}}
  batch_size: 4
  num_workers: 0
metric: {type: ${plugin}}
train: {max_steps: 10, lr: 5.0e-3, eval_every: 10, log_every: 5}
'''

TEMPLATES["tests/test_plugin.py"] = '''\
"""Tests of ${dist}: components on their own, then the plugin inside videollm-core."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from .. import DataError, StreamInputs, pad_collate
from ${module}.data import ${Prefix}Dataset, write_demo
from ${module}.encoder import ${Prefix}Encoder
from ${module}.head import ${Prefix}Head
from ${module}.metric import ${Prefix}Accuracy
from ${module}.translator import ${Prefix}Translator

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "example.yaml"


def test_components_shapes_and_loss(tmp_path):
    write_demo(tmp_path, num_videos=4, steps=6, feature_dim=5)
    ds = ${Prefix}Dataset(str(tmp_path), split="train", feature_dim=5)
    assert len(ds) == 3 and ds.head_args() == {"num_classes": 3}
    batch = pad_collate([ds[0], ds[1]])
    tokens = ${Prefix}Encoder(in_dim=5, out_dim=4)(batch)
    assert tokens.embeds.shape == (2, 6, 4) and torch.equal(tokens.spans, batch.timestamps)
    visual = ${Prefix}Translator(in_dim=4, out_dim=8)(tokens)
    head = ${Prefix}Head(in_dim=8, num_classes=3)
    stream = StreamInputs(visual=visual, embeds=visual.embeds, mask=visual.mask, visual_positions=torch.arange(6).expand(2, 6))
    outputs = head(visual.embeds, batch, stream)
    assert outputs["logits"].shape == (2, 6, 3) and head.loss(outputs, batch)["loss"].item() > 0
    assert [len(e["labels"]) for e in head.predict(outputs, batch)] == [6, 6]


def test_dataset_errors(tmp_path):
    write_demo(tmp_path, num_videos=4, steps=6, feature_dim=5)
    np.save(tmp_path / "features" / "v000.npy", np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(DataError, match="expected \\\\[6, 5\\\\]"):
        ${Prefix}Dataset(str(tmp_path), split="train", feature_dim=5)
    assert list(${Prefix}Dataset(str(tmp_path), split="train", feature_dim=5, on_error="skip").skipped) == ["v000"]


def test_metric_by_hand():
    metric = ${Prefix}Accuracy()
    assert metric.evaluate({"a": [0, 1, 1]}, {"a": [0, 1, 2], "b": [1]}) == {"accuracy": pytest.approx(50.0)}


def test_example_yaml_trains(tmp_path, monkeypatch):
    from ..config import load_config
    from ..validation import validate_config
    from ..plugins import configure_plugins
    from ..engine.runner import Runner

    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    manager = configure_plugins()
    manager.load()
    assert manager.infos["${plugin}"].status == "loaded", "install the package first: pip install -e ."
    cfg = load_config(CONFIG, [f"work_dir={tmp_path / 'work'}"])
    validate_config(cfg)
    Runner(cfg).train()
    records = [json.loads(line) for line in (tmp_path / "work" / "metrics.jsonl").read_text().splitlines()]
    assert any("${plugin}/accuracy" in r for r in records)
    assert (tmp_path / "work" / "predictions" / "${plugin}_val.json").is_file()
'''

__all__ = ["TEMPLATES"]
