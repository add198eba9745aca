"""The Gradio page of `videollm demo MODEL`: a video in, the model's answers on a timeline as it plays.

Layout: the video (upload, or a demo clip from `examples`), a query box for query tasks, a
feature-file box in features mode; beside the video the live answers, under it the timeline
(`page` draws both in the browser from the session's timeline JSON, in step with the
video's `currentTime`).

One event, `answer`, runs `answer_upload` for the session's upload and
streams the timeline JSON into the hidden `#vl-data` field. Its inputs are all it reads, so
sessions never see each other's answers; up to `max_sessions` run at once. A mistake the
user can make (a corrupt file, an upload over the limits, a missing query) becomes a message
in the page (`{"error": ...}` drawn in the answer panel, and a Gradio error toast); the
server keeps serving. Gradio must be imported after `GRADIO_TEMP_DIR` names the page's
upload folder (`serve` does it).
"""
from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from videollm_core.errors import UserError

from .model import DemoModel
from .page import SCRIPT, STYLE
from .session import answer_upload
from .uploads import Limits, check_upload

log = logging.getLogger(__name__)


def _message(error: UserError) -> str:
    """A user error as one line for the page (message, then the hint)."""
    return f"{error.message}" + (f" ({error.where})" if error.where else "") + (f" — {error.hint}" if error.hint else "")


def make_handler(model: DemoModel, limits: Limits, upload_dir: Path):
    """The `answer` event: `(video path | None, feature file path | None, query) -> timeline JSON strings`."""
    import gradio as gr

    def answer(video: str | None, features: Any, query: str | None) -> Iterator[str]:
        feature_path = getattr(features, "name", features)  # gr.File gives a path (or a file wrapper)
        try:
            v = check_upload(video, upload_dir, limits, "video") if video else None
            f = check_upload(feature_path, upload_dir, limits, "features") if feature_path else None
            if v is None and f is None:
                yield ""
                return
            if not model.reads_pixels and f is None:  # features mode: the video alone is only for display
                yield json.dumps({"note": f"now upload the video's feature file (.npy, [T, {model.feature_dim}] "
                                          f"at {model.fps:g} steps/s): the model reads features, the video is shown"})
                return
            for view in answer_upload(model, limits, video=v, features=f, query=query):
                yield json.dumps(view)
        except UserError as e:
            message = _message(e)
            log.info("refused an upload: %s", message)
            yield json.dumps({"error": message})
            raise gr.Error(message, print_exception=False) from None

    return answer


def build_app(model: DemoModel, limits: Limits, upload_dir: Path, examples: list[Path] | None = None,
              max_sessions: int = 4) -> Any:
    """The `gr.Blocks` page for `model`; `examples` (demo clips) are copied into `upload_dir` first."""
    import gradio as gr

    clips = []
    for clip in examples or []:
        target = upload_dir / "examples" / clip.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clip, target)
        clips.append(str(target))
    with gr.Blocks(title=f"videollm demo · {model.name}") as demo:
        gr.Markdown(f"## VideoLLM live demo: {model.name}\n{model.describe()} · uploads up to {limits.max_upload_mb:g} MB "
                    f"and {limits.max_video_s:g} s. Press play: the answers follow the playback.")
        with gr.Row():
            with gr.Column(scale=3):
                video = gr.Video(label="video" if model.reads_pixels else "video (optional, for display)", sources=["upload"],
                                 elem_id="vl-video", height=360)
                gr.HTML('<div id="vl-timeline"></div>', elem_id="vl-timeline-box")
                features = gr.File(label=f"feature file (.npy, [T, {model.feature_dim}])", file_types=[".npy"],
                                   elem_id="vl-features", visible=not model.reads_pixels)
                query = gr.Textbox(label="query", placeholder="what to look for, e.g. a man cooks food in the kitchen",
                                   elem_id="vl-query", visible=model.query)
                run = gr.Button("answer", elem_id="vl-run", variant="primary")
                if clips and model.reads_pixels:
                    gr.Examples(examples=[[c] for c in clips], inputs=[video], label="demo clips")
            with gr.Column(scale=2):
                gr.HTML('<div id="vl-live"></div>', elem_id="vl-live-box")
        data = gr.Textbox(visible="hidden", elem_id="vl-data", label="timeline json")
        handler = make_handler(model, limits, upload_dir)
        inputs = [video, features, query]
        events = [video.change, run.click, query.submit] + ([features.change] if not model.reads_pixels else [])
        gr.on(events, handler, inputs=inputs, outputs=[data], api_name="answer", concurrency_limit=max_sessions,
              show_progress="hidden")
    return demo


def launch_kwargs(limits: Limits) -> dict[str, Any]:
    """The page's script, style and upload cap for `Blocks.launch`."""
    return {"js": SCRIPT, "css": STYLE, "max_file_size": limits.max_bytes}


__all__ = ["build_app", "launch_kwargs", "make_handler"]
