"""The paper's study in one command: `videollm study STUDY.yaml` and `videollm report DIR`.

- `spec` reads and checks a study file (bases, axes, controls, executor);
- `plan` expands it into runs with stable ids and writes their folders;
- `worker` trains one run and records its result (what every executor starts);
- `study` runs a plan through an executor, resumable, failures recorded;
- `collect` reads finished runs; `report` writes the tables and plots;
- `references` holds the paper's own numbers, quoted with their sources.

Layer: the study sits beside `engine` (it reads what runs write) and below `cli`.
"""
