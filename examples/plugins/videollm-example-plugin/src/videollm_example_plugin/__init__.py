"""videollm-example-plugin: a third-party plugin for videollm-core (entry point ``example``)."""

__version__ = "0.1.0"
