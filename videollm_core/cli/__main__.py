"""``python -m videollm_core.cli ARGS`` is ``videollm ARGS`` (``accelerate launch -m videollm_core.cli run CONFIG``)."""
import sys

from .commands import main

sys.exit(main())
