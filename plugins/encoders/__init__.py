"""Modality encoders (VideoLLM, Sec. 3.1): visual units and text tokens.

- `unitization`: `TemporalUnitEncoder`, temporal-wise unitization of
  precomputed per-frame / per-clip features, one token per short-term visual unit.
- `video`: PyAV decoding and frame sampling of real video files.
- `frame`: `FrameEncoder`, a frozen transformers image backbone per frame,
  then the same unitization.
- `text`: `LLMTextEncoder` (the LLM's own tokenizer and input embeddings)
  and `HFTextEncoder` (any transformers text encoder).
- `plugin`: the built-in plugin `encoders` registering them.

Modules import `transformers` and `av` lazily, inside functions.
"""
