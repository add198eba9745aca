"""`videollm demo-data TASK --out DIR`: a task's demo data, copied out of the cache, plus the config reading it.

The example config of the task (`examples/<task>.yaml`, or `--config`) is loaded; each
dataset entry with `demo:` is built once while the constructor's final arguments are
recorded (every function of the construction that takes `demo`, or `source` packed by
`with_source_args`, reports its locals on return: the annotation files, feature folder and
timing its demo branch chose). The demo
tree is copied to `DIR/data/`, and `DIR/config.yaml` is the example with each
`demo: {...}` replaced by those arguments, its paths pointing into `DIR/data/`: the
config a user writes for the real benchmark files.
"""
from __future__ import annotations

import inspect
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from videollm_core.config import plain_data
from videollm_core.errors import ConfigError

from .cache import demo_cache_root

#: constructor arguments the runner supplies, never written into a config.
SUPPLIED = ("feature_dim", "on_error", "demo")


def example_config(task: str, config: str | None = None) -> Path:
    """`config`, else `examples/<task>.yaml` of the source tree; [`ConfigError`][videollm_core.errors.ConfigError] when there is none."""
    if config is not None:
        path = Path(config)
    else:
        import videollm_core

        path = Path(videollm_core.__file__).resolve().parents[1] / "examples" / f"{task}.yaml"
    if not path.is_file():
        raise ConfigError(f"no example config for task {task!r}", where=str(path),
                          hint="give --config PATH (an example YAML with demo: datasets), or run from a source checkout")
    return path


def resolved_arguments(cls: type, args: dict[str, Any]) -> dict[str, Any]:
    """Build `cls(**args)` and return its constructor's arguments as the demo branch left them."""
    from ..tasks.common.source_args import SourceArgs

    signature = inspect.signature(cls.__init__).parameters
    seen: dict[str, Any] = {}

    def profile(frame: Any, event: str, arg: Any) -> None:
        code = frame.f_code
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if event == "return" and ("demo" in names or "source" in names):
            local = dict(frame.f_locals)
            if isinstance(local.get("source"), SourceArgs):  # a `with_source_args` constructor: its packed arguments
                local.update(local["source"].kwargs())
            for key, value in local.items():
                if key in signature and key != "self" and (value is not None or key not in seen):
                    seen[key] = value  # a value some frame resolved is never undone by an outer frame's None

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        cls(**args)
    finally:
        sys.setprofile(previous)
    return {k: v for k, v in seen.items() if k not in SUPPLIED and (k in args or v != signature[k].default)}


def _relocate(value: Any, cache: Path, data: Path) -> Any:
    """Paths inside the demo cache become the same paths under `data`; lists elementwise."""
    if isinstance(value, (list, tuple)):
        return [_relocate(v, cache, data) for v in value]
    if isinstance(value, (str, Path)):
        try:
            return str(data / Path(value).resolve().relative_to(cache))
        except ValueError:
            return str(value) if isinstance(value, Path) else value
    return value


def write_demo_data(task: str, out: str | Path, config: str | None = None, videos: bool = False) -> Path:
    """Write `out/data/` (the demo files in the benchmark's layout) and `out/config.yaml`; returns the config's path.

    `videos`: also render the features as mp4 clips under `out/data/videos/` and write a config that
    trains from them through a `FrameEncoder` (`video_data`)."""
    from videollm_core.config import load_config
    from videollm_core.plugins import REGISTRIES
    from videollm_core.validation import task_specs

    source = example_config(task, config)
    cfg = load_config(source)
    raw = plain_data(cfg)  # _base_ chains resolved: the written config stands alone
    out = Path(out).resolve()
    data = out / "data"
    cache = demo_cache_root().resolve()
    entries: list[tuple[str, dict[str, Any]]] = []
    for spec in task_specs(cfg):
        for split, dcfg in spec.data.items():
            if not isinstance(dcfg.get("demo"), dict):
                continue
            cls = REGISTRIES.datasets.lookup(dcfg["type"], where=f"{spec.path('data')}.{split}.type")
            args = {k: v for k, v in dcfg.items() if k != "type"}
            resolved = resolved_arguments(cls, args)
            used = {Path(v).resolve() for v in _flat(resolved.values()) if isinstance(v, str) and _inside(v, cache)}
            for path in used:
                top = cache / path.relative_to(cache).parts[0]
                if not (data / top.name).exists():
                    shutil.copytree(top, data / top.name, ignore=shutil.ignore_patterns(".complete"))
            entry = {"type": dcfg["type"], **{k: v for k, v in args.items() if k != "demo"}}
            entry.update({k: _relocate(v, cache, data) for k, v in resolved.items()})
            _set(raw, f"{spec.path('data')}.{split}", entry)
            entries.append((f"{spec.path('data')}.{split}", entry))
    if not entries:
        raise ConfigError("the config has no dataset with demo:", where=str(source), hint="pick an example config that runs on demo data")
    if videos:
        from .video_data import use_videos

        use_videos(raw, entries, data)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "config.yaml"
    header = f"# {task}: the example {source.name} reading the demo data in its benchmark's layout under {data}\n"
    if videos:
        header += f"# trained from the demo clips under {data / 'videos'} (one frame per feature step) through a FrameEncoder\n"
    target.write_text(header + yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return target


def _flat(values: Any) -> list[Any]:
    out: list[Any] = []
    for v in values:
        out += _flat(v) if isinstance(v, (list, tuple)) else [v]
    return out


def _inside(value: str, root: Path) -> bool:
    try:
        Path(value).resolve().relative_to(root)
        return True
    except (ValueError, OSError):
        return False


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node: Any = tree
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


__all__ = ["write_demo_data", "resolved_arguments", "example_config"]
