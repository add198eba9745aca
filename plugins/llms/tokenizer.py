"""Tokenizers for LLM adapters: a real one from a directory or hub name, or a word-level
one built locally with the `tokenizers` library (offline demos and tests).

Every form ends as a `transformers.PreTrainedTokenizerFast`, so it saves next to the
model (`save_pretrained`) and loads back through `AutoTokenizer`.
"""
from __future__ import annotations

import os
from typing import Any

from videollm_core.errors import ConfigError

#: special tokens of the locally built word-level tokenizer (ids 0..3, in this order).
WORD_LEVEL_SPECIALS = ("[PAD]", "[UNK]", "[BOS]", "[EOS]")


def word_level_tokenizer(words: list[str], lowercase: bool = True) -> Any:
    """A word-level `PreTrainedTokenizerFast`: ids 0..3 are `[PAD] [UNK] [BOS] [EOS]`,
    then `words` in order (duplicates dropped). Text is split on whitespace and punctuation."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {tok: i for i, tok in enumerate(WORD_LEVEL_SPECIALS)}
    for w in words:
        w = str(w).lower() if lowercase else str(w)
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token="[UNK]"))
    if lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]", eos_token="[EOS]"
    )


def build_tokenizer(spec: str | dict | None, pretrained: str | None, *, trust_remote_code: bool = False,
                    where: str = "model.llm.tokenizer") -> Any:
    """Resolve the adapter's `tokenizer:` argument.

    Args:
        spec: `None` (use `pretrained`'s own tokenizer), a path to a `tokenizer.json`,
            a tokenizer directory or hub name, or a mapping `{words: [...], lowercase: true}`
            (alias `vocab`) or `{file: path/to/tokenizer.json}`.
        pretrained: the model's `pretrained:` value (fallback source).

    Returns:
        A `PreTrainedTokenizerFast` with a pad token set.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if isinstance(spec, dict):
        words = spec.get("words", spec.get("vocab"))
        unknown = set(spec) - {"words", "vocab", "lowercase", "file", "type"}
        if unknown:
            raise ConfigError(f"unknown tokenizer keys {sorted(unknown)}", where=where,
                              hint="use {words: [...]} or {file: tokenizer.json}")
        if words is not None:
            if not isinstance(words, (list, tuple)) or not words:
                raise ConfigError("tokenizer 'words' must be a non-empty list of strings", where=f"{where}.words")
            return word_level_tokenizer(list(words), lowercase=bool(spec.get("lowercase", True)))
        if "file" in spec:
            spec = str(spec["file"])
        else:
            raise ConfigError("a tokenizer mapping needs 'words' (a list) or 'file' (a tokenizer.json)", where=where)
    source = spec if spec is not None else pretrained
    if source is None:
        raise ConfigError("this LLM has no tokenizer (built from 'config:' without 'tokenizer:')", where=where,
                          hint="add e.g. `tokenizer: {words: [open, the, drawer]}` or a tokenizer directory")
    try:
        if os.path.isfile(source):
            tok = PreTrainedTokenizerFast(tokenizer_file=str(source))
        else:
            tok = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot load tokenizer {source!r}: {e}", where=where,
                          hint="give a local tokenizer directory or tokenizer.json (no model hub offline)") from e
    if tok.pad_token is None:
        if tok.eos_token is not None:
            tok.pad_token = tok.eos_token
        elif tok.unk_token is not None:
            tok.pad_token = tok.unk_token
    tok.padding_side = "right"
    return tok
