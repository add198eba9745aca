"""Semantic translators (VideoLLM, Sec. 3.2): visual unit tokens -> the LLM's embedding space.

- `base`: shared input checks, per-unit token expansion and the streaming wrapper.
- `projection`: `LinearTranslator` and `MLPTranslator` (one token per unit).
- `qformer`: `QFormerTranslator`, learned queries cross-attending to each unit
  (`num_queries` tokens per unit).
- `plugin`: the built-in plugin `translators` registering them.

Every translator computes each unit from that unit (and, for a Q-Former with
`window > 1`, the previous units) only, so streaming equals the full forward.
"""
