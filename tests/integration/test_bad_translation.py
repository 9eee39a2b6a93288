"""Bad input to translation: blank stdin lines, a string, a mask of the wrong width (issue 14)."""

import sys

import pytest
import torch
from conftest import cli, tiny_model, tiny_seq2seq

from hf_onelayer.translation import load, translate

pytestmark = pytest.mark.xdist_group("bad_input")


def test_blank_stdin_lines_keep_their_place(model_dir, monkeypatch, capfd):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("Ein Hund.\n\nZwei Katzen.\n   \n"))
    capfd.readouterr()
    assert cli(["translate", "--model", str(model_dir)]) == 0
    out = capfd.readouterr().out.split("\n")
    assert len(out) == 5 and out[1] == "" and out[3] == "" and out[4] == ""
    model, tokenizer = load(str(model_dir))
    assert out[0] == translate(model, tokenizer, ["Ein Hund."])[0]


def test_a_string_is_one_sentence(model_dir):
    model, tokenizer = load(str(model_dir))
    one = translate(model, tokenizer, "Ein Hund.")
    assert isinstance(one, str) and one == translate(model, tokenizer, ["Ein Hund."])[0]


def test_an_attention_mask_of_the_wrong_width_is_named():
    ids = torch.randint(4, 50, (2, 6))
    for model in (tiny_model(), tiny_seq2seq()):
        with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 5\) but input_ids \(2, 6\)"):
            model(input_ids=ids, attention_mask=torch.ones(2, 5, dtype=torch.long),
                  **({"decoder_input_ids": ids} if model.config.is_encoder_decoder else {}))
