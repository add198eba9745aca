"""``build_pipeline(load_config(path))`` builds every shipped example without a Runner (head sizes
read from the config's datasets, or from the config for the paper-scale ones on the meta device),
and ``pipeline.stream()`` on it equals the full forward pass unit by unit."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from videollm_core import VideoBatch, build_pipeline, load_config
from videollm_core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
#: paper-scale configs (one folder per task): a stride through each folder keeps the test cheap on two cores
PAPER = [p for folder in sorted(q for q in (ROOT / "examples" / "paper").iterdir() if q.is_dir())
         for p in sorted(folder.glob("[!_]*.yaml"))[::12]]


#: heads whose outputs at a unit depend only on units up to it: compared output by output
#: (per unit: the OAD classifiers; at the newest unit: anticipation). Every other head is
#: checked on the LLM hidden states it receives, which is what streaming changes.
PER_UNIT, AT_NEWEST = {"oad"}, {"anticipation"}


def _head_inputs(head) -> tuple[list, object]:
    seen: list = []
    return seen, head.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach().clone()))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_builds_and_streams_like_the_full_forward(path, perturb):
    cfg = load_config(path)
    pipeline = build_pipeline(cfg).eval()
    assert pipeline.tasks, path
    perturb(pipeline, scale=0.2)  # untrained heads and translators: make every output depend on the input
    steps = 12
    start = torch.arange(steps, dtype=torch.float32)
    for task in pipeline.tasks:  # each task at its own encoder's width
        feats = torch.randn(steps, pipeline.encoder_for(task).in_dim, generator=torch.Generator().manual_seed(1))
        query = "where is the knife" if task in ("nlq", "qvhighlights") else None
        batch = VideoBatch(features=feats[None], mask=torch.ones(1, steps, dtype=torch.bool),
                           timestamps=torch.stack([start, start + 1], -1)[None], queries=[query] if query else None,
                           meta=[{"video_id": "v", "fps": 1.0, "first_step": 0, "duration": float(steps)}])
        seen, handle = _head_inputs(pipeline.heads[task])
        with torch.no_grad():
            full = pipeline(batch, task)
        stream = pipeline.stream(task=task, query=query)
        parts = [stream.push(feats[:5]), stream.push(feats[5:6]), stream.push(feats[6:]), stream.flush()]
        handle.remove()
        parts = [p for p in parts if p is not None]
        hidden_full, hidden_streamed = seen[0], torch.cat(seen[1:], dim=1)
        assert stream.units == hidden_full.shape[1] == hidden_streamed.shape[1]
        assert (hidden_streamed - hidden_full).abs().max().item() < 1e-4, f"{path.stem}/{task}"
        if pipeline.heads[task].task in PER_UNIT:
            for key in pipeline.heads[task].classifiers:
                assert (torch.cat([p[key] for p in parts], 1) - full[key]).abs().max().item() < 1e-4, key
        if pipeline.heads[task].task in AT_NEWEST:
            for key in ("verb", "noun", "action"):
                assert (parts[-1][key] - full[key]).abs().max().item() < 1e-4, key


def test_paper_configs_are_found():
    assert len({p.parent for p in PAPER}) >= 5, PAPER


@pytest.mark.parametrize("path", PAPER, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_paper_config_builds_on_meta_without_data(path):
    """The data of a paper config is not on this machine: head sizes come from the config."""
    pipeline = build_pipeline(load_config(path), device="meta")
    assert sum(p.numel() for p in pipeline.llm.parameters()) > 5e7
    assert pipeline.tasks and all(p.device.type == "meta" for p in pipeline.parameters())


def test_missing_head_size_names_what_to_add(tmp_path):
    cfg = load_config(ROOT / "examples" / "oad.yaml")
    cfg["data"]["train"]["demo"] = None
    cfg["data"]["train"]["annotations"] = str(tmp_path / "missing.csv")
    del cfg["data"]["val"]
    with pytest.raises(ConfigError) as err:
        build_pipeline(cfg, device="meta")
    text = err.value.render()
    assert "model.head" in text and "num_classes: N" in text and "data.train" in text
