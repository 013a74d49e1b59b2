"""App tests: a small 2-layer model so traces take a moment, and AppTest on `app.py`.

The small model is Llama-shaped with a large vocabulary, so its weights (about 140 MB in bf16)
overflow a device of 0.1 GB: the infeasible case without tracing a big model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL_CONFIG = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "_name_or_path": "test/small-llama",
    "hidden_size": 512,
    "intermediate_size": 1024,
    "num_hidden_layers": 2,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "vocab_size": 64000,
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
}
SEQ = 128


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> str:
    """Path of the small model's config.json (its folder names the model)."""
    folder = tmp_path_factory.mktemp("models") / "small-llama"
    folder.mkdir()
    path = folder / "config.json"
    path.write_text(json.dumps(SMALL_CONFIG))
    return str(path)


@pytest.fixture
def make_app(small_model):
    """An AppTest of `app.py` on the small model; keyword arguments preset input widgets
    (their keys without the `in_` prefix) before the first run."""
    from streamlit.testing.v1 import AppTest

    def make(run: bool = True, **inputs):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        preset = {"model_source": "Hub id or path", "model_path": small_model, "seq": SEQ,
                  "context": SEQ, "devices": ["h100-sxm", "mi300x"]}
        preset.update(inputs)
        for key, value in preset.items():
            at.session_state[f"in_{key}"] = value
        if run:
            at.run()
            assert not at.exception, [e.value for e in at.exception]
        return at

    return make
