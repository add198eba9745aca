"""Read a study folder's finished runs into rows: one per run, with what the report groups by.

Only runs with a `result.json` count (the worker writes it atomically once the run finished, so a
half-written metrics file is never read); failed and unfinished runs are listed apart. A run's LLM
family and size, tuning and seed come from its own `config.yaml` and `result.json` (the
parameter counts of `summary.json`), so a study whose axes carry no names is reported as well.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import read_yaml
from ..errors import ConfigError
from ..paths import read_json

#: label used for the LLM of a run without one (the no-LLM control).
NO_LLM = "none"


@dataclass
class Row:
    """One finished run."""

    id: str
    task: str                   #: the study's label of the base config
    tasks: list[str]            #: the config's task names (several in a multitask run)
    control: str | None
    llm: str                    #: the LLM's name: the axis label, else the checkpoint's name, else the architecture
    family: str                 #: gpt2, opt, llama, t5-decoder... (`none` for the no-LLM control)
    llm_parameters: int | None  #: the LLM's parameters (from the run's summary)
    parameters: int | None
    trainable: int | None
    tuning: str
    seed: Any
    metrics: dict[str, float]   #: `TASK/KEY` -> value at the best checkpoint
    primary: str | None         #: the metric that picked the best checkpoint (`train.best_metric`)
    seconds: float | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def group(self) -> tuple:
        """What seeds are folded over: everything that names the run except its seed."""
        return (self.task, self.control, self.llm, self.tuning, tuple(sorted((k, v) for k, v in self.labels.items() if k != "seed")))


def _llm_names(llm: dict[str, Any]) -> tuple[str, str]:
    """`(name, family)` of a `model.llm` section."""
    kind = str(llm.get("type", "")).rpartition(":")[2]
    if kind == "NoLLM":
        return NO_LLM, NO_LLM
    suffix = {"T5Decoder": "-decoder", "T5Encoder": "-encoder"}.get(kind, "")
    if isinstance(llm.get("pretrained"), str):
        name = llm["pretrained"].rstrip("/").rpartition("/")[2].lower()
        family = re.split(r"[-_]", name)[0]
        return name + suffix, family + suffix
    config = llm.get("config") or {}
    model_type = str(config.get("model_type", kind or "llm")).lower()
    return model_type + suffix, model_type + suffix


def read_row(folder: Path) -> Row | None:
    """The row of one run folder, or `None` when the run has no result (yet)."""
    result_file = folder / "result.json"
    if not result_file.is_file():
        return None
    plan = read_json(folder / "plan.json", "run plan", dict)
    result = read_json(result_file, "run result", dict)
    cfg = read_yaml(folder / "config.yaml")
    llm = (cfg.get("model") or {}).get("llm") or {}
    name, family = _llm_names(llm if isinstance(llm, dict) else {})
    labels = {str(k): str(v) for k, v in (plan.get("labels") or {}).items()}
    params = result.get("parameters") or {}
    llm_params = ((params.get("components") or {}).get("llm") or {}).get("total")
    tuner = (cfg.get("model") or {}).get("tuner") or {}
    tuning = labels.get("model.tuner") or str(tuner.get("type", "none")).rpartition(":")[2].lower()
    return Row(id=plan["id"], task=plan["task"], tasks=list(plan.get("tasks") or [plan["task"]]), control=plan.get("control"),
               llm=labels.get("model.llm") or name, family=family, llm_parameters=llm_params if name != NO_LLM else 0,
               parameters=params.get("total"), trainable=params.get("trainable"), tuning=tuning, seed=cfg.get("seed"),
               metrics={k: float(v) for k, v in (result.get("metrics") or {}).items() if isinstance(v, (int, float))},
               primary=(result.get("best") or {}).get("key"), seconds=result.get("seconds"), labels=labels)


@dataclass
class Collected:
    """Every run of a study folder: the finished rows, and the others by state."""

    rows: list[Row]
    failed: dict[str, dict[str, Any]]
    unfinished: list[str]
    planned: int


def collect(out: Path) -> Collected:
    """Read `out/runs/*`; a folder that is not a study's is a clear error."""
    runs = out / "runs"
    if not runs.is_dir():
        raise ConfigError(f"{out} holds no study runs (no runs/ folder)", where="videollm report DIR",
                          hint="point at the --out folder of `videollm study`")
    rows, failed, unfinished = [], {}, []
    folders = sorted(p for p in runs.iterdir() if (p / "plan.json").is_file())
    for folder in folders:
        row = read_row(folder)
        if row is not None:
            rows.append(row)
        elif (folder / "failed.json").is_file():
            try:
                failed[folder.name] = json.loads((folder / "failed.json").read_text(encoding="utf-8"))
            except ValueError:
                failed[folder.name] = {"error": "failed.json is damaged", "log": str(folder / "log.txt")}
        else:
            unfinished.append(folder.name)
    return Collected(rows, failed, unfinished, len(folders))


__all__ = ["Row", "Collected", "collect", "read_row", "NO_LLM"]
