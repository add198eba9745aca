"""The `README.md` model card of a pretrained folder, with Hub-style YAML front matter.

The front matter is written by `huggingface_hub.ModelCardData` (`library_name:
videollm-core`, `base_model`, `tags`, `datasets`, `metrics` and a `model-index`
with the run's scores), so `huggingface_hub` uploads and parses the card as it is.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..features import expected_feature_dim
from ..pipeline import LIBRARY_NAME as LIBRARY
from ..task_spec import task_specs


def _tasks(cfg: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """`[(task name, {"head", "prompt", "dim"})]` of a standalone model config (`dim`: the
    width `Df` of the features the task's encoder reads, `None` for frames)."""
    return [(spec.name, {"head": spec.head, "prompt": spec.prompt, "dim": expected_feature_dim(cfg, spec=spec)})
            for spec in task_specs(cfg)]


def _inputs(cfg: Mapping[str, Any]) -> str:
    """`"ENCODER units -> TRANSLATOR"`, or per task when tasks have their own."""
    specs = task_specs(cfg)
    if not any(spec.owns_input for spec in specs):
        return f"{cfg['model']['encoder'].get('type')} units -> {cfg['model']['translator'].get('type')}"
    return "each task's own encoder and translator (" + "; ".join(
        f"{s.name}: {(s.encoder_config(cfg) or {}).get('type')} -> {(s.translator_config(cfg) or {}).get('type')}" for s in specs) + ")"


def card_data(cfg: Mapping[str, Any], meta: Mapping[str, Any]) -> Any:
    """The `huggingface_hub.ModelCardData` of a pretrained folder."""
    from huggingface_hub import EvalResult, ModelCardData

    base = (meta.get("base_model") or {}).get("name_or_path")
    tasks = [name for name, _ in _tasks(cfg)]
    datasets = sorted({str(d) for d in meta.get("datasets") or []})
    scores = {k: float(v) for k, v in (meta.get("metrics") or {}).items() if isinstance(v, (int, float)) and v == v}
    results = [EvalResult(task_type=key.split("/", 1)[0], dataset_type=(datasets or ["demo"])[0], dataset_name=(datasets or ["demo"])[0],
                          metric_type=key.split("/", 1)[-1], metric_value=value, dataset_split="validation")
               for key, value in scores.items()]
    return ModelCardData(
        library_name=LIBRARY,
        base_model=base if base and not Path(str(base)).is_absolute() else None,
        tags=["videollm", "video", *[t.replace("_", "-") for t in tasks]],
        datasets=datasets or None,
        metrics=sorted({k.split("/", 1)[-1] for k in scores}) or None,
        model_name=meta.get("name") or "videollm-model",
        eval_results=results or None,
    )


def card_text(cfg: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
    """The whole card: front matter, then what the model is and how to use it."""
    data = card_data(cfg, meta)
    llm = cfg["model"]["llm"]
    base = (meta.get("base_model") or {}).get("name_or_path") or f"{llm.get('type')} built from config (weights included)"
    lines = ["---", data.to_yaml().strip(), "---", "", f"# {meta.get('name') or 'VideoLLM model'}", "",
             "A [VideoLLM](https://arxiv.org/abs/2305.13292) pipeline trained with videollm-core: video features ->",
             f"{_inputs(cfg)} -> the LLM ({base},"
             f" tuning {(cfg['model'].get('tuner') or {}).get('type', 'Frozen')}) -> task heads.", "", "## Tasks", ""]
    for name, task in _tasks(cfg):
        head = task.get("head") or {}
        lines.append(f"- `{name}`: head `{head.get('type')}`" + (f", prompt \"{task['prompt']}\"" if task.get("prompt") else ""))
    extraction = meta.get("extraction")
    lines += ["", "## Input features", ""]
    backbone = (extraction or {}).get("backbone") if isinstance(extraction, dict) else extraction
    backbone_name = backbone.get("name") if isinstance(backbone, dict) else backbone
    dims = {n: t["dim"] for n, t in _tasks(cfg)}
    if len(set(dims.values())) > 1:  # tasks of different widths: say which is which
        wanted = "Expects per task " + ", ".join(f"`{n}`: `[T, {d}]` feature arrays" if d else f"`{n}`: video frames" for n, d in dims.items())
    else:
        dim = next(iter(dims.values()))
        wanted = f"Expects `[T, {dim}]` feature arrays" if dim is not None else "Reads video frames"
    lines.append(wanted + (f" extracted with `{backbone_name}` at {extraction.get('fps')} steps/s (`videollm extract`); `videollm predict"
                           " --videos` extracts them itself." if backbone_name and isinstance(extraction, dict)
                           else "; the extraction backbone was not recorded."))
    if meta.get("metrics"):
        lines += ["", f"## Validation scores (step {meta.get('step')})", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {float(v):.4f} |" for k, v in meta["metrics"].items() if isinstance(v, (int, float))]
    lines += ["", "## Use", "", "```python", *usage_code(cfg), "```", "",
              "```bash", f"videollm predict {PLACEHOLDER} --features FEATURES_DIR --out predictions.json",
              f"videollm stream {PLACEHOLDER} video.npy --json", "```", ""]
    return "\n".join(lines)


#: stands for the folder or hub id in the card's usage code.
PLACEHOLDER = "PATH_OR_HUB_ID"


def usage_code(cfg: Mapping[str, Any]) -> list[str]:
    """The card's Python usage lines: load with `VideoLLM.from_pretrained`, then stream features
    `[T, Df]` into the first task (runnable as it is once `PLACEHOLDER` names the model)."""
    task, first = _tasks(cfg)[0]
    named = f"task=\"{task}\"" if cfg.get("tasks") else ""
    dim = first["dim"]
    lines = ["import torch"] * (dim is not None) + ["from videollm_core import VideoLLM", "",
             f"model = VideoLLM.from_pretrained(\"{PLACEHOLDER}\")  # a model folder or a hub id; in eval() mode",
             f"stream = model.stream({named})  # online: push feature steps as they arrive"]
    if dim is not None:
        lines += [f"features = torch.randn(16, {dim})  # [T, Df]: 16 feature steps of a video",
                  "outputs = stream.push(features)  # the head's outputs for the units completed so far (None: none yet)"]
    return lines


def write_model_card(path: str | Path, cfg: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
    Path(path).write_text(card_text(cfg, meta), encoding="utf-8")


__all__ = ["LIBRARY", "PLACEHOLDER", "card_data", "card_text", "usage_code", "write_model_card"]
