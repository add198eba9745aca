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
