"""coco-caption scorers through `pycocoevalcap`: PTB tokenizer, BLEU, METEOR, ROUGE_L, CIDEr-D.

One entry point, `score_captions`, used by online captioning and dense
captioning. It follows coco-caption exactly: both sides go through the Stanford PTB
tokenizer (lower-cased, punctuation tokens removed), BLEU is corpus-level with the
"closest" reference length, METEOR is METEOR 1.5's own corpus aggregate
(`-l en -norm`), CIDEr is CIDEr-D (sigma 6, n 1..4, x10, IDF from the references
passed in). Scores come back as coco-caption returns them (fractions, not x100).

The PTB tokenizer and METEOR are Java programs. Without `java` on `PATH`:
METEOR is **skipped** (absent from the result, with a warning) and the tokenizer falls
back to `simple_ptb_tokenize`, a Python approximation (also with a warning).
Nothing is ever faked.
"""
from __future__ import annotations

import logging
import re
import warnings
from typing import Hashable, Mapping, Sequence

from videollm_core.errors import ConfigError

from .meteor import java_available, meteor_available, shared_meteor

log = logging.getLogger("videollm")

#: every metric `score_captions` knows, in coco-caption's names.
ALL_METRICS = ("BLEU@1", "BLEU@2", "BLEU@3", "BLEU@4", "METEOR", "ROUGE_L", "CIDEr")
#: punctuation tokens coco-caption's PTBTokenizer drops.
PTB_PUNCTUATIONS = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"])


_TOKEN_RE = re.compile(r"[a-z0-9]+(?=n't\b)|n't\b|'[a-z]+|[a-z0-9]+|\.\.\.|--|``|''|[^\sa-z0-9]")


def simple_ptb_tokenize(text: str) -> str:
    """Python approximation of coco-caption's tokenization (used only without Java).

    Lower-cases, splits words from punctuation and drops `PTB_PUNCTUATIONS`.
    Differs from Stanford's tokenizer on rare cases (contractions, brackets).
    """
    tokens = _TOKEN_RE.findall(text.replace("\n", " ").lower())
    return " ".join(t for t in tokens if t not in PTB_PUNCTUATIONS)


def require_pycocoevalcap() -> None:
    """Raise a [`ConfigError`][videollm_core.errors.ConfigError] with the install line when `pycocoevalcap` is missing."""
    try:
        import pycocoevalcap  # noqa: F401
    except ImportError as e:
        raise ConfigError("caption metrics need pycocoevalcap (coco-caption's BLEU, METEOR, ROUGE_L, CIDEr-D)",
                          where="captioning metrics", hint='pip install "videollm-core[eval]"') from e


def tokenize(captions: Mapping[Hashable, Sequence[str]]) -> dict[Hashable, list[str]]:
    """`{id: [sentence, ...]}` -> the same, PTB-tokenized (Stanford's when Java is present)."""
    if java_available():
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        payload = {k: [{"caption": str(c)} for c in v] for k, v in captions.items()}
        return PTBTokenizer().tokenize(payload)
    warnings.warn("java not found: captions are tokenized by a Python approximation of the PTB tokenizer; "
                  "install a JRE (e.g. apt-get install default-jre-headless) for coco-caption's exact tokenization",
                  RuntimeWarning, stacklevel=2)
    return {k: [simple_ptb_tokenize(c) for c in v] for k, v in captions.items()}


def score_captions(
    candidates: Mapping[Hashable, str],
    references: Mapping[Hashable, Sequence[str]],
    metrics: Sequence[str] = ("BLEU@4", "METEOR", "ROUGE_L", "CIDEr"),
    *,
    tokenized: bool = False,
) -> dict[str, float]:
    """Score candidate captions against references with coco-caption's scorers.

    Args:
        candidates: `{id: sentence}`, one candidate per id.
        references: `{id: [sentence, ...]}`, at least one per id; must have exactly
            the ids of `candidates`.
        metrics: names from `ALL_METRICS`.
        tokenized: the texts are already PTB-tokenized (skip the tokenizer).

    Returns:
        `{metric: score}` as coco-caption computes it (fractions; CIDEr-D may exceed 1).
        METEOR is absent (with a warning) when Java is missing. With no ids at all,
        every metric is 0.0.

    Raises:
        ValueError: unknown metric name, differing id sets, or an id without references.
    """
    unknown = [m for m in metrics if m not in ALL_METRICS]
    if unknown:
        raise ValueError(f"unknown caption metric(s) {unknown}; choose from {list(ALL_METRICS)}")
    if set(candidates) != set(references):
        missing = sorted(map(str, set(references) - set(candidates)))[:5]
        extra = sorted(map(str, set(candidates) - set(references)))[:5]
        raise ValueError(f"candidates and references must have the same ids (missing {missing}, extra {extra})")
    empty = [k for k, v in references.items() if not v]
    if empty:
        raise ValueError(f"ids without any reference: {sorted(map(str, empty))[:5]}")
    metrics = list(metrics)
    if "METEOR" in metrics and not meteor_available():
        warnings.warn("METEOR skipped: it needs Java (install a JRE, e.g. apt-get install default-jre-headless)",
                      RuntimeWarning, stacklevel=2)
        metrics.remove("METEOR")
    if not candidates:
        return {m: 0.0 for m in metrics}
    ids = list(candidates)
    require_pycocoevalcap()
    keys = {k: i for i, k in enumerate(ids)}  # coco scorers want sortable, hashable ids
    res = {keys[k]: [str(v)] for k, v in candidates.items()}
    gts = {keys[k]: [str(r) for r in v] for k, v in references.items()}
    if not tokenized:
        res, gts = tokenize(res), tokenize(gts)
    res = {k: [v[0] if v[0].strip() else ""] for k, v in res.items()}
    out: dict[str, float] = {}
    bleu = [m for m in metrics if m.startswith("BLEU@")]
    if bleu:
        from pycocoevalcap.bleu.bleu import Bleu

        scores, _ = Bleu(4).compute_score(gts, res, verbose=0)
        for m in bleu:
            out[m] = float(scores[int(m[-1]) - 1])
    if "METEOR" in metrics:
        out["METEOR"] = _meteor(gts, res)
    if "ROUGE_L" in metrics:
        from pycocoevalcap.rouge.rouge import Rouge

        out["ROUGE_L"] = float(Rouge().compute_score(gts, res)[0])
    if "CIDEr" in metrics:
        from pycocoevalcap.cider.cider import Cider

        out["CIDEr"] = float(Cider().compute_score(gts, res)[0])
    return {m: out[m] for m in metrics}


def _meteor(gts: dict, res: dict) -> float:
    """METEOR's corpus score of tokenized `{id: [refs]}`, `{id: [hyp]}` through the shared session."""
    return shared_meteor().score(gts, {k: v[0] for k, v in res.items()})[0]


__all__ = ["ALL_METRICS", "java_available", "meteor_available", "simple_ptb_tokenize", "tokenize", "score_captions"]
