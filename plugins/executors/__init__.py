"""Built-in plugin `executors`: where a study's runs run (`videollm_core.executor`).

`local` starts them as processes on this machine, `slurm` submits them to a Slurm cluster
as a job array through `submitit` (imported only when a study uses it).
"""
from __future__ import annotations

import videollm_core


@videollm_core.hookimpl
def videollm_register(registries) -> None:
    """Register `local` and `slurm`."""
    from .local import LocalExecutor
    from .slurm import SlurmExecutor

    registries.executors.register_module(name="local", module=LocalExecutor)
    registries.executors.register_module(name="slurm", module=SlurmExecutor)
