"""Bad vector files, BERT folders and config fields are named in one line (issue 14)."""


import pytest
from conftest import SOURCES, TARGETS, write

from hf_onelayer.embeddings.vectors import VectorFileError, bert_vectors, read_vectors

pytestmark = pytest.mark.xdist_group("bad_input")


def test_vectors_with_nan_or_inf_are_refused(tmp_path):
    path = write(tmp_path / "v.txt", "dog 0.1 0.2\ncat nan 0.3\nman 0.4 inf\n")
    with pytest.raises(VectorFileError, match=r"v\.txt:2: non-finite value nan in column 2"):
        read_vectors("glove", path, {"dog", "cat"})
    with pytest.raises(VectorFileError, match=r"v\.txt:3: non-finite value inf in column 3"):
        read_vectors("glove", path, {"man"})
    assert read_vectors("glove", path, {"dog"}).words == ["dog"]  # words we do not keep are not read


def test_a_glove_file_with_a_header_is_read(tmp_path):
    path = write(tmp_path / "g.txt", "2 3\ndog 0.1 0.2 0.3\ncat 0.4 0.5 0.6\n")
    vectors = read_vectors("glove", path, {"dog", "cat"})
    assert vectors.dim == 3 and sorted(vectors.words) == ["cat", "dog"]


def test_bert_folders_without_weights_or_config_are_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(VectorFileError, match="no config.json"):
        bert_vectors(str(tmp_path / "empty"), ["dog"])
    (tmp_path / "config_only").mkdir()
    write(tmp_path / "config_only" / "config.json", '{"model_type": "bert"}')
    with pytest.raises(VectorFileError, match="no weights"):
        bert_vectors(str(tmp_path / "config_only"), ["dog"])


def test_rescaling_all_zero_vectors_is_refused(small_tokenizer, tmp_path):
    from dataclasses import replace

    from hf_onelayer.arguments import ModelArguments
    from hf_onelayer.factory import make_model

    words = list(small_tokenizer.target.get_vocab())
    path = write(tmp_path / "zero.txt", "".join(f"{w} 0 0 0 0\n" for w in words))
    args = replace(ModelArguments(), tgt_embeddings=f"glove:{path}", rescale_embeddings=True, hidden_size=16,
                   head_dim_qk=8, head_dim_v=8, intermediate_size=16, uncovered_init="mean")
    with pytest.raises(VectorFileError, match="all equal"):
        make_model(small_tokenizer, args, {"de": SOURCES, "en": TARGETS}, seed=0)


def test_an_unknown_config_field_is_kept_with_a_warning_that_names_the_near_miss(caplog, tmp_path):
    """As every PretrainedConfig: an attribute the config does not know survives save_pretrained and from_pretrained;
    a near-miss of a field is warned about in one line that names the field (refusals live in the training flags)."""
    from hf_onelayer import OneLayerSeq2SeqConfig, OneLayerTranslatorConfig

    for config_class in (OneLayerTranslatorConfig, OneLayerSeq2SeqConfig):
        caplog.clear()
        with caplog.at_level("WARNING"):
            config = config_class(hiden_size=64, colour="blue")
        assert "unknown field 'hiden_size', kept as an attribute; did you mean 'hidden_size'?" in caplog.text
        assert "unknown field 'colour', kept as an attribute\n" in caplog.text + "\n"
        config.layer_norm_epsilon = 1e-5  # set by hand, as transformers' own tests do
        config.save_pretrained(tmp_path / config_class.model_type)
        loaded = config_class.from_pretrained(tmp_path / config_class.model_type)
        assert (loaded.hiden_size, loaded.colour, loaded.layer_norm_epsilon) == (64, "blue", 1e-5)
        assert loaded.hidden_size == config.hidden_size  # the real field keeps its own value
    with pytest.raises(ValueError, match="decode_length_ratio must be finite"):
        OneLayerTranslatorConfig(decode_length_ratio=float("inf"))
