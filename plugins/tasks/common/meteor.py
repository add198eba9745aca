"""METEOR 1.5 (`pycocoevalcap`'s Java scorer, `-l en -norm`) for every captioning metric: one
process-wide session, since its JVM takes ~10 s to load the paraphrase table.

Online captioning ([`score_captions`][videollm_plugins.tasks.common.captioning.score_captions])
and dense captioning (densevid_eval's METEOR and SODA_c) score through [`shared_meteor`][videollm_plugins.tasks.common.meteor.shared_meteor].
"""
from __future__ import annotations

import atexit
import shutil
from typing import Hashable, Mapping, Sequence


def java_available() -> bool:
    """True when a `java` executable is on `PATH` (PTB tokenizer and METEOR need it)."""
    return shutil.which("java") is not None


def meteor_available() -> bool:
    """True when METEOR 1.5 can run: `java` on `PATH` and `pycocoevalcap` installed."""
    if not java_available():
        return False
    try:
        import pycocoevalcap.meteor.meteor  # noqa: F401
    except ImportError:
        return False
    return True


class MeteorSession:
    """`with MeteorSession() as m: corpus, per_segment = m.score(refs, hyps)`.

    Wraps `pycocoevalcap`'s METEOR (`-l en -norm`), whose `compute_score(gts, res)`
    returns METEOR's own corpus aggregate and one score per segment. Empty sentences
    are sent as `"."` (METEOR's stdio protocol stalls on an empty field).
    """

    def __init__(self) -> None:
        self._scorer = None

    def __enter__(self) -> "MeteorSession":
        if not meteor_available():
            raise RuntimeError("METEOR needs Java and pycocoevalcap")
        from pycocoevalcap.meteor.meteor import Meteor

        self._scorer = Meteor()
        return self

    def __exit__(self, *exc) -> None:
        scorer, self._scorer = self._scorer, None
        del scorer  # pycocoevalcap's __del__ stops the JVM

    def score(self, references: Mapping[Hashable, Sequence[str]], hypotheses: Mapping[Hashable, str]) -> tuple[float, list[float]]:
        """`{id: [reference, ...]}`, `{id: hypothesis}` (tokenized) -> `(corpus score, [score per id in dict order])`."""
        if not hypotheses:
            return 0.0, []
        gts = {k: [r if r.strip() else "." for r in references[k]] for k in hypotheses}
        res = {k: [h if h.strip() else "."] for k, h in hypotheses.items()}
        corpus, per = self._scorer.compute_score(gts, res)
        return float(corpus), [float(x) for x in per]


_SHARED: MeteorSession | None = None


def shared_meteor() -> MeteorSession:
    """One process-wide session (METEOR's JVM takes ~10 s to load its paraphrase table),
    started on first use and stopped at exit, so repeated evaluations pay it once."""
    global _SHARED
    if _SHARED is None:
        _SHARED = MeteorSession().__enter__()
        atexit.register(_SHARED.__exit__, None, None, None)
    return _SHARED


__all__ = ["MeteorSession", "shared_meteor", "java_available", "meteor_available"]
