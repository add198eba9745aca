"""The live page's timeline: answers stamped with when they were known, detections drawn from them."""
from __future__ import annotations

from videollm_plugins.live_demo.timeline import Timeline


def _unit(u: int, label: str, p: float = 0.9) -> dict:
    return {"unit": u, "action": [[label, p], ["other", 1 - p]], "verb": [[3, 0.5], [1, 0.2]]}


def test_detections_are_runs_of_at_least_two_units_of_one_class_not_background():
    t = Timeline("oad", duration=3.0, unit_seconds=0.25)
    labels = ["background", "cut onion", "cut onion", "cut onion", "wash pan", "background", "wash pan", "wash pan", "background"]
    for u, label in enumerate(labels):
        t.add([_unit(u, label, 0.6 + 0.01 * u)], t=(u + 1) * 0.25)
    assert t.primary == "action"  # the named ranking, not the verb ids
    assert t.labels() == ["cut onion", "wash pan"]  # the one-unit 'wash pan' flicker is not a detection
    first, second = t.detections
    assert (first["start"], first["end"], first["t"]) == (0.25, 1.0, 0.75)  # known once its 2nd unit was answered
    assert (second["start"], second["end"]) == (1.5, 2.0)
    assert first["score"] == 0.63  # the run's best top score
    view = t.to_json(mode="video")
    assert [a["t"] for a in view["answers"]] == [(u + 1) * 0.25 for u in range(len(labels))]
    assert view["mode"] == "video" and view["detections"] == t.detections


def test_answers_without_rankings_draw_no_detections():
    t = Timeline("qvhighlights", duration=10.0, unit_seconds=1.0)
    t.add([{"unit": 0, "saliency": 0.3}, {"unit": 1, "saliency": 0.8, "moments": [[0.0, 2.0, 0.7]]}], t=2.0)
    assert t.detections == [] and t.primary is None and t.answered_s == 2.0
