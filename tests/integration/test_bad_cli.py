"""Every refusal of the CLI is one line on stderr, exit code 2, no traceback (issue 14): one table of bad
inputs over all commands."""

import json
import subprocess
import sys

import pytest
from conftest import REPO, cli, write


pytestmark = pytest.mark.xdist_group("bad_input")


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, folder, model_dir):
    """Files and folders that the bad inputs below point at."""
    import shutil

    from transformers import BertConfig

    path = tmp_path_factory.mktemp("bad")
    write(path / "broken.json", '{"learning_rate": 0.1,\n "seed": }\n')
    write(path / "list.json", "[1, 2]\n")
    write(path / "x.jsonl", json.dumps({"translation": {"de": "Ein Hund.", "en": "A dog."}}) + "\n")
    (path / "not_a_model").mkdir()
    BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
               intermediate_size=8).save_pretrained(path / "bert")
    finished = path / "finished"
    finished.mkdir()
    write(finished / "all_results.json", "{}")
    truncated = path / "truncated"
    shutil.copytree(model_dir, truncated)
    data = (truncated / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(data[: len(data) // 2])
    from safetensors.torch import load_file, save_file

    other_sizes = path / "other_sizes"
    shutil.copytree(model_dir, other_sizes)
    weights = load_file(other_sizes / "model.safetensors")
    name = next(n for n in weights if weights[n].dim() == 2)
    weights[name] = weights[name][:5].clone()
    save_file(weights, other_sizes / "model.safetensors", metadata={"format": "pt"})
    other_vocab = path / "other_tokenizer"
    shutil.copytree(model_dir, other_vocab)
    for name in ("tokenizer_config.json", "source_tokenizer.json", "target_tokenizer.json"):
        if (other_vocab / name).exists():
            (other_vocab / name).unlink()
    from hf_onelayer import OneLayerTranslatorTokenizer

    OneLayerTranslatorTokenizer.train_new(["ein zwei drei"] * 3, ["one two"] * 3, min_frequency=1).save_pretrained(
        other_vocab)
    return path


# (name, argv with {D} the data folder, {O} a fresh output folder, {T} `train --data_dir {D} --output_dir {O}`,
#  {M} a trained model, {B} bad files; words the one line must contain)
BAD = [
    ("negative epochs", "{T} --num_train_epochs -1", ["--num_train_epochs"]),
    ("zero epochs", "{T} --num_train_epochs 0", ["--num_train_epochs"]),
    ("pad to -3", "{T} --pad_to_multiple_of -3", ["--pad_to_multiple_of"]),
    ("batch 0", "{T} --per_device_train_batch_size 0", ["--per_device_train_batch_size"]),
    ("max_train_samples 0", "{T} --max_train_samples 0", ["--max_train_samples"]),
    ("one position", "{T} --max_position_embeddings 1", ["max_position_embeddings"]),
    ("hidden 0", "{T} --hidden_size 0", ["hidden_size"]),
    ("infinite init", "{T} --initializer_range inf", ["initializer_range"]),
    ("dropout 1.5", "{T} --hidden_dropout_prob 1.5", ["hidden_dropout_prob"]),
    ("norm choice", "{T} --norm_position middle", ["--norm_position"]),
    ("model type", "{T} --model_type bert", ["--model_type"]),
    ("not a number", "{T} --num_train_epochs abc", ["--num_train_epochs"]),
    ("unknown flag", "{T} --no_such_flag 1", ["--no_such_flag"]),
    ("folder and file", "{T} --validation_file {B}/x.jsonl", ["--data_dir", "--validation_file"]),
    ("missing folder", "train --data_dir {B}/nowhere --output_dir {O}", ["--data_dir", "nowhere"]),
    ("missing file", "train --train_file {B}/nowhere.jsonl --output_dir {O}", ["--train_file", "nowhere.jsonl"]),
    ("broken json", "train {B}/broken.json --data_dir {D}", ["broken.json:2", "invalid JSON"]),
    ("json list", "train {B}/list.json --data_dir {D}", ["list.json", "JSON object"]),
    ("embedding spec", "{T} --src_embeddings nonsense", ["--src_embeddings"]),
    ("no checkpoint", "{T} --resume_from_checkpoint {B}/nowhere", ["--resume_from_checkpoint", "nowhere"]),
    ("no last checkpoint", "{T} --resume_from_checkpoint last", ["--resume_from_checkpoint last", "no checkpoint"]),
    ("resume true, nothing to resume", "{T} --resume_from_checkpoint true",
     ["--resume_from_checkpoint true", "no checkpoint"]),
    ("finished run", "train --data_dir {D} --output_dir {B}/finished", ["finished run", "--overwrite_output_dir"]),
    ("infinite lr", "{T} --learning_rate inf", ["--learning_rate"]),
    ("translate no model", "translate --model {B}/nowhere Hallo", ["--model", "nowhere"]),
    ("translate not a model", "translate --model {B}/not_a_model Hallo", ["no config.json"]),
    ("translate a BERT", "translate --model {B}/bert Hallo", ["'bert' model"]),
    ("translate truncated", "translate --model {B}/truncated Hallo", ["truncated/model.safetensors", "complete"]),
    ("translate weights of other sizes", "translate --model {B}/other_sizes Hallo",
     ["other_sizes/model.safetensors", "config.json makes it"]),
    ("translate other tokenizer", "translate --model {B}/other_tokenizer Hallo", ["tokenizer", "config.json"]),
    ("translate batch 0", "translate --model {M} --batch_size 0 Hallo", ["--batch_size"]),
    ("translate beams 0", "translate --model {M} --num_beams 0 Hallo", ["--num_beams"]),
    ("translate beams, course model", "translate --model {M} --num_beams 3 Hallo", ["--num_beams"]),
    ("translate unknown option", "translate --model {M} --bogus Hallo", ["--bogus"]),
    ("evaluate missing split", "evaluate --model {M} --data_dir {D} --split test_2017_flickr",
     ["test_2017_flickr.de"]),
    ("evaluate samples 0", "evaluate --model {M} --data_dir {D} --max_samples 0", ["--max_samples"]),
    ("evaluate file and folder", "evaluate --model {M} --data_dir {D} --test_file {B}/x.jsonl", ["--test_file"]),
    ("evaluate sources alone", "evaluate --model {M} --source_file {D}/val.de", ["--reference_file"]),
    ("push no folder", "push --model {B}/nowhere --repo_id x", ["nowhere"]),
    ("push offline", "push --model {M} --repo_id x", ["HF_HUB_OFFLINE"]),
    ("analyze study", "analyze simulate --study 9", ["--study"]),
    ("analyze what", "analyze nothing", ["simulate"]),
    ("search picks the init", "search --data_dir {D} --output_dir {O} --src_embeddings glove:x", ["search"]),
    ("unknown command", "trian --data_dir {D}", ["unknown command"]),
]


@pytest.mark.parametrize("name, line, words", BAD, ids=[b[0] for b in BAD])
def test_a_bad_input_is_one_line_exit_2_no_traceback(name, line, words, folder, model_dir, bad_files, tmp_path,
                                                     capfd):
    line = line.replace("{T}", "train --data_dir {D} --output_dir {O}")
    argv = line.format(D=folder, O=tmp_path / "out", M=model_dir, B=bad_files).split()
    capfd.readouterr()
    assert cli(argv) == 2
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and lines[0].startswith("hf-onelayer")
    assert all(w in lines[0] for w in words), lines[0]
    if argv[0] == "train":
        assert not (tmp_path / "out" / "tokenizer").exists()  # refused before any work


def test_the_console_script_exits_2_with_one_line_and_debug_shows_the_traceback(tmp_path):
    command = [sys.executable, "-m", "hf_onelayer.cli", "train", "--num_train_epochs", "-1",
               "--output_dir", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0, result.stderr
    assert "--num_train_epochs must be in (0, inf)" in result.stderr
    debug = subprocess.run(command + ["--debug"], capture_output=True, text=True, timeout=300)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    script = subprocess.run([sys.executable, str(REPO / "training" / "train.py"), "--pad_to_multiple_of", "0"],
                            capture_output=True, text=True, timeout=300)
    assert script.returncode == 2 and script.stderr.strip().count("\n") == 0, script.stderr
