"""The shared matplotlib helpers write real PNG files."""
from __future__ import annotations

import pytest

from videollm_plugins.tasks.common.plots import label_color, plot_score_curves, plot_segment_timelines, runs_to_segments


def test_timelines_and_curves_write_png(tmp_path):
    plot_segment_timelines([{"video_id": "v1", "duration": 10.0, "tracks": {"GT": [(0, 3, "cut onion"), (4, 9, "wash")], "pred": [(1, 3.5, "cut onion")]}},
                            {"video_id": "v2", "tracks": {"GT": [], "pred": [(0, 1, "")]}}], tmp_path / "a" / "t.png", title="t")
    plot_score_curves([{"video_id": "v", "times": [0.125, 0.375, 0.625], "curves": {"s": [0.1, 0.9, 0.2]}, "truth": [(0.25, 0.5, "x")]}],
                      tmp_path / "c.png")
    for name in ("a/t.png", "c.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    with pytest.raises(ValueError):
        plot_segment_timelines([], tmp_path / "x.png")


def test_runs_and_colours():
    assert runs_to_segments([0, 0, 3, 3, 3, 0, 5], [0, 1, 2, 3, 4, 5, 6], 1.0, skip=(0,)) == [(2.0, 5.0, "3"), (6.0, 7.0, "5")]
    assert label_color("cut") == label_color("cut")


def test_captions_wrap_whole_instead_of_being_cut(monkeypatch, tmp_path):
    from videollm_plugins.tasks.common import plots

    saved = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.append(fig))
    caption = "a person takes the tomato from the fridge and washes it"
    plots.plot_segment_timelines([{"video_id": "v", "duration": 60.0, "tracks": {"GT": [(0, 6, caption)], "pred": [(30, 33, caption)]}}],
                                 tmp_path / "t.png")
    drawn = [t.get_text() for ax in saved[0].axes for t in ax.texts]
    assert len(drawn) == 2 and all(" ".join(text.split()) == caption for text in drawn)  # every word, in order
    assert all("\n" in text for text in drawn)  # a narrow bar wraps its caption
    text, size = plots.wrap_label(caption, 8, 2)
    assert " ".join(text.split()) == caption and size < 6 and len(text.split("\n")) <= 8


def test_loss_plot_names_both_curves(monkeypatch, tmp_path):
    from matplotlib.figure import Figure

    from videollm_plugins.callbacks.plots import plot_loss

    figures = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: figures.append(self))
    history = [{"split": "train", "step": s, "loss": 1.0 / s, "lr": 1e-3} for s in range(1, 5)]
    assert plot_loss(history, tmp_path / "loss.png")
    legend = figures[0].axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["train loss", "learning rate (right axis)"]
