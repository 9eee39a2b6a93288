"""Bad input gets one clear line and loses nothing (issue 14).

Every refusal of the CLI is one line on stderr, exit code 2, no traceback; each of the defects found
by throwing faults at the CLI and the Python API has a test here.
"""

import fcntl
import json
import os
import socket
import subprocess
import sys
import threading

import pytest
import torch
from conftest import REPO, SOURCES, TARGETS, tiny_model

from hf_onelayer.cli import main as cli
from hf_onelayer.data import read_parallel_files
from hf_onelayer.embeddings.vectors import VectorFileError, bert_vectors, read_vectors
from hf_onelayer.translation import load, translate

pytestmark = pytest.mark.xdist_group("bad_input")

TINY = ["--hidden_size", "16", "--num_attention_heads", "2", "--head_dim_qk", "8", "--head_dim_v", "8",
        "--intermediate_size", "32", "--max_position_embeddings", "24", "--hidden_dropout_prob", "0",
        "--attention_probs_dropout_prob", "0", "--report_to", "none", "--disable_tqdm", "true",
        "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "8", "--min_frequency", "1"]


def write(path, text):
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny Multi30k-style folder: train, val and test_2016_flickr."""
    path = tmp_path_factory.mktemp("data")
    for stem in ("train", "val", "test_2016_flickr"):
        write(path / f"{stem}.de", "\n".join(SOURCES * 3) + "\n")
        write(path / f"{stem}.en", "\n".join(TARGETS * 3) + "\n")
    return path


def train_args(folder, out, *extra):
    return ["train", "--data_dir", str(folder), "--output_dir", str(out), *TINY, "--max_steps", "2",
            "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false", *extra]


@pytest.fixture(scope="module")
def model_dir(folder, tmp_path_factory):
    """A course model trained 2 steps on the tiny folder."""
    out = tmp_path_factory.mktemp("run") / "model"
    assert cli(train_args(folder, out)) == 0
    return out


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


# (name, argv with {D} the data folder, {O} a fresh output folder, {M} a trained model, {B} bad files,
#  words the one line must contain)
BAD = [
    ("negative epochs", "train --data_dir {D} --output_dir {O} --num_train_epochs -1", ["--num_train_epochs"]),
    ("zero epochs", "train --data_dir {D} --output_dir {O} --num_train_epochs 0", ["--num_train_epochs"]),
    ("pad to -3", "train --data_dir {D} --output_dir {O} --pad_to_multiple_of -3", ["--pad_to_multiple_of"]),
    ("batch 0", "train --data_dir {D} --output_dir {O} --per_device_train_batch_size 0",
     ["--per_device_train_batch_size"]),
    ("max_train_samples 0", "train --data_dir {D} --output_dir {O} --max_train_samples 0", ["--max_train_samples"]),
    ("one position", "train --data_dir {D} --output_dir {O} --max_position_embeddings 1",
     ["max_position_embeddings"]),
    ("hidden 0", "train --data_dir {D} --output_dir {O} --hidden_size 0", ["hidden_size"]),
    ("infinite init", "train --data_dir {D} --output_dir {O} --initializer_range inf", ["initializer_range"]),
    ("dropout 1.5", "train --data_dir {D} --output_dir {O} --hidden_dropout_prob 1.5", ["hidden_dropout_prob"]),
    ("norm choice", "train --data_dir {D} --output_dir {O} --norm_position middle", ["--norm_position"]),
    ("model type", "train --data_dir {D} --output_dir {O} --model_type bert", ["--model_type"]),
    ("not a number", "train --data_dir {D} --output_dir {O} --num_train_epochs abc", ["--num_train_epochs"]),
    ("unknown flag", "train --data_dir {D} --output_dir {O} --no_such_flag 1", ["--no_such_flag"]),
    ("folder and file", "train --data_dir {D} --output_dir {O} --validation_file {B}/x.jsonl",
     ["--data_dir", "--validation_file"]),
    ("missing folder", "train --data_dir {B}/nowhere --output_dir {O}", ["--data_dir", "nowhere"]),
    ("missing file", "train --train_file {B}/nowhere.jsonl --output_dir {O}", ["--train_file", "nowhere.jsonl"]),
    ("broken json", "train {B}/broken.json --data_dir {D}", ["broken.json:2", "invalid JSON"]),
    ("json list", "train {B}/list.json --data_dir {D}", ["list.json", "JSON object"]),
    ("embedding spec", "train --data_dir {D} --output_dir {O} --src_embeddings nonsense", ["--src_embeddings"]),
    ("no checkpoint", "train --data_dir {D} --output_dir {O} --resume_from_checkpoint {B}/nowhere",
     ["--resume_from_checkpoint", "nowhere"]),
    ("no last checkpoint", "train --data_dir {D} --output_dir {O} --resume_from_checkpoint last",
     ["--resume_from_checkpoint last", "no checkpoint"]),
    ("resume true, nothing to resume", "train --data_dir {D} --output_dir {O} --resume_from_checkpoint true",
     ["--resume_from_checkpoint true", "no checkpoint"]),
    ("finished run", "train --data_dir {D} --output_dir {B}/finished", ["finished run", "--overwrite_output_dir"]),
    ("infinite lr", "train --data_dir {D} --output_dir {O} --learning_rate inf", ["--learning_rate"]),
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


# --- data ---------------------------------------------------------------------------------------

def test_a_byte_order_mark_is_dropped(tmp_path):
    de = write(tmp_path / "a.de", "\ufeffEin Hund.\nZwei Katzen.\n".encode())
    en = write(tmp_path / "a.en", "A dog.\nTwo cats.\n")
    assert read_parallel_files(de, en)["de"] == ["Ein Hund.", "Zwei Katzen."]


def test_cr_only_line_endings_are_lines(tmp_path):
    de = write(tmp_path / "a.de", "\r".join(f"Satz {i}." for i in range(300)) + "\r")
    en = write(tmp_path / "a.en", "\r\n".join(f"Sentence {i}." for i in range(300)) + "\r\n")
    data = read_parallel_files(de, en)
    assert len(data) == 300 and data[299] == {"de": "Satz 299.", "en": "Sentence 299."}


def test_evaluate_reads_only_the_split_it_is_given(model_dir, tmp_path, capfd):
    for stem in ("test_2016_flickr", "test_2017_flickr"):  # no train.* and no val.* here
        write(tmp_path / f"{stem}.de", "\n".join(SOURCES) + "\n")
        write(tmp_path / f"{stem}.en", "\n".join(TARGETS) + "\n")
    runs = [["--data_dir", str(tmp_path), "--split", split] for split in ("test", "test_2017_flickr")]
    runs.append(["--source_file", str(tmp_path / "test_2017_flickr.de"),
                  "--reference_file", str(tmp_path / "test_2017_flickr.en")])
    results = []
    for flags in runs:
        capfd.readouterr()
        assert cli(["evaluate", "--model", str(model_dir), *flags]) == 0
        results.append(json.loads(capfd.readouterr().out.strip().splitlines()[-1]))
        assert results[-1]["n_sentences"] == len(SOURCES)
    assert results[0] == results[1] == results[2]  # the same sentences, however they are named


# --- embeddings and config ----------------------------------------------------------------------

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


def test_a_misspelt_config_field_is_refused_and_an_unknown_one_warned(caplog):
    from hf_onelayer import OneLayerSeq2SeqConfig, OneLayerTranslatorConfig

    for config_class in (OneLayerTranslatorConfig, OneLayerSeq2SeqConfig):
        with pytest.raises(ValueError, match="unknown field 'hiden_size'; did you mean 'hidden_size'"):
            config_class(hiden_size=64)
        with caplog.at_level("WARNING"):
            config_class(colour="blue")
        assert "unknown field 'colour'" in caplog.text
    with pytest.raises(ValueError, match="decode_length_ratio must be finite"):
        OneLayerTranslatorConfig(decode_length_ratio=float("inf"))


# --- models and translation ---------------------------------------------------------------------

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
    from test_seq2seq import tiny_seq2seq

    ids = torch.randint(4, 50, (2, 6))
    for model in (tiny_model(), tiny_seq2seq()):
        with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 5\) but input_ids \(2, 6\)"):
            model(input_ids=ids, attention_mask=torch.ones(2, 5, dtype=torch.long),
                  **({"decoder_input_ids": ids} if model.config.is_encoder_decoder else {}))


# --- training runs ------------------------------------------------------------------------------

def test_resume_reports_the_train_loss_of_every_step_and_reads_its_own_tokenizer(folder, tmp_path):
    import shutil

    steps = ["--max_steps", "4", "--save_strategy", "steps", "--save_steps", "2", "--save_total_limit", "3",
             "--logging_steps", "3"]
    whole = tmp_path / "whole"
    assert cli(train_args(folder, whole, *steps)) == 0
    expected = json.loads((whole / "all_results.json").read_text())["train_loss"]

    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(whole / "checkpoint-2", resumed / "checkpoint-2")
    changed = tmp_path / "changed"  # other sentences: a retrained vocabulary would not fit the checkpoint
    shutil.copytree(folder, changed)
    write(changed / "train.de", "\n".join(["Völlig andere Wörter hier."] * 20) + "\n")
    write(changed / "train.en", "\n".join(["Entirely different words here."] * 20) + "\n")
    assert cli(train_args(folder, resumed, *steps, "--resume_from_checkpoint", "last")) == 0
    got = json.loads((resumed / "all_results.json").read_text())["train_loss"]
    assert got == pytest.approx(expected, rel=1e-5)

    again = tmp_path / "again"
    again.mkdir()
    shutil.copytree(whole / "checkpoint-2", again / "checkpoint-2")
    assert cli(train_args(changed, again, *steps, "--resume_from_checkpoint", "last")) == 0


def test_a_second_run_into_a_locked_folder_is_refused(folder, tmp_path, capfd):
    out = tmp_path / "busy"
    out.mkdir()
    with open(out / ".hf-onelayer.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        capfd.readouterr()
        assert cli(train_args(folder, out)) == 2
        assert "another run is writing there" in capfd.readouterr().err
    assert cli(train_args(folder, out)) == 0  # the lock is free again


def test_overwrite_output_dir_replaces_a_finished_run(model_dir, folder, tmp_path):
    import shutil

    out = tmp_path / "model"
    shutil.copytree(model_dir, out)
    assert cli(train_args(folder, out, "--seed", "7")) == 2
    assert cli(train_args(folder, out, "--seed", "7", "--overwrite_output_dir", "true")) == 0
    assert json.loads((out / "run_args.json").read_text())["training"]["seed"] == 7


def test_a_vocabulary_of_mostly_unk_is_warned_and_reported(folder, tmp_path, caplog):
    with caplog.at_level("WARNING"):
        assert cli(train_args(folder, tmp_path / "out", "--min_frequency", "100000")) == 0
    assert "tokens <unk>" in caplog.text
    results = json.loads((tmp_path / "out" / "all_results.json").read_text())
    assert results["train_unk_rate"] > 0.8 and results["test_unk_rate"] > 0.8


def test_tokens_are_redacted_from_the_card_and_run_files(folder, tmp_path):
    token = "hf_" + "x1y2z3" * 6
    out = tmp_path / "out"
    try:
        assert cli(train_args(folder, out, "--hub_token", token)) == 0
        assert os.environ["HF_TOKEN"] == token  # where Trainer's push_to_hub finds it
    finally:
        os.environ.pop("HF_TOKEN", None)
    for path in out.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    assert "--hub_token <redacted>" in (out / "README.md").read_text()


def test_push_to_an_endpoint_that_never_answers_times_out(model_dir, monkeypatch):
    from huggingface_hub import constants

    from hf_onelayer.hub.push import PushError, push

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # accepts connections, never answers
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    thread.start()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.setenv("HF_TOKEN", "hf_" + "0" * 30)
    try:
        with pytest.raises(PushError, match=r"no answer within 1 s"):
            push(str(model_dir), "tiny", timeout_s=1)
    finally:
        server.close()


def test_a_checkpoint_that_cannot_be_written_is_removed_and_said_in_one_line(folder, tmp_path, monkeypatch, capfd):
    import errno

    from transformers import Trainer

    def full_disk(self, output_dir):
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "out"
    steps = ["--max_steps", "4", "--save_strategy", "steps", "--save_steps", "2", "--save_total_limit", "3"]
    original = Trainer._save_rng_state
    calls = []

    def fails_the_second_time(self, output_dir):
        calls.append(output_dir)
        return full_disk(self, output_dir) if len(calls) == 2 else original(self, output_dir)

    monkeypatch.setattr(Trainer, "_save_rng_state", fails_the_second_time)
    capfd.readouterr()
    assert cli(train_args(folder, out, *steps)) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert "No space left on device" in err[-1] and "partial checkpoint was removed" in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2"]  # checkpoint-4 is gone
    monkeypatch.setattr(Trainer, "_save_rng_state", original)
    assert cli(train_args(folder, out, *steps, "--resume_from_checkpoint", "last")) == 0
