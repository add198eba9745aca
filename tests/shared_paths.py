"""Where the real annotation files live: ``shared/data`` beside the repository (as in CI),
or ``$VIDEOLLM_SHARED_DATA``. Research licences: they are read by tests, never packaged."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VIDEOLLM_SHARED_DATA") or REPO.parent / "shared" / "data")
