"""The mp4 writer of ``tests/features/feature_layouts.py`` is shared with these tests."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
