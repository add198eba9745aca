"""Keys inside ``model.llm.config`` that the chosen ``model_type`` does not know are an error
naming them (transformers alone would keep them as unused attributes and build a default model)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from videollm_core import ConfigError
from videollm_plugins.hf_models import config_from_dict, unknown_config_keys

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_keys_are_named():
    with pytest.raises(ConfigError, match=r"'n_embd', 'n_layer' not known to model_type 't5'") as info:
        config_from_dict({"model_type": "t5", "n_layer": 2, "n_embd": 32, "d_model": 32}, where="model.llm.config")
    assert info.value.where == "model.llm.config.n_embd" and "T5Config" in info.value.hint


def test_own_names_aliases_and_common_keys_pass():
    assert unknown_config_keys("gpt2", ["n_layer", "hidden_size", "bos_token_id", "tie_word_embeddings"]) == []
    assert unknown_config_keys("llama", ["rope_theta", "num_key_value_heads", "max_position_embeddings"]) == []
    assert unknown_config_keys("t5", ["d_model", "num_layers", "decoder_start_token_id"]) == []
    cfg = config_from_dict({"model_type": "opt", "hidden_size": 32, "ffn_dim": 64, "num_hidden_layers": 1}, where="x")
    assert cfg.hidden_size == 32 and cfg.num_hidden_layers == 1


def test_unknown_model_type():
    with pytest.raises(ConfigError, match="unknown model_type 'gpt5'"):
        config_from_dict({"model_type": "gpt5"}, where="model.llm.config")


@pytest.mark.subprocess
def test_cli_switching_family_without_its_keys_exits_2():
    out = subprocess.run([sys.executable, "-m", "videollm_core.cli.commands", "run", str(ROOT / "examples" / "oad.yaml"), "--dry-run",
                          "--cfg-options", "model.llm.type=T5Decoder", "model.llm.config.model_type=t5"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 2, out.stderr
    assert "model.llm.config.n_embd" in out.stderr and "not known to model_type 't5'" in out.stderr
    assert "Traceback" not in out.stderr
