"""A saved folder loads with trust_remote_code=True in a fresh process where hf_onelayer cannot be imported."""

import json
import re

import pytest
import torch
from conftest import SOURCES, TARGETS, load_in_fresh_process, save_folder, tiny_model, tiny_seq2seq

from hf_onelayer import OneLayerTranslatorConfig, OneLayerTranslatorTokenizer


@pytest.mark.parametrize("tokenizer_model", ["word", "wordpiece"])
def test_remote_code_round_trip_in_a_fresh_process(tokenizer_model, tmp_path):
    small_tokenizer = OneLayerTranslatorTokenizer.train_new(SOURCES * 2, TARGETS * 2, min_frequency=2,
                                                            model=tokenizer_model, vocab_size=80)
    model = tiny_model(src_vocab_size=small_tokenizer.src_vocab_size, tgt_vocab_size=small_tokenizer.tgt_vocab_size)
    folder = tmp_path / "model"
    config = save_folder(model, small_tokenizer, folder)
    assert config["auto_map"] == {"AutoConfig": "configuration_onelayer.OneLayerTranslatorConfig",
                                  "AutoModel": "modeling_onelayer.OneLayerTranslatorModel"}
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    assert tok_config["auto_map"]["AutoTokenizer"][0] == "tokenization_onelayer.OneLayerTranslatorTokenizer"
    for code in folder.glob("*.py"):  # remote code imports only its siblings, relatively
        assert not re.search(r"^\s*(from|import)\s+hf_onelayer", code.read_text(), re.M), code.name

    child = load_in_fresh_process(str(folder), tmp_path)

    assert all(module.startswith("transformers_modules") for module in child["classes"]), child["classes"]
    enc = small_tokenizer(SOURCES, padding=True, return_tensors="pt")
    assert torch.equal(child["input_ids"], enc["input_ids"])
    with torch.no_grad():
        expected = model(**enc).logits
    torch.testing.assert_close(child["logits"], expected, atol=1e-6, rtol=1e-6)
    ids = model.translate_ids(enc["input_ids"], enc["attention_mask"])
    assert child["decoded"] == small_tokenizer.batch_decode(ids, skip_special_tokens=True)
    assert OneLayerTranslatorConfig.model_type == "onelayer_translator"


def test_remote_code_round_trip_includes_generate(tmp_path):
    """A saved folder loads with trust_remote_code in a process that cannot import hf_onelayer, and generates."""
    import json
    import subprocess
    import sys


    model = tiny_seq2seq(vocab_size=60)
    tokenizer = OneLayerTranslatorTokenizer.train_new(["ein hund läuft .", "zwei katzen schlafen ."] * 5,
                                                      ["a dog runs .", "two cats sleep ."] * 5, model="bpe",
                                                      vocab_size=60, min_frequency=1)
    assert tokenizer.is_joint and tokenizer.tgt_vocab_size <= 60
    folder = tmp_path / "model"
    config = save_folder(model, tokenizer, folder)
    assert config["auto_map"] == {"AutoConfig": "configuration_seq2seq.OneLayerSeq2SeqConfig",
                                  "AutoModelForSeq2SeqLM": "modeling_seq2seq.OneLayerSeq2SeqForConditionalGeneration"}
    for name in ("configuration_seq2seq.py", "modeling_seq2seq.py", "configuration_layers.py", "modeling_layers.py",
                 "tokenization_onelayer.py"):
        assert (folder / name).exists(), name
    assert not (folder / "modeling_onelayer.py").exists()  # only the files its model uses
    child = tmp_path / "child.py"
    child.write_text(
        "import sys, json\n"
        "sys.modules['hf_onelayer'] = None\n"
        "import torch\n"
        "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer\n"
        "model = AutoModelForSeq2SeqLM.from_pretrained(sys.argv[1], trust_remote_code=True).eval()\n"
        "tok = AutoTokenizer.from_pretrained(sys.argv[1], trust_remote_code=True)\n"
        "enc = tok(['ein hund läuft .'], return_tensors='pt')\n"
        "out = model.generate(**enc, max_new_tokens=5, num_beams=2)\n"
        "print(json.dumps({'ids': out.tolist(), 'input': enc['input_ids'].tolist(), 'module': type(model).__module__}))\n")
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules"),
           "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, str(child), str(folder)], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    reply = json.loads(result.stdout.strip().splitlines()[-1])
    assert reply["module"].startswith("transformers_modules")
    expected = model.generate(input_ids=torch.tensor(reply["input"]), max_new_tokens=5, num_beams=2)
    assert reply["ids"] == expected.tolist()
