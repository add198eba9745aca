"""The command line: ``videollm-run`` and ``videollm`` (``commands``), listings, the
plugin scaffold, and the model commands (``export``, ``predict``, ``stream``).

It sits on top: it imports the engine and the kernel, and nothing imports it.
"""
