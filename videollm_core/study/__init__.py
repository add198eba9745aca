"""The paper's study in one command: ``videollm study STUDY.yaml`` and ``videollm report DIR``.

- :mod:`.spec` reads and checks a study file (bases, axes, controls, executor);
- :mod:`.plan` expands it into runs with stable ids and writes their folders;
- :mod:`.worker` trains one run and records its result (what every executor starts);
- :mod:`.study` runs a plan through an executor, resumable, failures recorded;
- :mod:`.collect` reads finished runs; :mod:`.report` writes the tables and plots;
- :mod:`.references` holds the paper's own numbers, quoted with their sources.

Layer: the study sits beside ``engine`` (it reads what runs write) and below ``cli``.
"""
