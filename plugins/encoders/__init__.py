"""Modality encoders (VideoLLM, Sec. 3.1): visual units and text tokens.

- :mod:`.unitization`: ``TemporalUnitEncoder``, temporal-wise unitization of
  precomputed per-frame / per-clip features, one token per short-term visual unit.
- :mod:`.video`: PyAV decoding and frame sampling of real video files.
- :mod:`.frame`: ``FrameEncoder``, a frozen transformers image backbone per frame,
  then the same unitization.
- :mod:`.text`: ``LLMTextEncoder`` (the LLM's own tokenizer and input embeddings)
  and ``HFTextEncoder`` (any transformers text encoder).
- :mod:`.plugin`: the built-in plugin ``encoders`` registering them.

Modules import ``transformers`` and ``av`` lazily, inside functions.
"""
