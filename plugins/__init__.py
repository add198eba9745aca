"""Built-in plugins of videollm-core (import package ``videollm_plugins``).

Each entry of :data:`BUILTIN_PLUGINS` is a plugin module with a
``@videollm_core.hookimpl def videollm_register(registries)``; the kernel loads them
one by one exactly as it loads third-party entry points, so ``-p no:NAME`` blocks
a built-in too. Modules here import ``transformers``/``peft`` lazily.
"""

#: plugin name -> module. Order matters only for listings.
BUILTIN_PLUGINS: dict[str, str] = {}
