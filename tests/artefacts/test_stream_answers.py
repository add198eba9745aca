"""``videollm stream`` answers what each task's head declares (``TaskHead.stream_answer``), on the nine
example models (random but non-trivial weights, no training): the kind of answer of every task, in
``--json`` and as text, and where a head reads the whole stream so far (moments, detections, events,
long-term anticipation), the same numbers as the batch reading of the stream."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from videollm_core import VideoBatch, build_pipeline, load_config, save_pretrained
from videollm_core.cli.commands import main

ROOT = Path(__file__).resolve().parents[2]
FPS, STEPS, TOP = 2.0, 16, 2
QUERY = {"nlq": "where is the knife", "qvhighlights": "a man cuts vegetables in the kitchen"}
#: examples whose model folder records class names (head order; OAD's class 0 is background).
NAMED = {"oad", "action_segmentation", "moment_query"}


@pytest.fixture(scope="module")
def model(tmp_path_factory, perturb):
    """``model(example) -> (folder, pipeline, class names or None)``, each built and saved once."""
    built: dict[str, tuple[Path, object, list[str] | None]] = {}

    def get(example: str):
        if example not in built:
            pipeline = build_pipeline(load_config(ROOT / "examples" / f"{example}.yaml")).eval()
            perturb(pipeline, scale=0.3)
            task, head = pipeline.tasks[0], pipeline.heads[pipeline.tasks[0]]
            size = {"oad": lambda: head.classifiers["action"].out_features - 1,
                    "action_segmentation": lambda: head.num_classes, "moment_query": lambda: head.num_classes}
            names = [f"{example}_{i}" for i in range(size[example]())] if example in NAMED else None
            folder = tmp_path_factory.mktemp("models") / example
            save_pretrained(pipeline, folder, inputs={task: {"fps": FPS, "window": None, **({"class_names": names} if names else {})}})
            built[example] = folder, pipeline, names
        return built[example]

    return get


def _stream(folder: Path, example: str, d: int, tmp_path: Path, capsys, *flags: str) -> list[str]:
    feats = np.random.default_rng(3).standard_normal((STEPS, d)).astype(np.float32)
    np.save(tmp_path / "clip.npy", feats)
    argv = ["stream", str(folder), str(tmp_path / "clip.npy"), "--top", str(TOP), *flags]
    assert main(argv + (["--query", QUERY[example]] if example in QUERY else [])) == 0, capsys.readouterr().err
    return capsys.readouterr().out.splitlines()


def _ranked(value, names=None):
    """A ``[[class, prob], ...]`` ranking: ``TOP`` classes, descending probabilities."""
    assert len(value) == TOP and all(0.0 <= p <= 1.0 for _, p in value)
    assert [p for _, p in value] == sorted((p for _, p in value), reverse=True)
    if names:
        assert all(c in names + ["background"] for c, _ in value), value
    return True


def _times(rows, elapsed: float) -> bool:
    """Moments ``[start_s, end_s, ...]`` inside the stream so far, best first."""
    assert rows and len(rows) <= TOP and all(0.0 <= r[0] < r[1] <= elapsed + 1e-6 for r in rows), (rows, elapsed)
    assert [r[-1] for r in rows] == sorted((r[-1] for r in rows), reverse=True) and all(0.0 <= r[-1] <= 1.0 for r in rows)
    return True


@pytest.mark.parametrize("example", ["oad", "action_segmentation", "anticipation", "lta", "nlq", "qvhighlights",
                                     "moment_query", "dense_caption", "online_caption"])
def test_each_task_answers_its_own_kind(example, model, tmp_path, capsys):
    folder, pipeline, names = model(example)
    head = pipeline.heads[pipeline.tasks[0]]
    unit_s = pipeline.encoder.unit_size / FPS  # seconds per unit (TemporalUnitEncoder)
    units = -(-STEPS // pipeline.encoder.unit_size)  # the trailing partial unit comes with the flush
    answers = [json.loads(line) for line in _stream(folder, example, pipeline.encoder.in_dim, tmp_path, capsys, "--json")]
    assert answers and all(0 <= a["unit"] < units for a in answers)
    assert [a["unit"] for a in answers] == sorted(a["unit"] for a in answers)
    if example in ("oad", "action_segmentation"):  # every unit: its top classes, named
        assert [a["unit"] for a in answers] == list(range(units))
        key = "action" if example == "oad" else "logits"
        assert all(_ranked(a[key], names) for a in answers)
    elif example == "anticipation":  # the newest unit of each push: the anticipated verb, noun, action
        assert all(_ranked(a[k]) for a in answers for k in ("verb", "noun", "action"))
    elif example == "lta":  # Z future verbs and nouns, valid taxonomy ids
        for a in answers:
            assert len(a["verb"]) == len(a["noun"]) == head.z == 20
            assert all(0 <= v < head.num_verbs for v in a["verb"]) and all(0 <= n < head.num_nouns for n in a["noun"])
            assert a["action"] == [[v, n] for v, n in zip(a["verb"], a["noun"])]
    elif example in ("nlq", "qvhighlights"):  # one push per unit: every unit answers the best moments so far
        assert [a["unit"] for a in answers] == list(range(units))
        assert all(_times(a["moments"], (a["unit"] + 1) * unit_s) for a in answers)
        if example == "qvhighlights":
            assert all(0.0 <= a["saliency"] <= 1.0 for a in answers)
    elif example == "moment_query":  # the best detections so far, with their class
        assert all(_times(a["segments"], (a["unit"] + 1) * unit_s) for a in answers)
        assert all(len(r) == 4 and r[2] in names for a in answers for r in a["segments"])
    elif example == "dense_caption":  # events once each, with their segment and caption
        events = [e for a in answers for e in a["events"]]
        assert events and all(set(e) == {"segment", "caption", "score"} and isinstance(e["caption"], str) for e in events)
        assert all(0.0 <= e["segment"][0] < e["segment"][1] <= STEPS / FPS for e in events)
        assert len({tuple(e["segment"]) for e in events}) == len(events)
    else:  # online captioning: the caption generated at the newest unit
        assert all(set(a) == {"unit", "caption"} and a["caption"] for a in answers)
    text = _stream(folder, example, pipeline.encoder.in_dim, tmp_path, capsys)
    assert len(text) == len(answers) + 1 and "units/s" in text[-1]
    assert all(line.startswith("unit ") and not set("[]{}'") & set(line.split('"')[0]) for line in text[:-1]), text[:3]


def _pushes(pipeline, example: str, feats: torch.Tensor, sizes=(5, 1, 3)):
    """Push ``feats`` in pieces of ``sizes`` (then the rest, then the flush); yields each push's outputs,
    first unit and units (the flush: ``{}`` and 0 units when it completes none) and whether it is the last."""
    stream = pipeline.stream(query=QUERY.get(example), step_seconds=1 / FPS)
    cuts = np.cumsum([0, *sizes, feats.shape[0]]).clip(max=feats.shape[0])
    for a, b in zip(cuts[:-1], cuts[1:]):
        before = stream.units
        out = stream.push(feats[a:b]) if b > a else None
        if out is not None:
            yield out, before, stream.units - before, False
    before = stream.units
    yield stream.flush() or {}, before, stream.units - before, True


def _same_rows(got: list, want: list) -> None:
    """Streamed ``(class, [start_s, end_s], score)`` rows are the best of ``want`` (same scores in order;
    each row one of ``want``, so that near-equal scores may swap)."""
    assert got and np.allclose([g[2] for g in got], [w[2] for w in want[: len(got)]], atol=1e-5) and len(got) == min(TOP, len(want))
    assert all(any(g[0] == w[0] and np.allclose(g[1], w[1], atol=1e-3) and abs(g[2] - w[2]) < 1e-5 for w in want) for g in got)


def _batch(feats: torch.Tensor, example: str) -> VideoBatch:
    start = torch.arange(feats.shape[0], dtype=torch.float32)
    return VideoBatch(features=feats[None], mask=torch.ones(1, feats.shape[0], dtype=torch.bool),
                      timestamps=torch.stack([start, start + 1], -1)[None] / FPS, queries=[QUERY[example]] if example in QUERY else None,
                      meta=[{"video_id": "v", "fps": FPS, "first_step": 0, "key": "v"}])


@torch.no_grad()
@pytest.mark.parametrize("example", ["nlq", "moment_query", "lta", "dense_caption"])
def test_answers_over_the_stream_so_far_equal_the_batch_reading(example, model):
    """Pushes of several units: NLQ's incremental windows equal ``rank_windows`` over the streamed outputs;
    moment query's detections, LTA's sequences and dense captioning's proposal logits equal the batch
    forward over the whole stream (the per-push outputs alone would not: LTA's mean and dense
    captioning's convolutions read units of earlier pushes)."""
    from videollm_plugins.tasks.common.moment_heads import rank_windows

    _, pipeline, names = model(example)
    task = pipeline.tasks[0]
    head = pipeline.heads[task]
    feats = torch.randn(STEPS, pipeline.encoder.in_dim, generator=torch.Generator().manual_seed(5))
    state, answers, pushed = {}, [], []
    for out, first, n, final in _pushes(pipeline, example, feats):
        answers += head.stream_answer(out, first, n, top=TOP, class_names=names, state=state, final=final)
        pushed += [out] if n else []
    full = pipeline(_batch(feats, example), task)
    if example == "nlq":
        cat = {k: torch.cat([o[k][0] for o in pushed]) for k in ("start", "end", "inside", "spans")}
        want = [(s, e, np.exp(score)) for s, e, score in rank_windows(cat["start"], cat["end"], cat["inside"], cat["spans"],
                float(cat["spans"][-1, 1]), TOP, head.max_window_units, head.inside_weight, head.nms_iou)]
        _same_rows([(None, r[:2], r[2]) for r in answers[-1]["moments"]], [(None, w[:2], w[2]) for w in want])
    elif example == "moment_query":
        want = head.predict(full, _batch(feats, example))[0]
        _same_rows([(r[2], r[:2], r[3]) for r in answers[-1]["segments"]],
                   [(names[c], s, p) for s, c, p in zip(want["segments"], want["labels"], want["scores"])])
    elif example == "lta":  # the argmax of the batch forward (up to float ties), not of the last push's own outputs
        for key in ("verb", "noun"):
            chosen = full[key][0].gather(-1, torch.tensor(answers[-1][key])[:, None])[:, 0]
            assert (chosen >= full[key][0].amax(-1) - 1e-4).all(), key
        assert pushed[-1]["verb"].shape == full["verb"].shape and not torch.allclose(pushed[-1]["verb"], full["verb"], atol=1e-3)
    else:
        assert (state["logits"] - full["proposal_logits"]).abs().max() < 1e-4
        assert any(a["events"] for a in answers)


def test_unit_answers_without_a_head_reads_class_scores():
    """``unit_answers`` without a head (the benchmark's call) is the default reading of class scores."""
    from videollm_core.cli.models import _format_answer, unit_answers

    logits = torch.tensor([[[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]]])
    answers = unit_answers({"logits": logits, "spans": torch.zeros(1, 2, 2)}, 4, 2, 2, ["a", "b", "c"])
    assert [a["unit"] for a in answers] == [4, 5] and [c for c, _ in answers[0]["logits"]] == ["b", "c"]
    assert _format_answer(answers[1]).startswith("unit     5  logits: a 0.")
    assert _format_answer({"unit": 1, "moments": [[0.5, 2.0, 0.25]], "events": [{"segment": [0.0, 1.5], "caption": "x y", "score": 0.5}]}) \
        == 'unit     1  moments: 0.50-2.00 s 0.250  events: 0.00-1.50 s "x y" 0.500'
