"""Demo data of action anticipation: the EPIC-KITCHENS-100 demo tree, shared with online action
detection and written by `common.ek100_demo_data` (RULSTM csv, `actions.csv`, the
official split files and `features/`; its planted signal is documented there).

`ek100_tree` `(demo, feature_dim) -> (root, params)` makes it once per parameter set.
"""
from __future__ import annotations

from ..common.ek100_demo_data import DEFAULTS, demo_params, generate
from ..common.ek100_demo_data import ensure_tree as ek100_tree

__all__ = ["DEFAULTS", "demo_params", "generate", "ek100_tree"]
