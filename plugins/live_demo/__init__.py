"""The live demo page of `videollm demo MODEL`: a video in, the model's answers on a timeline as it plays.

Modules, one concept each: `model` (the model folder and how the page feeds it),
`uploads` (limits and reading uploads), `session` (one upload streamed through a
new stream), `timeline` (answers as the JSON the page draws), `page` (the
browser script and style), `app` (the Gradio page), `server` (serving it safely).
Gradio is imported only by `app` and `server` (the `demo` extra).
"""
