"""Parameters of the deterministic demo-data generators (shared by the task packages)."""
from __future__ import annotations

from typing import Any


def demo_params(defaults: dict[str, Any], demo: dict[str, Any] | None, feature_dim: int | None,
                caps: dict[str, int] | None = None) -> dict[str, Any]:
    """Demo-generator parameters: `defaults` updated by `demo`; `feature_dim` (the
    encoder's `in_dim`) sets `feature_dim` unless `demo` does; `caps` bound counts
    (e.g. `{"num_verbs": len(VERBS)}`)."""
    params = dict(defaults)
    params.update(demo or {})
    if feature_dim is not None and "feature_dim" not in (demo or {}):
        params["feature_dim"] = int(feature_dim)
    for key, cap in (caps or {}).items():
        params[key] = min(int(params[key]), int(cap))
    return params


__all__ = ["demo_params"]
