"""Architecture configs of the paper's LLMs, shipped so that a dry run on the meta device
builds them without downloading anything. One JSON per model: `{"names": [hub names...],
"config": {model_type, sizes...}}` (the published `config.json` values)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

_HERE = Path(__file__).parent


@lru_cache(maxsize=1)
def _table() -> dict[str, dict]:
    table: dict[str, dict] = {}
    for path in sorted(_HERE.glob("*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        for name in entry["names"]:
            table[name] = entry["config"]
    return table


def known_architecture(name: str) -> dict | None:
    """The config dict (with `model_type`) of hub model `name`, or None when not shipped."""
    cfg = _table().get(name)
    return dict(cfg) if cfg is not None else None


def known_names() -> list[str]:
    """Hub names whose architecture is shipped."""
    return sorted(_table())
