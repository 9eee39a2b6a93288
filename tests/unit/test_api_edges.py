"""The Python API at its edges, for both models: blank and empty input, num_return_sequences on lists, a warning
for cut inputs, one source of truth for lengths, and ids outside the vocabulary (issue 25)."""

import json
import logging

import pytest
import torch
from conftest import SOURCES, TINY, cli, saved_pipeline

from hf_onelayer import OneLayerTranslationPipeline
from hf_onelayer.translation import load, translate

KINDS = ["onelayer_translator", "onelayer_seq2seq"]
LONG = " ".join(["Hund"] * 2000)


def _pipe(model, tok):
    return OneLayerTranslationPipeline(model=model, tokenizer=tok)


@pytest.mark.parametrize("kind", KINDS)
def test_blank_input_translates_to_empty_without_running_the_model(kind, tmp_path, monkeypatch):
    model, tok, _ = saved_pipeline(kind, tmp_path)
    pipe = _pipe(model, tok)
    ran = []
    monkeypatch.setattr(model, "forward", lambda *a, **k: ran.append(1) or (_ for _ in ()).throw(AssertionError))
    assert pipe("") == [{"translation_text": ""}]
    assert pipe("   ") == [{"translation_text": ""}]
    assert pipe(["", " \t"]) == [{"translation_text": ""}, {"translation_text": ""}]
    assert pipe([]) == []
    assert translate(model, tok, ["", "  "]) == ["", ""] and translate(model, tok, []) == []
    assert not ran


@pytest.mark.parametrize("kind", KINDS)
def test_a_list_mixing_blank_and_real_sentences_keeps_its_order(kind, tmp_path):
    model, tok, _ = saved_pipeline(kind, tmp_path)
    out = _pipe(model, tok)([SOURCES[0], "", SOURCES[1]])
    assert [o["translation_text"] for o in out] == [translate(model, tok, SOURCES[0]), "", translate(model, tok, SOURCES[1])]


@pytest.mark.parametrize("search", [dict(num_beams=4), dict(do_sample=True, top_k=5)], ids=["beam", "sampling"])
def test_num_return_sequences_on_a_list_gives_a_list_of_lists(search, tmp_path):
    model, tok, _ = saved_pipeline("onelayer_seq2seq", tmp_path)
    pipe = _pipe(model, tok)
    torch.manual_seed(0)
    one = pipe(SOURCES[0], num_return_sequences=2, **search)
    many = pipe([SOURCES[0], "", SOURCES[1]], num_return_sequences=2, **search)
    assert len(one) == 2 and all(set(o) == {"translation_text"} for o in one)
    assert [len(row) for row in many] == [2, 2, 2] and many[1] == [{"translation_text": ""}] * 2
    if "num_beams" in search:  # beam search is deterministic: the list gives what each string gives
        assert many[0] == one and many[2] == pipe(SOURCES[1], num_return_sequences=2, **search)


def test_the_course_model_refuses_num_return_sequences_as_it_refuses_other_search_flags(tmp_path):
    model, tok, _ = saved_pipeline("onelayer_translator", tmp_path)
    with pytest.raises(ValueError, match="greedily"):
        _pipe(model, tok)([SOURCES[0]], num_return_sequences=2)


@pytest.mark.parametrize("kind", KINDS)
def test_cut_inputs_get_one_warning_per_call_naming_the_limit_and_the_count(kind, tmp_path, caplog):
    model, tok, _ = saved_pipeline(kind, tmp_path)
    limit = model.config.max_position_embeddings
    pipe = _pipe(model, tok)
    for call in (lambda: pipe([LONG, SOURCES[0], LONG]), lambda: translate(model, tok, [LONG, SOURCES[0], LONG])):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            out = call()
        warnings = [r.getMessage() for r in caplog.records if "max_position_embeddings" in r.getMessage()]
        assert warnings == [f"2 of 3 inputs are longer than max_position_embeddings={limit} tokens and were cut to {limit}"]
        assert len(out) == 3
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        pipe(SOURCES[0])
    assert not [r for r in caplog.records if "max_position_embeddings" in r.getMessage()]


