"""The paper's quoted numbers (videollm_core/study/paper_numbers.yaml): the bundled file loads, each
entry names a registered metric and a key that metric really returns, the issue's numbers are there,
and malformed entries are refused with their index."""
from __future__ import annotations

import numpy as np
import pytest

from videollm_core.plugins import REGISTRIES, configure_plugins
from videollm_core.study.references import DEFAULT_PATH, PaperNumber, lookup, paper_numbers


def _oad(metric):
    from videollm_plugins.tasks.oad.formats import OADGroundTruth

    labels = {"action": np.array([1, 2, 0]), "verb": np.array([1, 1, 0]), "noun": np.array([1, 2, 0])}
    gt = OADGroundTruth(4.0, {"v": labels}, {"action": 3, "verb": 2, "noun": 3})
    one_hot = {k: np.eye(gt.num_classes[k])[v].tolist() for k, v in labels.items()}
    return metric.evaluate({"fps": 4.0, "results": {"v": one_hot}}, gt)


def _nlq(metric):
    gt = {("c", "a", 0): {"key": ("c", "a", 0), "video_id": "c", "query": "q", "window": [0.0, 10.0], "duration": 20.0, "where": "x"}}
    pred = {"version": "1.0", "challenge": "ego4d_nlq_challenge",
            "results": [{"clip_uid": "c", "annotation_uid": "a", "query_idx": 0, "predicted_times": [[0.0, 10.0]]}]}
    return metric.evaluate(pred, gt)


def _lta(metric):
    future = {"verb": list(range(20)), "noun": [i % 3 for i in range(20)]}
    return metric.evaluate({"s": {"verb": [future["verb"]] * 5, "noun": [future["noun"]] * 5}}, {"s": future})


#: task -> a tiny perfect prediction scored by the registered metric (its real keys).
#: An entry for another task needs one here.
EVALUATE = {"oad": _oad, "nlq": _nlq, "lta": _lta}


@pytest.fixture(scope="module")
def numbers() -> list[PaperNumber]:
    return paper_numbers()


def test_bundled_file_loads(numbers):
    assert numbers and DEFAULT_PATH.name == "paper_numbers.yaml"
    assert all(n.source and n.model for n in numbers)


def test_tasks_are_registered_metrics_and_keys_are_returned(numbers):
    configure_plugins().load()  # the hermetic_plugins fixture restores the process-wide state
    names = set(REGISTRIES.metrics.names())
    by_task: dict[str, set[str]] = {}
    for n in numbers:
        by_task.setdefault(n.task, set()).add(n.metric)
    for task, keys in by_task.items():
        assert task in names, f"{task} is not a registered metric ({sorted(names)})"
        assert task in EVALUATE, f"add a tiny evaluation of {task} to EVALUATE"
        metric = REGISTRIES.metrics.build({"type": task}, where="test")
        returned = set(EVALUATE[task](metric))
        assert returned == set(metric.keys)  # the declared keys are the returned ones
        assert keys <= returned, f"{task}: {sorted(keys - returned)} not among {sorted(returned)}"


def test_the_issues_numbers_are_present(numbers):
    oad = lookup("oad", "action/mean_top5_recall", rq="RQ2")
    prefix = [n for n in oad if n.tuning == "prefix"]
    assert [n.value for n in prefix] == [21.4] and "r=4" in prefix[0].model and "+1.3" in prefix[0].note
    assert not [n for n in oad if n.tuning == "basic"]  # basic's own value is not stated: not derived
    lta = {n.metric: n.value for n in lookup("lta") if n.split == "test"}
    assert lta == {"ED@20/verb": 0.721, "ED@20/noun": 0.725, "ED@20/action": 0.921}  # fractions, as ours
    nlq = {n.model: n.value for n in lookup("nlq", "R@1,IoU=0.3")}
    assert nlq == {"VideoLLM, T5 encoder": 7.4, "VideoLLM, OPT": 7.3}
    assert lookup("oad", rq="RQ5") == [] and lookup("no_such_task") == []
    assert prefix[0].record_key == "oad/action/mean_top5_recall"


GOOD = """- {rq: RQ2, task: oad, dataset: EK100, split: val, model: m, llm: null, tuning: prefix,
   metric: mAP, value: 1.0, source: s}
"""


@pytest.mark.parametrize("second, message", [
    ("- {rq: RQ2, task: oad, dataset: EK100, split: val, model: m, llm: null, tuning: null, metric: mAP, value: 1}",
     "missing field.*source"),
    ("- {rq: RQ9, task: oad, dataset: EK100, split: val, model: m, llm: null, tuning: null, metric: mAP, value: 1, source: s}",
     "unknown rq 'RQ9'"),
    ("- {rq: RQ1, task: oad, dataset: EK100, split: val, model: m, llm: null, tuning: null, metric: mAP, value: x, source: s}",
     "value must be a finite number"),
    ("- {rq: RQ1, task: oad, dataset: EK100, split: dev, model: m, llm: null, tuning: null, metric: mAP, value: 1, source: s}",
     "split must be val or test"),
    ("- {rq: RQ1, task: oad, dataset: EK100, split: val, model: m, llm: null, tuning: full, metric: mAP, value: 1, source: s}",
     "unknown tuning"),
    ("- {rq: RQ1, task: oad, dataset: EK100, split: val, model: m, llm: null, tuning: null, metric: mAP, value: 1, source: s, valu: 2}",
     "unknown field.*valu"),
    ("- just text", "must be a mapping"),
])
def test_malformed_entry_names_its_index(tmp_path, second, message):
    path = tmp_path / "numbers.yaml"
    path.write_text(GOOD + second + "\n")
    with pytest.raises(ValueError, match=f"entry 1: {message}"):
        paper_numbers(path)
    path.write_text(GOOD)
    assert paper_numbers(path)[0].value == 1.0


def test_not_a_list_is_refused(tmp_path):
    path = tmp_path / "numbers.yaml"
    path.write_text("rq: RQ1\n")
    with pytest.raises(ValueError, match="must be a list"):
        paper_numbers(path)
