"""Text encoders: the LLM's own embeddings, and a transformers encoder loaded from a directory."""
from __future__ import annotations

import pytest
import torch

from videollm_core import ConfigError, DataError, LLMAdapter, REGISTRIES

WORDS = "open close take put the a door fridge knife cup where did i".split()


def word_level(special: list[str], cls_sep: bool):
    """A word-level ``PreTrainedTokenizerFast`` built locally (no hub)."""
    from tokenizers import Tokenizer, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(special + WORDS)}
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    names = dict(pad_token="[PAD]", unk_token="[UNK]")
    if cls_sep:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
        names.update(cls_token="[CLS]", sep_token="[SEP]")
    return PreTrainedTokenizerFast(tokenizer_object=tok, **names)


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    """A tiny random BERT and its tokenizer saved side by side, as a sentence-transformers dir holds them."""
    from transformers import BertConfig, BertModel

    path = tmp_path_factory.mktemp("bert")
    tokenizer = word_level(["[PAD]", "[UNK]", "[CLS]", "[SEP]"], cls_sep=True)
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=64))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path, model.eval(), tokenizer


def test_hf_text_encoder_round_trip(bert_dir):
    path, model, tokenizer = bert_dir
    enc = REGISTRIES.encoders.build({"type": "HFTextEncoder", "pretrained": str(path)}, where="model.text_encoder")
    assert enc.out_dim == 32
    texts = ["open the fridge", "where did i put the knife", ""]
    out = enc(texts)
    assert out.embeds.shape == (3, 8, 32)  # [CLS] + 6 words + [SEP]
    assert out.mask.sum(1).tolist() == [5, 8, 0]  # the empty text has no tokens at all
    assert torch.equal(out.spans, torch.zeros(3, 8, 2))
    ids = tokenizer(texts[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = model(**ids).last_hidden_state
    assert torch.allclose(out.embeds[1], expected[1], atol=1e-5)
    assert torch.allclose(out.embeds[0, :5], expected[0, :5], atol=1e-5)
    assert torch.equal(out.embeds[0, 5:], torch.zeros(3, 32))


def test_hf_text_encoder_mean_pooling_and_freezing(bert_dir):
    path, model, tokenizer = bert_dir
    enc = REGISTRIES.encoders.build({"type": "HFTextEncoder", "pretrained": str(path), "pooling": "mean"},
                                    where="model.text_encoder").train()
    assert not enc.model.training and not any(p.requires_grad for p in enc.parameters())
    out = enc(["take a cup", ""])
    assert out.embeds.shape == (2, 1, 32) and out.mask.tolist() == [[True], [False]]
    with torch.no_grad():
        expected = model(**tokenizer(["take a cup"], return_tensors="pt")).last_hidden_state.mean(1)
    assert torch.allclose(out.embeds[0], expected, atol=1e-5)


def test_hf_text_encoder_trainable_gets_gradients(bert_dir):
    path, _, _ = bert_dir
    enc = REGISTRIES.encoders.build({"type": "HFTextEncoder", "pretrained": str(path), "trainable": True}, where="t")
    out = enc(["open the door"])
    out.embeds[out.mask].pow(2).mean().backward()
    assert enc.model.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_hf_text_encoder_from_config_needs_a_tokenizer(bert_dir):
    path, _, _ = bert_dir
    cfg = {"model_type": "bert", "vocab_size": 20, "hidden_size": 16, "num_hidden_layers": 1,
           "num_attention_heads": 2, "intermediate_size": 32}
    with pytest.raises(ConfigError, match="tokenizer"):
        REGISTRIES.encoders.build({"type": "HFTextEncoder", "config": cfg}, where="t")
    enc = REGISTRIES.encoders.build({"type": "HFTextEncoder", "config": cfg, "tokenizer": str(path)}, where="t")
    assert enc.out_dim == 16 and enc(["open"]).embeds.shape == (1, 3, 16)
    with pytest.raises(ConfigError, match="cannot load"):
        REGISTRIES.encoders.build({"type": "HFTextEncoder", "pretrained": str(path / "nope")}, where="t")
    with pytest.raises(DataError, match="list of strings"):
        enc("open")


class TinyGPT2(LLMAdapter):
    """A real tiny GPT-2 behind the adapter interface the text encoder uses."""

    def __init__(self):
        super().__init__()
        from transformers import GPT2Config, GPT2Model

        self.tokenizer = word_level(["[PAD]", "[UNK]"], cls_sep=False)
        torch.manual_seed(0)
        self.model = GPT2Model(GPT2Config(vocab_size=len(self.tokenizer), n_layer=2, n_embd=32, n_head=2,
                                          bos_token_id=None, eos_token_id=None))
        self.embed_dim = self.hidden_size = 32

    def tokenize(self, texts):
        enc = self.tokenizer(texts, padding=True, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"].bool()

    def embed_text(self, ids):
        return self.model.get_input_embeddings()(ids)

    def forward(self, embeds, mask, cache=None, use_cache=False):
        return self.model(inputs_embeds=embeds, attention_mask=mask.long()).last_hidden_state, None

    def lm_logits(self, hidden):
        return hidden @ self.model.get_input_embeddings().weight.T  # tied, as GPT-2's LM head

    def generate(self, embeds, mask, max_new_tokens=20, num_beams=1, cache=None, last_hidden=None, step_embeds=None):
        """Greedy, recomputing the whole sequence at each step (no cache)."""
        words = [[] for _ in range(embeds.shape[0])]
        for _ in range(max_new_tokens):
            hidden, _ = self.forward(embeds, mask)
            ids = self.lm_logits(hidden[:, -1]).argmax(-1)
            for row, i in zip(words, ids.tolist()):
                row.append(self.tokenizer.convert_ids_to_tokens(i))
            embeds = torch.cat([embeds, self.embed_text(ids[:, None])], 1)
            mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], 1)
        return [" ".join(row) for row in words]


def test_llm_text_encoder_uses_the_llm_embeddings():
    llm = TinyGPT2()
    enc = REGISTRIES.encoders.build({"type": "LLMTextEncoder"}, where="model.text_encoder")
    with pytest.raises(RuntimeError, match="bind"):
        enc(["open"])
    enc.bind(llm)
    assert enc.out_dim == 32
    assert list(enc.parameters()) == [] and enc.state_dict() == {}  # the LLM is not a submodule
    out = enc(["open the door", "", "cup"])
    assert out.embeds.shape == (3, 3, 32)
    assert out.mask.tolist() == [[True] * 3, [False] * 3, [True, False, False]]
    ids, _ = llm.tokenize(["open the door"])
    assert torch.equal(out.embeds[0], llm.model.wte(ids)[0])
    out.embeds[out.mask].sum().backward()  # gradients reach the LLM's embeddings (partial tuning)
    assert llm.model.wte.weight.grad.abs().sum() > 0


def test_llm_text_encoder_all_empty_gives_zero_length_rows():
    llm = TinyGPT2()
    enc = REGISTRIES.encoders.build({"type": "LLMTextEncoder"}, where="t")
    enc.bind(llm)
    out = enc(["", ""])
    assert out.embeds.shape[0] == 2 and out.embeds.shape[2] == 32 and not out.mask.any()