@pytest.mark.parametrize("kind", KINDS)
def test_a_folder_whose_tokenizer_length_disagrees_loads_with_one_warning_and_the_models_length(kind, tmp_path, caplog):
    model, tok, folder = saved_pipeline(kind, tmp_path)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["model_max_length"] = 7
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING):
        _, loaded = load(str(folder))
    limit = model.config.max_position_embeddings
    messages = [r.getMessage() for r in caplog.records if "model_max_length" in r.getMessage()]
    assert len(messages) == 1 and "7" in messages[0] and str(limit) in messages[0]
    assert loaded.model_max_length == limit


@pytest.mark.parametrize("kind", KINDS)
def test_released_tokenizers_and_trained_ones_carry_the_models_length(kind, folder, tmp_path):
    from hf_onelayer.translation import default_model

    release = default_model(kind)
    with open(f"{release}/tokenizer_config.json") as f, open(f"{release}/config.json") as g:
        assert json.load(f)["model_max_length"] == json.load(g)["max_position_embeddings"]
    _, _, saved = saved_pipeline(kind, tmp_path)  # save_pipeline: what training's final save calls
    with open(saved / "tokenizer_config.json") as f, open(saved / "config.json") as g:
        assert json.load(f)["model_max_length"] == json.load(g)["max_position_embeddings"]
    out = tmp_path / "run"
    # the encoder-decoder without --predict_with_generate (the flag's default is false) once died at its final evaluation
    assert cli(["train", "--data_dir", str(folder), "--output_dir", str(out), *TINY, "--model_type", kind,
                "--max_steps", "1",
                "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
                "--max_position_embeddings", "40", "--min_frequency", "1"]) == 0
    assert json.loads((out / "tokenizer_config.json").read_text())["model_max_length"] == 40
    assert json.loads((out / "config.json").read_text())["max_position_embeddings"] == 40


@pytest.mark.parametrize("kind", KINDS)
def test_ids_outside_the_vocabulary_are_a_value_error_naming_the_id_and_the_size(kind, tmp_path):
    model, tok, _ = saved_pipeline(kind, tmp_path)
    size = tok.tgt_vocab_size
    with pytest.raises(ValueError, match=f"id {size + 5} is outside the target vocabulary of size {size}"):
        tok.decode([4, size + 5])
    with pytest.raises(ValueError, match="id -3 is outside"):
        tok.convert_target_ids_to_tokens([-3])
    src = tok.src_vocab_size
    bad_source = torch.tensor([[2, src + 1, 3]])
    start = {"decoder_input_ids": torch.tensor([[2]])} if kind == "onelayer_seq2seq" else {}
    with pytest.raises(ValueError, match=f"input_ids contain id {src + 1}, outside the source vocabulary of size {src}"):
        model(input_ids=bad_source, **start)
    labels = torch.tensor([[4, size, 3]])
    with pytest.raises(ValueError, match=f"labels contain id {size}, outside the target vocabulary of size {size}"):
        model(input_ids=torch.tensor([[2, 4, 3]]), labels=labels)
    assert model(input_ids=torch.tensor([[2, 4, 3]]), labels=torch.tensor([[4, -100, 3]])).loss is not None
    if kind == "onelayer_seq2seq":
        with pytest.raises(ValueError, match=f"input_ids contain id {src + 1}"):
            model.generate(input_ids=bad_source)
        with pytest.raises(ValueError, match=f"decoder_input_ids contain id {size + 2}"):
            model(input_ids=torch.tensor([[2, 4, 3]]), decoder_input_ids=torch.tensor([[2, size + 2]]))


def test_transformers_own_generate_validation_is_left_alone(tmp_path):
    model, tok, _ = saved_pipeline("onelayer_seq2seq", tmp_path)
    enc = tok([SOURCES[0]], return_tensors="pt")
    for bad in (dict(num_beams=0), dict(max_new_tokens="5")):
        with pytest.raises(Exception) as raised:
            model.generate(**enc, **bad)
        assert "hf_onelayer" not in type(raised.value).__module__
