"""A saved folder loads with trust_remote_code=True in a fresh process where hf_onelayer cannot be imported."""

import json
import os
import re
import subprocess
import sys
import textwrap

import torch
from conftest import SOURCES, tiny_model

from hf_onelayer import OneLayerTranslatorConfig

CHILD = textwrap.dedent(
    """
    import json, sys
    sys.modules["hf_onelayer"] = None  # any import of our package now fails
    try:
        import hf_onelayer  # noqa: F401
    except ImportError:
        pass
    else:
        sys.exit("hf_onelayer is importable: the test would prove nothing")
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    folder, out = sys.argv[1], sys.argv[2]
    config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    enc = tok(json.loads(sys.argv[3]), padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits
    ids = model.translate_ids(enc["input_ids"], enc["attention_mask"])
    torch.save({"logits": logits, "input_ids": enc["input_ids"], "decoded": tok.batch_decode(ids, skip_special_tokens=True),
                "classes": [type(c).__module__ for c in (config, model, tok)]}, out)
    """
)


def test_remote_code_round_trip_in_a_fresh_process(small_tokenizer, tmp_path):
    model = tiny_model(src_vocab_size=small_tokenizer.src_vocab_size, tgt_vocab_size=small_tokenizer.tgt_vocab_size)
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    small_tokenizer.save_pretrained(folder)

    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"] == {"AutoConfig": "configuration_onelayer.OneLayerTranslatorConfig",
                                  "AutoModel": "modeling_onelayer.OneLayerTranslatorModel"}
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    assert tok_config["auto_map"]["AutoTokenizer"][0] == "tokenization_onelayer.OneLayerTranslatorTokenizer"
    for code in folder.glob("*.py"):  # remote code imports only its siblings, relatively
        assert not re.search(r"^\s*(from|import)\s+hf_onelayer", code.read_text(), re.M), code.name

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    out = tmp_path / "out.pt"
    env = dict(os.environ, HF_MODULES_CACHE=str(tmp_path / "modules"), PYTHONPATH="")
    result = subprocess.run([sys.executable, str(script), str(folder), str(out), json.dumps(SOURCES)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    child = torch.load(out)

    assert all(module.startswith("transformers_modules") for module in child["classes"]), child["classes"]
    enc = small_tokenizer(SOURCES, padding=True, return_tensors="pt")
    assert torch.equal(child["input_ids"], enc["input_ids"])
    with torch.no_grad():
        expected = model(**enc).logits
    torch.testing.assert_close(child["logits"], expected, atol=1e-6, rtol=1e-6)
    ids = model.translate_ids(enc["input_ids"], enc["attention_mask"])
    assert child["decoded"] == small_tokenizer.batch_decode(ids, skip_special_tokens=True)
    assert OneLayerTranslatorConfig.model_type == "onelayer_translator"
