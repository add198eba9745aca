"""A study file: which configs, which axes, which controls, where it runs.

.. code-block:: yaml

    study: demo                      # a name for the report
    base:                            # task label -> config file (or a folder: each *.yaml in it)
      oad: ../oad.yaml
    data_root: ../..                 # every run starts here (relative data paths resolve against it)
    options: {train.max_steps: 100}  # dotted overrides for every run
    axes:                            # crossed: one run per combination
      model.llm: {gpt2-s: {type: HFCausalLM, ...}, gpt2-m: {...}}   # named values...
      model.tuner: {basic: {type: Frozen}, lora: {type: LoRA, r: 4}}
      seed: [0, 1]                                                 # ...or a list
    controls:                        # RQ1: the same pipeline without what is under test
      no_llm: {set: {model.llm: {type: NoLLM}}, vary: [seed]}
    exclude: [{task: oad, model.tuner: lora}]   # combinations not to run (by label)
    executor: {type: local, jobs: 2}            # or {type: slurm, partition: gpu, time: 240, ...}
    gpus_per_run: 1

Relative paths are relative to the study file. Every problem is reported at once, each with its
place in the file (`STUDY.yaml: axes.model.llm`) and a hint, and exits with status 2.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import read_yaml
from ..errors import ConfigError, ConfigErrors
from ..sections import unknown_key

KEYS = ("study", "description", "base", "data_root", "options", "axes", "controls", "exclude", "executor", "gpus_per_run")
CONTROL_KEYS = ("set", "vary", "tasks")
#: characters kept in a run id; anything else becomes "-".
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def label_of(value: Any) -> str:
    """A short file-name-safe label for an axis value without a name: the scalar itself, a mapping's
    `type`, else a hash of its JSON."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return _UNSAFE.sub("-", str(value)).strip("-") or "none"
    if isinstance(value, dict) and isinstance(value.get("type"), str) and len(value) == 1:
        return _UNSAFE.sub("-", value["type"])
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Axis:
    """One crossed config key: `key` (dotted) and its `(label, value)` pairs."""

    key: str
    values: tuple[tuple[str, Any], ...]

    @property
    def short(self) -> str:
        """The key's last part (`model.llm` -> `llm`), as run ids name it."""
        return self.key.rpartition(".")[2]


@dataclass(frozen=True)
class Control:
    """A named control: `set` (dotted key -> value) on top of the base, crossed with the axes in `vary`."""

    name: str
    set: dict[str, Any]
    vary: tuple[str, ...]
    tasks: tuple[str, ...] | None = None


@dataclass
class Study:
    """A checked study file."""

    path: Path
    name: str
    bases: list[tuple[str, str | None, Path]]  #: (task label, variant: the file's stem in a folder base, config)
    data_root: Path
    options: dict[str, Any] = field(default_factory=dict)
    axes: list[Axis] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)
    exclude: list[dict[str, str]] = field(default_factory=list)
    executor: dict[str, Any] = field(default_factory=lambda: {"type": "local"})
    gpus_per_run: int = 1


def _base_label(path: Path) -> str:
    return path.parent.name if path.stem == "_base_" else path.stem


def _bases(raw: Any, here: Path, where: str, errors: list[ConfigError]) -> list[tuple[str, str | None, Path]]:
    if isinstance(raw, (str, list)):
        items = [(None, p) for p in ([raw] if isinstance(raw, str) else raw)]
    elif isinstance(raw, dict):
        items = list(raw.items())
    else:
        errors.append(ConfigError("expected task: config-file pairs, a list of config files or a folder", where=where))
        return []
    out: list[tuple[str, str | None, Path]] = []
    for label, rel in items:
        if not isinstance(rel, str):
            errors.append(ConfigError(f"expected a path, got {type(rel).__name__}", where=f"{where}.{label}"))
            continue
        path = (here / rel).resolve()
        if path.is_dir():
            files = sorted(p for p in path.glob("*.yaml") if p.name != "_base_.yaml")
            if not files:
                errors.append(ConfigError(f"folder {path} holds no *.yaml config", where=f"{where}.{label or rel}"))
            out += [(str(label or path.name), f.stem, f) for f in files]
        elif path.is_file():
            out.append((str(label) if label else _base_label(path), None, path))
        else:
            errors.append(ConfigError(f"config file not found: {path}", where=f"{where}.{label or rel}",
                                      hint="paths in a study file are relative to the study file"))
    return out


