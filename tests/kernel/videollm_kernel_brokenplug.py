"""A plugin whose import fails, as one with a missing dependency does."""
import videollm_kernel_missing_dependency  # noqa: F401  (does not exist)
