"""Issue "Hostile data files" part 2: garbage is never scored.

Every task's predictions reader checks every entry of the file when it is loaded, whatever
its id: wrong types, NaN/inf scores, negative or reversed segments, unknown classes (where
the metric has its class table) and duplicated ids are refused through ``videollm evaluate``
with exit code 2 and a message naming the file and the entry, never scored as misses. What a
reference evaluator defines is kept as it does (the ``tolerated`` tests cite it). Ground
truth: each task's demo data; a valid submission is the ground truth written as predictions.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from submissions import demo_ground_truth, metric_of, valid, write
from videollm_core.cli.commands import main

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_cache) -> Callable[[str], str]:
    """``task -> the --ground-truth argument`` of the task's demo data (written once per module)."""
    made: dict[str, str] = {}

    def ground_truth(task: str) -> str:
        if task not in made:
            made[task] = demo_ground_truth(task, tmp_path_factory.mktemp(task), demo_cache)
        return made[task]

    return ground_truth


def evaluate(capsys, task: str, gt: str, pred: Path, *options: str) -> tuple[int, str, str]:
    args = ["evaluate", task, "--ground-truth", gt, "--predictions", str(pred), "--json"]
    for o in options:
        args += ["--option", o]
    capsys.readouterr()  # what came before (the demo data's messages)
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def case(demo, tmp_path, capsys, isolated_cli):
    """``case(task, mutate, *options) -> (code, scores or None, stderr, prediction path)``; ``mutate`` edits the
    valid submission in place."""
    def run(task: str, mutate: Callable[[Any], Any] | None = None, *options: str):
        gt = demo(task)
        sub = copy.deepcopy(valid(task, gt))
        if mutate is not None:
            mutate(sub)  # in place
        pred = write(task, sub, tmp_path / f"pred_{task}{'' if task == 'action_segmentation' else '.json'}")
        code, out, err = evaluate(capsys, task, gt, pred, *options)
        return code, json.loads(out) if code == 0 else None, err, pred
    return run


def refused(result, *places: str) -> None:
    code, _, err, pred = result
    assert code == 2, err
    assert "Traceback" not in err
    for text in (str(pred), *places):
        assert text in err, (text, err)


# -- per task: the mutations and where the error must point --------------------------------------
def first(d: dict) -> Any:
    return next(iter(d))


def mq_set(key: str, value: Any, vid: str | None = None):
    def mutate(s):
        v = vid or first(s["results"])
        s["results"].setdefault(v, [{"label": "x", "segment": [0.0, 1.0], "score": 0.5}])[0][key] = value
    return mutate


USER_CASE = {"label": "CleanAndJerk", "segment": ["a", None], "score": "x"}
MQ = {
    "user_case_known_video": (lambda s: s["results"][first(s["results"])].insert(0, dict(USER_CASE)), ["[0]", "segment", "['a', None]"]),
    "user_case_unknown_video": (lambda s: s["results"].update(no_such_video=[dict(USER_CASE)]), ["results['no_such_video'][0]", "segment"]),
    "nan_score": (mq_set("score", NAN), ["score must be a finite number, got nan"]),
    "inf_score_unknown_video": (mq_set("score", INF, "no_such_video"), ["results['no_such_video'][0]", "score"]),
    "string_score": (mq_set("score", "0.9"), ["score must be a finite number"]),
    "bool_score": (mq_set("score", True), ["score"]),
    "reversed_segment": (mq_set("segment", [5.0, 2.0]), ["reversed"]),
    "negative_segment": (mq_set("segment", [-1.0, 2.0]), ["negative start"]),
    "label_null": (mq_set("label", None), ["label must be a class name"]),
    "missing_score": (lambda s: s["results"][first(s["results"])][0].pop("score"), ["missing field(s) 'score'"]),
    "detections_not_a_list": (lambda s: s["results"].update(v0={"label": "x"}), ["results['v0']", "must be a list"]),
}
NLQ = {
    "query_idx_string": (lambda s: s["results"][0].update(query_idx="0"), ["results[0]", "query_idx must be an integer"]),
    "clip_uid_number": (lambda s: s["results"][0].update(clip_uid=7), ["results[0]", "clip_uid must be a string"]),
    "flat_windows": (lambda s: s["results"][0].update(predicted_times=[1.0, 2.0]), ["predicted_times[0] must be [start, end]"]),
    "nan_window": (lambda s: s["results"][0].update(predicted_times=[[NAN, 2.0]]), ["predicted_times[0]"]),
    "reversed_window": (lambda s: s["results"][0].update(predicted_times=[[0.0, 1.0], [4.0, 2.0]]), ["predicted_times[1]", "reversed"]),
    "negative_window": (lambda s: s["results"][0].update(predicted_times=[[-3.0, 2.0]]), ["negative start"]),
    "duplicate_query": (lambda s: s["results"].append(dict(s["results"][0])), ["appears twice", "results[0]"]),
    "unknown_query_malformed": (lambda s: s["results"].append({"clip_uid": "nope", "annotation_uid": "a", "query_idx": 0,
                                                                "predicted_times": [[None, 1]]}), ["predicted_times[0]"]),
}
QVH = {
    "duplicate_qid": (lambda s: s.append(dict(s[0])), ["appears twice", "row 1"]),
    "window_without_score": (lambda s: s[0].update(pred_relevant_windows=[[0.0, 2.0]]), ["row 1", "[start, end, score]"]),
    "nan_window_score": (lambda s: s[0].update(pred_relevant_windows=[[0.0, 2.0, NAN]]), ["pred_relevant_windows[0]"]),
    "reversed_window": (lambda s: s[1].update(pred_relevant_windows=[[8.0, 2.0, 0.5]]), ["row 2", "reversed"]),
    "negative_window": (lambda s: s[0].update(pred_relevant_windows=[[-2.0, 2.0, 0.5]]), ["negative start"]),
    "saliency_string": (lambda s: s[0].update(pred_saliency_scores=["x"]), ["pred_saliency_scores[0] must be a finite number"]),
    "saliency_inf": (lambda s: s[0].update(pred_saliency_scores=[INF]), ["pred_saliency_scores[0]"]),
    "qid_null": (lambda s: s[0].update(qid=None), ["qid must be an integer"]),
    "missing_field": (lambda s: s[1].pop("pred_saliency_scores"), ["row 2", "'pred_saliency_scores'"]),
    "unknown_qid_malformed": (lambda s: s.append({"qid": 10 ** 9, "pred_relevant_windows": [["a", 1, 1]], "pred_saliency_scores": []}),
                              ["pred_relevant_windows[0]"]),
}


