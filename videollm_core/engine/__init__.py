"""The training engine: the runner and what only it uses.

`runner` (accelerate-backed train / evaluate / predict), `evaluation` (the evaluation
loop and its work-dir outputs), `checkpoint` (resumable state on disk), `optim`
(AdamW groups, schedulers), `sampling` (a resumable data order), `settings` (the
`train:` keys), `logs` (metrics log, progress bar), `prediction_writer`,
`class_tables`, `consolidate` (full weights under DDP/FSDP/DeepSpeed) and `files`
(atomic writes). The engine imports the kernel, never the other way round.
"""
