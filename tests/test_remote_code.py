"""A saved folder loads with trust_remote_code=True in a fresh process where hf_onelayer cannot be imported."""

import json
import re

import pytest
import torch
from conftest import SOURCES, TARGETS, load_in_fresh_process, save_folder, tiny_model

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
