"""Helpers of ``bench/gpu.py`` (run through ``bench/gpu.sh``): :mod:`.report`, the JSON's keys, the
results and the Markdown table; :mod:`.launch`, the ``accelerate launch`` part; :mod:`.wheels`,
the packages that travel as wheels to a GPU machine without a package index."""
