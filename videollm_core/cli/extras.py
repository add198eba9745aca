"""Optional packages a command needs, checked before anything heavy loads.

Each extra of ``pyproject.toml`` brings a few packages; a command that needs one calls
:func:`require_extra` first, so a missing package is one exit-2 message naming the extra
to install, not a raw ``ModuleNotFoundError`` after the backbone has loaded.
"""
from __future__ import annotations

import importlib.util

from ..errors import PluginError

#: import name -> (distribution, the extra of videollm-core that installs it).
EXTRAS = {
    "av": ("PyAV", "video"),
    "gradio": ("gradio", "demo"),
    "h5py": ("h5py", "features"),
    "lmdb": ("lmdb", "features"),
    "pycocoevalcap": ("pycocoevalcap", "eval"),
}


def require_extra(module: str, what: str) -> None:
    """Raise unless ``module`` can be imported.

    Args:
        module: an import name listed in :data:`EXTRAS` (e.g. ``"av"``).
        what: the command or option that needs it, e.g. ``"videollm extract"``.

    Raises:
        PluginError: naming the package and ``pip install "videollm-core[EXTRA]"``.
    """
    if importlib.util.find_spec(module) is not None:
        return
    dist, extra = EXTRAS[module]
    raise PluginError(f"needs the optional package {dist} (import name '{module}'), which is not installed",
                      where=what, hint=f'pip install "videollm-core[{extra}]" (from a clone: pip install -e ".[{extra}]")')


__all__ = ["EXTRAS", "require_extra"]
