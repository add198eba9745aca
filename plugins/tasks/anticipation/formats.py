"""The EK100 action-anticipation files: ground truth in, the official submission JSON out and back.

Submission (`epic-kitchens/C3-Action-Anticipation`):

    {"version": "0.2", "challenge": "action_anticipation",
     "sls_pt": 0, "sls_tl": 3, "sls_td": 3,
     "results": {narration_id: {"verb": {"0": s, ... all verbs},
                                "noun": {"0": s, ... all nouns},
                                "action": {"v,n": s, ... 100 pairs}}}}

An action key `"v,n"` is the verb-noun pair (id `verb * 1000 + noun` when scored, as
`evaluate_anticipation_json_ek100.py` does). Without action scores the official fallback
derives them from the verb and noun scores (`derive_action_scores`).

Ground truth: the official `EPIC_100_validation.csv` (`verb_class`/`noun_class`; no
`actions.csv` needed) or a RULSTM segment csv (`actions.csv` beside it), plus the official
tail/unseen files (found beside it or in `../official`, or given as `splits_dir`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from videollm_core.errors import DataError
from videollm_core.paths import read_json

from ..common import ek100, entries
from ..common.results_writer import ResultsWriter

NUM_ACTIONS_SUBMITTED = 100
CHALLENGE = "action_anticipation"

#: the layout of the prediction file, for error messages.
SUBMISSION_SHAPE = "the EK100 anticipation submission {'version', 'challenge', 'results': {narration_id: ...}}"


@dataclass
class EK100GroundTruth:
    """Segments to evaluate, the action table and the official subsets."""

    segments: list[ek100.EK100Segment]
    actions: np.ndarray  # [A, 2] (verb, noun) per action id
    splits: ek100.EK100Splits = field(default_factory=ek100.EK100Splits)
    action_names: list[str] = field(default_factory=list)


def load_ek100_ground_truth(path: str | Path, actions: str | Path | None = None, splits_dir: str | Path | None = None) -> EK100GroundTruth:
    """Official or RULSTM csv (+ `actions.csv`: required beside a RULSTM csv, optional for the
    official one, + official split files) -> `EK100GroundTruth`."""
    path = Path(path)
    if not path.is_file():
        raise DataError("ground-truth csv not found", where=str(path),
                        hint="pass EPIC_100_validation.csv or RULSTM's validation.csv")
    official = ek100.find_official_dir(path, splits_dir)
    table = Path(actions) if actions else path.parent / "actions.csv"
    if ek100.is_official_csv(path):
        pairs, names = ek100.read_actions(table) if table.is_file() else (np.zeros((0, 2), dtype=np.int64), [])
        segments = ek100.read_official_segments(path, {(int(v), int(n)): a for a, (v, n) in enumerate(pairs.tolist())})
        return EK100GroundTruth(segments, pairs, ek100.read_splits(official), names)
    pairs, names = ek100.read_actions(table)
    return EK100GroundTruth(ek100.read_segments(path), pairs, ek100.read_splits(official), names)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def derive_action_scores(verb: dict[str, float], noun: dict[str, float], n: int = NUM_ACTIONS_SUBMITTED) -> dict[str, float]:
    """The official fallback: softmax over the top-`n` verb and noun scores, outer product, best `n` pairs."""
    v_ids = sorted(verb, key=lambda k: -float(verb[k]))[:n]
    n_ids = sorted(noun, key=lambda k: -float(noun[k]))[:n]
    pv = _softmax(np.array([float(verb[k]) for k in v_ids]))
    pn = _softmax(np.array([float(noun[k]) for k in n_ids]))
    joint = pv[:, None] * pn[None, :]
    order = np.argsort(-joint.ravel(), kind="stable")[:n]
    return {f"{int(v_ids[i // len(n_ids)])},{int(n_ids[i % len(n_ids)])}": float(joint.ravel()[i]) for i in order}


def submission_header(sls: Mapping[str, int]) -> dict[str, Any]:
    """The submission's header: version, challenge and the supervision levels `sls_pt`/`sls_tl`/`sls_td`."""
    return {"version": "0.2", "challenge": CHALLENGE, **sls}


def submission_result(entry: Mapping[str, Any], pairs: np.ndarray | None) -> dict[str, Any]:
    """One segment's result from a head entry `{verb [V], noun [N], action [A] (optional)}`.

    Action scores become the `NUM_ACTIONS_SUBMITTED` best `"v,n"` keys through `pairs`
    (`[A, 2]` (verb, noun) per action id, from `actions.csv`); without them or without
    `pairs` the actions are derived from the verb and noun scores.
    """
    verb = {str(i): float(s) for i, s in enumerate(np.asarray(entry["verb"]).tolist())}
    noun = {str(i): float(s) for i, s in enumerate(np.asarray(entry["noun"]).tolist())}
    out: dict[str, Any] = {"verb": verb, "noun": noun}
    if entry.get("action") is not None and pairs is not None:
        scores = np.asarray(entry["action"], dtype=np.float64)
        top = np.argsort(-scores, kind="stable")[:NUM_ACTIONS_SUBMITTED]
        out["action"] = {f"{pairs[a, 0]},{pairs[a, 1]}": float(scores[a]) for a in top}
    else:
        out["action"] = derive_action_scores(verb, noun)
    return out


#: one segment's result, for error messages.
RESULT_FORM = ("each result is {'verb': {'0': score, ..., 'V-1': score}, 'noun': {'0': score, ..., 'N-1': score}, "
               "'action'?: {'v,n': score, ...}} with finite scores, the same V and N in every result")


