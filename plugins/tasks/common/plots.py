"""Matplotlib pictures of predictions against ground truth (`Metric.plot` helpers).

Two kinds of picture serve every task:

* `plot_segment_timelines` -- one panel per video, one horizontal track per
  source ("GT", "pred", "GT val_2"...), each segment a coloured bar labelled with its
  class or caption (localisation, segmentation, dense captioning, NLQ/MR windows).
* `plot_score_curves` -- one panel per video, score curves over time (seconds)
  with the ground-truth positive intervals shaded (online detection, highlight
  saliency).

Both draw on a bare `matplotlib.figure.Figure` with the Agg canvas, so they
never touch pyplot's global backend state and work headless. Times are seconds.
"""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

#: a segment on a timeline: `(start_s, end_s, label)`; label may be "" (one colour).
Segment = tuple[float, float, str]
#: figure width (inches) and about how many 6-point characters fit across its plotting area.
WIDTH = 10.0
CHARS_ACROSS = WIDTH * 72 / (6 * 0.6) * 0.85


def _figure(num_panels: int, height_per_panel: float, width: float = WIDTH):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, max(1.5, height_per_panel * num_panels)), constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = fig.subplots(num_panels, 1, squeeze=False)[:, 0]
    return fig, axes


def label_color(label: str) -> tuple[float, float, float, float]:
    """A stable colour per label (same label -> same colour in every picture)."""
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return cmap((zlib.crc32(str(label).encode("utf-8")) % 20) / 19.0)


def plot_segment_timelines(
    videos: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    title: str | None = None,
    max_label_lines: int = 3,
) -> None:
    """Draw segment timelines for a few videos into the PNG `path`.

    Args:
        videos: one mapping per video (one panel each), with keys
            `video_id` (str), `tracks` (mapping `track name -> list of
            (start_s, end_s, label)`, drawn top to bottom in insertion order) and
            optional `duration` (seconds, x-axis limit; default: last segment end).
        path: output PNG file (parent directories are created).
        title: figure title.
        max_label_lines: a label wraps at word boundaries to its bar's width (whole words,
            never cut inside one) in up to this many lines; a label still longer is drawn in
            a smaller font rather than cut, so a wrong word in a caption always shows.
    """
    videos = list(videos)
    if not videos:
        raise ValueError("plot_segment_timelines needs at least one video")
    fig, axes = _figure(len(videos), 0.55 * max(len(v["tracks"]) for v in videos) + 0.9, WIDTH)
    chars_across = CHARS_ACROSS
    for ax, video in zip(axes, videos):
        tracks = list(video["tracks"].items())
        ends = [float(e) for _, segs in tracks for _, e, _ in segs]
        duration = float(video.get("duration") or (max(ends) if ends else 1.0))
        for row, (name, segments) in enumerate(tracks):
            y = len(tracks) - 1 - row
            for start, end, label in segments:
                start, end = float(start), float(end)
                ax.broken_barh([(start, max(end - start, duration * 1e-3))], (y - 0.4, 0.8),
                               facecolors=label_color(label), edgecolor="black", linewidth=0.3)
                if label and (end - start) > duration * 0.02:
                    text, size = wrap_label(label, (end - start) / duration * chars_across, max_label_lines)
                    ax.text((start + end) / 2, y, text, ha="center", va="center", fontsize=size, clip_on=True, linespacing=0.9)
        ax.set_yticks(range(len(tracks)))
        ax.set_yticklabels([name for name, _ in reversed(tracks)], fontsize=7)
        ax.set_xlim(0.0, duration)
        ax.set_ylim(-0.6, len(tracks) - 0.4)
        ax.set_title(str(video["video_id"]), fontsize=8, loc="left")
    axes[-1].set_xlabel("time (s)")
    if title:
        fig.suptitle(title, fontsize=9)
    _save(fig, path)


def wrap_label(label: str, chars: float, max_lines: int) -> tuple[str, float]:
    """`(text, fontsize)`: `label` wrapped at word boundaries into lines of about `chars`
    6-point characters, in at most `max_lines` lines; when it needs more, the font shrinks
    (down to 3.5 points) so that every word is still drawn whole."""
    import textwrap

    size = 6.0
    while True:
        per_line = max(4, int(chars * 6.0 / size))
        lines = textwrap.wrap(label, per_line, break_long_words=False) or [label]
        if len(lines) <= max_lines or size <= 3.5:
            return "\n".join(lines), size
        size -= 0.5


def plot_score_curves(
    videos: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    title: str | None = None,
    ylabel: str = "score",
) -> None:
    """Draw score curves over time for a few videos into the PNG `path`.

    Args:
        videos: one mapping per video (one panel each), with keys `video_id`,
            `times` (`[T]` seconds, e.g. frame centres), `curves` (mapping
            `name -> [T]` scores, one line each) and optional `truth`
            (list of `(start_s, end_s, label)` ground-truth intervals, shaded and
            labelled; coloured like `label_color` of the label).
        path: output PNG file.
        title: figure title.
        ylabel: y-axis label.
    """
    videos = list(videos)
    if not videos:
        raise ValueError("plot_score_curves needs at least one video")
    fig, axes = _figure(len(videos), 1.8, WIDTH)
    chars_across = CHARS_ACROSS
    for ax, video in zip(axes, videos):
        times = [float(t) for t in video["times"]]
        for start, end, label in video.get("truth", ()):
            ax.axvspan(float(start), float(end), color=label_color(label), alpha=0.3, linewidth=0)
            if label and times:
                span = max(times) - min(times) or 1.0
                text, size = wrap_label(str(label), (float(end) - float(start)) / span * chars_across, 2)
                ax.text((float(start) + float(end)) / 2, 1.0, text, ha="center", va="top",
                        fontsize=size - 1, transform=ax.get_xaxis_transform(), clip_on=True, linespacing=0.9)
        for name, values in video["curves"].items():
            ax.plot(times, [float(v) for v in values], linewidth=0.9, label=str(name))
        if video["curves"]:
            ax.legend(fontsize=6, loc="upper right")
        if times:
            ax.set_xlim(min(times), max(times))
        ax.set_ylabel(ylabel, fontsize=7)
        ax.set_title(str(video["video_id"]), fontsize=8, loc="left")
    axes[-1].set_xlabel("time (s)")
    if title:
        fig.suptitle(title, fontsize=9)
    _save(fig, path)


def runs_to_segments(labels: Iterable[Any], times: Sequence[float], step: float, skip: Iterable[Any] = ()) -> list[Segment]:
    """Run-length encode per-step labels into `(start_s, end_s, str(label))` segments.

    `times[i]` is the start (seconds) of step `i`, each step `step` seconds long;
    labels in `skip` (e.g. background) make no segment.
    """
    skip = set(skip)
    out: list[Segment] = []
    labels = list(labels)
    i = 0
    while i < len(labels):
        j = i
        while j + 1 < len(labels) and labels[j + 1] == labels[i]:
            j += 1
        if labels[i] not in skip:
            out.append((float(times[i]), float(times[j]) + step, str(labels[i])))
        i = j + 1
    return out


def _save(fig: Any, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


__all__ = ["Segment", "label_color", "plot_segment_timelines", "plot_score_curves", "runs_to_segments", "wrap_label"]