def _axis(key: Any, raw: Any, where: str, errors: list[ConfigError]) -> Axis | None:
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        errors.append(ConfigError(f"an axis is a dotted config key (model.llm, seed), got {key!r}", where=where))
        return None
    if isinstance(raw, dict) and raw:
        values = tuple((_UNSAFE.sub("-", str(name)), value) for name, value in raw.items())
    elif isinstance(raw, list) and raw:
        values = tuple((label_of(v), v) for v in raw)
    else:
        errors.append(ConfigError("an axis needs at least one value: a list, or name: value pairs", where=f"{where}.{key}"))
        return None
    labels = [label for label, _ in values]
    if len(set(labels)) != len(labels):
        errors.append(ConfigError(f"two values of this axis get the same label ({labels})", where=f"{where}.{key}",
                                  hint="name the values: key: {name1: value1, name2: value2}"))
        return None
    return Axis(key, values)


def _controls(raw: Any, axes: list[Axis], where: str, errors: list[ConfigError]) -> list[Control]:
    if not isinstance(raw, dict):
        errors.append(ConfigError("expected name: {set: {...}, vary: [...]} pairs", where=where))
        return []
    keys = [a.key for a in axes]
    out = []
    for name, body in raw.items():
        here = f"{where}.{name}"
        if not isinstance(body, dict) or not isinstance(body.get("set"), dict) or not body["set"]:
            errors.append(ConfigError("a control needs `set:` (dotted key: value) and may have `vary:` and `tasks:`", where=here))
            continue
        unknown = [k for k in body if k not in CONTROL_KEYS]
        for k in unknown:
            errors.append(unknown_key(k, CONTROL_KEYS, f"{here}.{k}"))
        vary = body.get("vary", ["seed"] if "seed" in keys else [])
        bad = [v for v in vary if v not in keys] if isinstance(vary, list) else [vary]
        if bad:
            errors.append(ConfigError(f"vary names axes; {bad} are not among them ({', '.join(keys) or 'none'})", where=f"{here}.vary"))
            continue
        tasks = body.get("tasks")
        out.append(Control(_UNSAFE.sub("-", str(name)), dict(body["set"]), tuple(vary), tuple(tasks) if tasks else None))
    return out


def read_study(path: str | Path) -> Study:
    """Read and check a study file; every problem is reported at once ([`ConfigErrors`][videollm_core.errors.ConfigErrors])."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"study file not found: {file}", where="videollm study", hint="videollm study STUDY.yaml")
    raw = read_yaml(file.resolve())
    here, where = file.resolve().parent, str(file)
    errors: list[ConfigError] = []
    for key in raw:
        if key not in KEYS:
            errors.append(unknown_key(key, KEYS, f"{where}: {key}"))
    if "base" not in raw:
        errors.append(ConfigError("a study needs `base:` (task: config file)", where=where))
    bases = _bases(raw.get("base"), here, f"{where}: base", errors) if "base" in raw else []
    axes_raw = raw.get("axes") or {}
    if not isinstance(axes_raw, dict):
        errors.append(ConfigError("expected dotted-key: values pairs", where=f"{where}: axes"))
        axes_raw = {}
    axes = [a for k, v in axes_raw.items() if (a := _axis(k, v, f"{where}: axes", errors))]
    controls = _controls(raw.get("controls") or {}, axes, f"{where}: controls", errors)
    options = raw.get("options") or {}
    if not isinstance(options, dict):
        errors.append(ConfigError("expected dotted-key: value pairs", where=f"{where}: options"))
        options = {}
    exclude = raw.get("exclude") or []
    if not isinstance(exclude, list) or not all(isinstance(e, dict) for e in exclude):
        errors.append(ConfigError("expected a list of {key: label} combinations", where=f"{where}: exclude"))
        exclude = []
    executor = raw.get("executor") or {"type": "local"}
    if isinstance(executor, str):
        executor = {"type": executor}
    if not isinstance(executor, dict) or not isinstance(executor.get("type", "local"), str):
        errors.append(ConfigError("expected {type: local|slurm, ...}", where=f"{where}: executor"))
        executor = {"type": "local"}
    gpus = raw.get("gpus_per_run", 1)
    if not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 0:
        errors.append(ConfigError(f"expected a whole number >= 0, got {gpus!r}", where=f"{where}: gpus_per_run"))
        gpus = 1
    data_root = raw.get("data_root", ".")
    if not isinstance(data_root, str):
        errors.append(ConfigError("expected a folder", where=f"{where}: data_root"))
        data_root = "."
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    return Study(path=file.resolve(), name=str(raw.get("study") or file.stem), bases=bases, data_root=(here / data_root).resolve(),
                 options=dict(options), axes=axes, controls=controls, exclude=[{str(k): str(v) for k, v in e.items()} for e in exclude],
                 executor={"type": "local", **executor}, gpus_per_run=gpus)


__all__ = ["Axis", "Control", "Study", "read_study", "label_of", "KEYS"]
