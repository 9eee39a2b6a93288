"""A third model kind touches only models/ and kinds.py (issue 27).

The toy kind below is written as a new model would be: a config and a model (what ``models/`` would get) and one
``ModelKind`` record passed to ``kinds.register`` (what ``kinds.py`` would get). Nothing else in the package knows
of it, yet ``hf-onelayer train`` trains it, and ``load`` and ``translate`` use the folder it saved.
"""

import dataclasses
import json

import pytest
import torch
from torch import nn
from conftest import SOURCES, cli

from hf_onelayer import OneLayerTranslatorConfig, OneLayerTranslatorModel
from hf_onelayer.kinds import COURSE, KINDS, SEQ2SEQ, kind_of, register


class PositionWiseConfig(OneLayerTranslatorConfig):
    model_type = "onelayer_positionwise"


class NoAttention(nn.Module):
    """In place of self-attention: nothing from the other positions, so each token is translated alone."""

    def forward(self, x, mask, memory=None, cache=None, output_attentions=False, keep=None):
        return torch.zeros_like(x if keep is None else x[keep]), None


class PositionWiseModel(OneLayerTranslatorModel):
    """The course model without attention: the baseline that shows what attention adds."""

    config_class = PositionWiseConfig

    def __init__(self, config):
        super().__init__(config)
        self.block.self_attn = NoAttention()


@pytest.fixture()
def positionwise():
    kind = register(dataclasses.replace(COURSE, config_class=PositionWiseConfig, model_class=PositionWiseModel,
                                        label="position-wise model"))
    yield kind
    KINDS.pop(kind.name)


def test_each_kind_has_one_name_and_is_found_from_a_model_a_config_or_its_name():
    assert list(KINDS) == ["onelayer_translator", "onelayer_seq2seq"]
    config = SEQ2SEQ.config_class()
    assert kind_of(config) is kind_of(config.to_dict()) is kind_of("onelayer_seq2seq") is SEQ2SEQ
    assert COURSE.num_beams is None and SEQ2SEQ.num_beams == 5


def test_a_third_kind_trains_through_the_cli_and_translates(positionwise, folder, tmp_path):
    from hf_onelayer.translation import load, translate

    out = tmp_path / "run"
    assert cli(["train", "--data_dir", str(folder), "--output_dir", str(out), "--model_type", positionwise.name,
                "--hidden_size", "16", "--intermediate_size", "32", "--head_dim_qk", "8", "--head_dim_v", "8",
                "--num_attention_heads", "2", "--max_position_embeddings", "24", "--min_frequency", "1",
                "--per_device_train_batch_size", "6", "--learning_rate", "0.01", "--max_steps", "30",
                "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
                "--report_to", "none", "--disable_tqdm", "true"]) == 0
    assert json.loads((out / "config.json").read_text())["model_type"] == positionwise.name
    assert "# One-layer Transformer translator" in (out / "README.md").read_text()  # the card text of its record
    model, tokenizer = load(str(out))
    assert type(model) is PositionWiseModel and isinstance(model.block.self_attn, NoAttention)
    translations = translate(model, tokenizer, SOURCES)
    assert len(translations) == len(SOURCES) and all(isinstance(t, str) for t in translations)
    results = json.loads((out / "all_results.json").read_text())
    assert results["eval_perplexity"] < tokenizer.tgt_vocab_size / 3  # it learnt: a uniform guess is the vocabulary