def _check_scores(scores: Mapping[str, Any], where: str, field: str) -> None:
    """Every score of `{class: score}` a finite number (the fast path: one array)."""
    values = list(scores.values())
    if all(type(v) in (int, float) for v in values) and np.isfinite(np.array(values, dtype=np.float64)).all():
        return
    for name, v in scores.items():
        entries.number(v, where, f"{field} score of class {name!r}", RESULT_FORM)


def _class_count(scores: Any, where: str, field: str) -> int:
    """`{"0": s, ..., "C-1": s}` -> `C`: every class id `0..C-1` exactly once (the official
    `validate_submission`'s `MissingScoreException` / `InvalidClassEntry`), finite scores."""
    if not isinstance(scores, Mapping) or not scores:
        raise DataError(f"'{field}' must be an object {{class id: score}}, got {entries.show(scores)}", where=where, hint=RESULT_FORM)
    keys = list(scores)
    if keys != [str(c) for c in range(len(keys))]:
        try:
            ids = sorted(int(k) for k in keys)
        except ValueError:
            raise DataError(f"'{field}' has a class key that is not an integer id: {entries.show(keys)}", where=where, hint=RESULT_FORM) from None
        if ids != list(range(len(keys))):
            raise DataError(f"'{field}' must score every class 0..{len(keys) - 1} once, got the ids {entries.show(ids)}", where=where,
                            hint=RESULT_FORM)
    _check_scores(scores, where, field)
    return len(keys)


def _check_actions(actions: Any, where: str, num_verbs: int, num_nouns: int) -> None:
    """`{"v,n": score}`: keys of known verb and noun ids (the official `InvalidActionIdException`), each pair
    once (`"1,2"` and `"01,2"` are one pair), finite scores."""
    if not isinstance(actions, Mapping):
        raise DataError(f"'action' must be an object {{'v,n': score}}, got {entries.show(actions)}", where=where, hint=RESULT_FORM)
    seen: dict[Any, str] = {}
    for key in actions:
        try:
            verb, noun = (int(x) for x in str(key).split(","))
        except ValueError:
            raise DataError(f"action key {key!r} is not a 'verb,noun' pair of class ids", where=where, hint=RESULT_FORM) from None
        if not (0 <= verb < num_verbs and 0 <= noun < num_nouns):
            raise DataError(f"action key {key!r} names a class outside the {num_verbs} verbs and {num_nouns} nouns scored",
                            where=where, hint=RESULT_FORM)
        entries.once((verb, noun), seen, f"{where}: {key!r}", "action pair", "one score per verb-noun pair")
    _check_scores(actions, where, "action")


def read_submission(path: str | Path) -> dict[str, Any]:
    """The submission JSON, every result checked (whether or not its narration is in the ground truth).

    As `validate_submission` of `epic-kitchens/C3-Action-Anticipation`'s
    `evaluate_anticipation_json_ek100.py`: every result scores every verb and noun class
    (here `0..V-1` / `0..N-1` with V and N read off the first result, the same in every
    result), action keys are `"v,n"` pairs of those classes, and either every result has
    `action` scores or none has. Stricter than it: scores must be finite numbers (it lets
    NaN through, which ranks arbitrarily) and a verb-noun pair may appear once.

    Raises:
        DataError: missing, not JSON, without `results`, or naming the file and the narration id.
    """
    data = read_json(path, "prediction file", dict, SUBMISSION_SHAPE, require={"results": dict})
    sizes: dict[str, int] = {}
    with_action: bool | None = None
    for nid, result in data["results"].items():
        where = f"{path}: results[{nid!r}]"
        entries.fields(result, where, ("verb", "noun"), RESULT_FORM)
        for head in ("verb", "noun"):
            count = _class_count(result[head], where, head)
            if sizes.setdefault(head, count) != count:
                raise DataError(f"scores {count} {head} classes, the first result {sizes[head]}", where=where, hint=RESULT_FORM)
        if with_action is None:
            with_action = "action" in result
        if ("action" in result) != with_action:
            raise DataError("'action' scores must be given for every segment or for none", where=where, hint=RESULT_FORM)
        if with_action:
            _check_actions(result["action"], where, sizes["verb"], sizes["noun"])
    return data


class SubmissionWriter:
    """Writes the submission one segment at a time as head entries arrive: each entry becomes its
    segment's result in the file at once (`ResultsWriter`);
    `close()` returns the submission as read back, for `evaluate`.

    Args:
        path: the submission file.
        header: `submission_header`.
        result: entry -> the segment's result (`submission_result` with the action table).
    """

    def __init__(self, path: str | Path, header: Mapping[str, Any], result: Callable[[Mapping[str, Any]], dict[str, Any]]) -> None:
        self.path, self._result = Path(path), result
        self._out = ResultsWriter(self.path, header)

    def write(self, entries: list[dict[str, Any]]) -> None:
        for e in entries:
            self._out.add(str(e["narration_id"]), self._result(e))

    def close(self) -> dict[str, Any]:
        self._out.close()
        return read_submission(self.path)


def action_id(key: str) -> int:
    """`"v,n"` -> `v * 1000 + n` (the official action id)."""
    verb, noun = key.split(",")
    return int(verb) * 1000 + int(noun)


__all__ = ["NUM_ACTIONS_SUBMITTED", "SUBMISSION_SHAPE", "EK100GroundTruth", "load_ek100_ground_truth", "derive_action_scores",
           "submission_header", "submission_result", "read_submission", "SubmissionWriter", "action_id"]
