import pytest
from huggingface_hub.errors import StrictDataclassFieldValidationError
from transformers import AutoConfig

from hf_onelayer import OneLayerTranslatorConfig


def test_defaults_follow_the_course_model():
    config = OneLayerTranslatorConfig()
    assert (config.hidden_size, config.num_attention_heads, config.head_dim_qk, config.head_dim_v) == (128, 2, 96, 96)
    assert config.intermediate_size == 2048 and config.norm_position == "post"
    assert config.vocab_size == config.tgt_vocab_size


@pytest.mark.parametrize(
    "field, value",
    [
        ("hidden_size", 0),
        ("src_vocab_size", -5),
        ("tgt_vocab_size", 0),
        ("num_attention_heads", 0),
        ("head_dim_qk", -1),
        ("head_dim_v", 0),
        ("intermediate_size", 0),
        ("max_position_embeddings", 0),
        ("hidden_dropout_prob", 1.0),
        ("attention_probs_dropout_prob", -0.1),
        ("norm_position", "middle"),
        ("layer_norm_eps", 0.0),
        ("pad_token_id", 10_000),
        ("src_pad_token_id", 8000),
        ("src_pad_token_id", -1),
    ],
)
def test_invalid_values_raise_value_error_naming_the_field(field, value):
    # out-of-range numbers raise ValueError; a value outside a Literal field's choices is refused by
    # @strict's type check (StrictDataclassFieldValidationError), as in transformers' own configs
    with pytest.raises((ValueError, StrictDataclassFieldValidationError), match=field):
        OneLayerTranslatorConfig(**{field: value})


def test_special_ids_are_checked_against_their_own_vocabulary():
    # pad, unk, bos and eos are target ids; the source pads with src_pad_token_id, or with pad_token_id when unset
    config = OneLayerTranslatorConfig(src_vocab_size=10, tgt_vocab_size=20, pad_token_id=15, src_pad_token_id=9)
    assert config.source_pad_token_id == 9
    with pytest.raises(ValueError, match=r"pad_token_id must be inside the source vocabulary \(< 10\), got 15"):
        OneLayerTranslatorConfig(src_vocab_size=10, tgt_vocab_size=20, pad_token_id=15)
    with pytest.raises(ValueError, match=r"eos_token_id must be inside the target vocabulary \(< 20\), got 25"):
        OneLayerTranslatorConfig(src_vocab_size=30, tgt_vocab_size=20, eos_token_id=25)


def test_valid_edge_values_are_accepted():
    config = OneLayerTranslatorConfig(hidden_dropout_prob=0, norm_position="pre", head_dim_qk=7)
    assert config.head_dim_qk == 7


def test_round_trip_and_auto_config(tmp_path):
    config = OneLayerTranslatorConfig(hidden_size=64, norm_position="pre", src_vocab_size=500)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, OneLayerTranslatorConfig)
    drop = lambda d: {k: v for k, v in d.items() if k != "_name_or_path"}  # noqa: E731
    assert drop(loaded.to_dict()) == drop(config.to_dict())
    assert isinstance(AutoConfig.for_model("onelayer_translator"), OneLayerTranslatorConfig)


def test_invalid_saved_config_fails_on_load(tmp_path):
    config = OneLayerTranslatorConfig()
    config.save_pretrained(tmp_path)
    text = (tmp_path / "config.json").read_text().replace('"norm_position": "post"', '"norm_position": "side"')
    (tmp_path / "config.json").write_text(text)
    with pytest.raises((ValueError, StrictDataclassFieldValidationError), match="norm_position"):
        OneLayerTranslatorConfig.from_pretrained(tmp_path)
