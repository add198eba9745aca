"""Built-in plugins of videollm-core (import package `videollm_plugins`).

Each entry of `BUILTIN_PLUGINS` is a plugin module with a
`@videollm_core.hookimpl def videollm_register(registries)`; the kernel loads them
one by one exactly as it loads third-party entry points, so `-p no:NAME` blocks
a built-in too. Modules here import `transformers`/`peft` lazily.
"""

#: plugin name -> module. Order matters only for listings.
BUILTIN_PLUGINS: dict[str, str] = {
    "llms": "videollm_plugins.llms",
    "tuning": "videollm_plugins.tuning",
    "early_stopping": "videollm_plugins.callbacks.early_stopping",
    "plots": "videollm_plugins.callbacks.plots",
    "executors": "videollm_plugins.executors",
    "encoders": "videollm_plugins.encoders.plugin",
    "features": "videollm_plugins.features.plugin",
    "translators": "videollm_plugins.translators.plugin",
    "action_segmentation": "videollm_plugins.tasks.action_segmentation.plugin",
    "dense_caption": "videollm_plugins.tasks.dense_caption.plugin",
    "oad": "videollm_plugins.tasks.oad.plugin",
    "anticipation": "videollm_plugins.tasks.anticipation.plugin",
    "lta": "videollm_plugins.tasks.lta.plugin",
    "online_caption": "videollm_plugins.tasks.online_caption.plugin",
    "moment_query": "videollm_plugins.tasks.moment_query.plugin",
    "nlq": "videollm_plugins.tasks.nlq.plugin",
    "qvhighlights": "videollm_plugins.tasks.qvhighlights.plugin",
}
