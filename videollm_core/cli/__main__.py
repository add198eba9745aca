"""``python -m videollm_core.cli ARGS`` is ``videollm ARGS`` (``accelerate launch -m videollm_core.cli run CONFIG``)."""
import os
import sys

from .commands import main

if "VIDEOLLM_DIE_WITH_PARENT" in os.environ:  # a study's training command (videollm_core.study.worker.die_with_parent)
    from ..study.worker import die_with_parent

    die_with_parent()
sys.exit(main())