def dc_set(key: str, value: Any, vid: str | None = None):
    def mutate(s):
        s["results"].setdefault(vid or first(s["results"]), [{"timestamp": [0.0, 1.0], "sentence": "x"}])[0][key] = value
    return mutate


DC = {
    "reversed": (dc_set("timestamp", [9.0, 3.0]), ["[0]", "reversed"]),
    "negative": (dc_set("timestamp", [-1.0, 3.0]), ["negative start"]),
    "nan": (dc_set("timestamp", [NAN, 3.0]), ["timestamp must be [start, end]"]),
    "sentence_number": (dc_set("sentence", 5), ["sentence must be a string"]),
    "not_a_list": (lambda s: s["results"].update(v0="a person cooks"), ["results['v0']", "must be a list"]),
    "unknown_video_malformed": (dc_set("timestamp", ["a", 2], "no_such_video"), ["results['no_such_video'][0]"]),
}
OC = {
    "caption_null": (lambda s: s["results"][0].update(caption=None), ["results[0]", "caption must be a string"]),
    "narration_id_number": (lambda s: s["results"][0].update(narration_id=3), ["narration_id must be a string"]),
    "duplicate_narration": (lambda s: s["results"].append(dict(s["results"][0])), ["appears twice"]),
    "nan_time": (lambda s: s["results"][0].update(timestamp_sec=NAN), ["timestamp_sec must be a finite number"]),
    "negative_time": (lambda s: s["results"][0].update(timestamp_sec=-1.0), ["timestamp_sec -1.0 is negative"]),
    "unknown_narration_malformed": (lambda s: s["results"].append({"narration_id": "nope:pass:0", "caption": ["x"]}), ["caption"]),
}


def lta_set(head: str, value: Any, key: str | None = None):
    def mutate(s):
        s.setdefault(key or first(s), {"verb": [[0] * 20] * 5, "noun": [[0] * 20] * 5})[head] = value
    return mutate


LTA = {
    "id_string": (lambda s: s[first(s)].update(verb=[["3"] * 20] * 5), ["verb[0][0]", "integer >= 0"]),
    "id_negative": (lambda s: s[first(s)].update(noun=[[-1] * 20] * 5), ["noun[0][0]"]),
    "id_float": (lambda s: s[first(s)].update(verb=[[2.5] * 20] * 5), ["verb id"]),
    "four_candidates": (lta_set("verb", [[0] * 20] * 4), ["5 lists of 20 ids"]),
    "short_candidate": (lta_set("noun", [[0] * 19] * 5), ["5 lists of 20 ids"]),
    "missing_noun": (lambda s: s[first(s)].pop("noun"), ["'noun'"]),
    "unknown_sample_malformed": (lta_set("verb", [[None] * 20] * 5, "nope_3"), ["['nope_3'].verb[0][0]"]),
}


