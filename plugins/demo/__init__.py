"""Deterministic demo data, written in each task's real on-disk format (see `cache`)."""
from .cache import demo_cache_root, ensure_demo_data

__all__ = ["demo_cache_root", "ensure_demo_data"]