def ek_first(s: dict) -> dict:
    return s["results"][first(s["results"])]


EK = {
    "nan_score": (lambda s: ek_first(s)["verb"].update({"0": NAN}), ["verb score of class '0'", "finite number"]),
    "string_score": (lambda s: ek_first(s)["noun"].update({"1": "high"}), ["noun score of class '1'"]),
    "missing_class": (lambda s: ek_first(s)["verb"].pop("0"), ["every class 0.."]),
    "class_key_not_an_id": (lambda s: ek_first(s)["verb"].update(a=0.1), ["not an integer id"]),
    "fewer_verbs_later": (lambda s: list(s["results"].values())[1]["verb"].popitem(), ["verb classes, the first result"]),
    "action_key": (lambda s: [r.update(action={"1,2": 0.5}) for r in s["results"].values()] and ek_first(s).update(action={"1,x": 0.5}),
                   ["'1,x' is not a 'verb,noun' pair"]),
    "action_class_unknown": (lambda s: [r.update(action={"999,0": 0.5}) for r in s["results"].values()], ["'999,0' names a class outside"]),
    "duplicate_action_pair": (lambda s: [r.update(action={"1,2": 0.5, "01,2": 0.4}) for r in s["results"].values()], ["appears twice"]),
    "mixed_action": (lambda s: ek_first(s).update(action={"1,2": 0.5}), ["for every segment or for none"]),
    "unknown_narration_malformed": (lambda s: s["results"].update(nope={"verb": {"0": NAN}, "noun": {"0": 1.0}}), ["results['nope']"]),
}


def oad_set(key: str, value: Any, vid: str | None = None):
    def mutate(s):
        s["results"].setdefault(vid or first(s["results"]), {"action": [[0.0]]})[key] = value
    return mutate


OAD = {
    "nan_score": (lambda s: s["results"][first(s["results"])]["action"][3].__setitem__(0, NAN), [".action", "non-finite score", "row 3"]),
    "string_score": (lambda s: s["results"][first(s["results"])]["action"][0].__setitem__(1, "x"), ["matrix of numbers"]),
    "ragged": (lambda s: s["results"][first(s["results"])]["action"][0].pop(), [".action", "[T, C] matrix"]),
    "missing_action": (oad_set("action", None), ["action must be a list"]),
    "verb_rows": (lambda s: s["results"][first(s["results"])].update(verb=[[0.0] * 11]), [".verb", "1 rows of scores"]),
    "fps_string": (lambda s: s.update(fps="4"), ["fps must be a finite number"]),
    "unknown_video_nan": (oad_set("action", [[NAN, 1.0]], "no_such_video"), ["results['no_such_video'].action"]),
    "unknown_video_classes": (oad_set("action", [[0.0, 1.0]], "no_such_video"), ["results['no_such_video'].action", "[T, 41]"]),
}
AS = {
    "two_files_one_video": (lambda s: s.update({f"{first(s)}.txt": s[first(s)]}), ["appears twice"]),
    "no_label_line_unknown_video": (lambda s: s.update({"nope": None}), ["nope", "expected the MS-TCN result format"]),
}
CASES = {"moment_query": MQ, "nlq": NLQ, "qvhighlights": QVH, "dense_caption": DC, "online_caption": OC, "lta": LTA,
         "anticipation": EK, "oad": OAD, "action_segmentation": AS}


@pytest.mark.parametrize("task,name", [(t, n) for t, cases in CASES.items() for n in cases])
def test_malformed_entry_is_refused(case, task, name):
    mutate, places = CASES[task][name]
    refused(case(task, mutate), *places)


@pytest.mark.parametrize("task", list(CASES))
def test_valid_submission_still_scores(case, task):
    """The ground truth written as predictions scores as the ground truth would (the best value)."""
    code, scores, err, _ = case(task, None, *(["soda=false"] if task == "dense_caption" else []))
    assert code == 0, err
    best = {"moment_query": ("average_mAP", 100.0), "nlq": ("R@1,IoU=0.5", 100.0), "qvhighlights": ("MR-full-mAP", 100.0),
            "lta": ("ED@20/action", 0.0), "anticipation": ("action/overall", 100.0), "oad": ("action/mean_top5_recall", 100.0),
            "action_segmentation": ("Acc", 100.0), "dense_caption": ("Recall", 100.0), "online_caption": ("BLEU@4", None)}[task]
    if best[1] is not None:
        assert scores[best[0]] == pytest.approx(best[1]), scores
    assert all(not isinstance(v, float) or v == v or k in ("METEOR", "SODA_c") for k, v in scores.items()), scores


def test_unknown_class_refused_with_a_class_table(case, demo):
    """With the class table given (``class_names``), a label outside it is refused."""
    names = sorted({a["label"] for d in metric_of("moment_query").load_ground_truth(demo("moment_query")).values() for a in d["annotations"]})
    refused(case("moment_query", mq_set("label", "NoSuchClass"), f"class_names=[{','.join(names)}]"), "label 'NoSuchClass' is not a known class")
    mapping = (Path(demo("action_segmentation")).parents[1] / "mapping.txt").read_text().split()[1::2]
    refused(case("action_segmentation", lambda s: s[first(s)].__setitem__(0, "no_such_step"), f"class_names=[{','.join(mapping)}]"),
            "line 2, frame 0", "'no_such_step' is not a known class")


def test_unknown_class_without_a_table_is_handled_as_the_reference_does(case):
    """Tolerated exactly as the reference evaluators do.

    * moment query: Ego4D ``MQ/Evaluation/ego4d/eval_detection.py`` ``ANETdetection._import_prediction``
      drops a detection whose label is not in the ground truth's ``activity_index`` ("Category ... is
      not in groundtruth set!"): the scores are unchanged.
    * action segmentation: MS-TCN ``eval.py`` (``main``, ``edit_score``, ``f_score``) compares label
      strings, so an unknown label is a wrong frame, scored, not refused.
    * LTA: ``EGO4D/forecasting`` ``ego4d_forecasting/evaluation/lta_metrics.py`` ``edit_distance``
      compares ids for equality, so an id outside the taxonomy never matches.
    """
    base = case("moment_query")[1]
    code, scores, err, _ = case("moment_query", lambda s: s["results"][first(s["results"])].append(
        {"label": "NoSuchClass", "segment": [0.0, 1.0], "score": 0.9}))
    assert code == 0 and scores == base, err
    code, scores, err, _ = case("action_segmentation", lambda s: s[first(s)].__setitem__(slice(0, 5), ["no_such_step"] * 5))
    assert code == 0 and scores["Acc"] < 100.0, err
    code, scores, err, _ = case("lta", lambda s: s[first(s)].update(verb=[[10 ** 6] * 20] * 5))
    assert code == 0 and scores["ED@20/verb"] > 0.0, err


def test_well_formed_entries_for_unknown_ids_follow_the_reference(case):
    """NLQ: an unknown query is refused (Ego4D ``NLQ/VSLNet/utils/evaluate_ego4d_nlq.py``
    ``evaluate_nlq_performance`` asserts "Instance not present!"); QVHighlights: an unknown qid is
    refused (moment_detr ``standalone_eval/eval.py`` ``eval_submission`` asserts the qid sets match)."""
    code, _, err, _ = case("nlq", lambda s: s["results"].append({"clip_uid": "nope", "annotation_uid": "a", "query_idx": 0,
                                                                 "predicted_times": [[0.0, 1.0]]}))
    assert code == 2 and "unknown query" in err and "Traceback" not in err
    code, _, err, _ = case("qvhighlights", lambda s: s.append({"qid": 10 ** 9, "pred_relevant_windows": [], "pred_saliency_scores": []}))
    assert code == 2 and "unknown" in err and "Traceback" not in err


def test_anticipation_scores_every_ground_truth_class(case):
    """EK100 ``evaluate_anticipation_json_ek100.py`` ``validate_submission`` raises ``MissingScoreException``
    when a class of the benchmark has no score: a submission scoring fewer verbs than the ground truth uses is refused."""
    def fewer(s):
        for r in s["results"].values():
            r["verb"] = {"0": 1.0}
    code, _, err, _ = case("anticipation", fewer)
    assert code == 2 and "the ground truth has verb class" in err and "Traceback" not in err


def test_oad_compact_folder_checks_every_video(case, demo, tmp_path, capsys):
    """The compact form is read video by video; a NaN in a video outside the ground truth is refused too."""
    from videollm_plugins.tasks.oad.formats import ScoreWriter

    sub = valid("oad", demo("oad"))
    writer = ScoreWriter(tmp_path / "scores", sub["fps"], compact=True)
    entries = [{"video_id": v, "first_step": 0, "num_steps": len(r["action"]), "action": r["action"]} for v, r in sub["results"].items()]
    writer.write(entries + [{"video_id": "no_such_video", "first_step": 0, "num_steps": 2, "action": [[NAN] * 41, [0.0] * 41]}])
    writer.close()
    code, _, err = evaluate(capsys, "oad", demo("oad"), tmp_path / "scores")
    assert code == 2 and "no_such_video" in err and "non-finite score" in err and "Traceback" not in err, err
