"""End to end on real Multi30k data: train (Trainer) -> all_results.json -> evaluate CLI -> reload -> translate."""

import json
import math
import subprocess
import sys

import pytest
from transformers import AutoModel, AutoTokenizer

from hf_onelayer import OneLayerTranslatorModel
from hf_onelayer.commands.train import main as train_main
from hf_onelayer.translation import translate

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("real")]

SENTENCES = ["Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Schnee.", "Eine Frau mit einem roten Hut."]


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("real") / "model"
    metrics = train_main([
        "--data_dir", str(data_dir), "--output_dir", str(out), "--max_train_samples", "2000",
        "--max_eval_samples", "200", "--num_train_epochs", "1", "--per_device_train_batch_size", "64",
        "--report_to", "none", "--disable_tqdm", "true",
    ])
    return out, metrics


def cli(*args, stdin=None):
    result = subprocess.run([sys.executable, "-m", "hf_onelayer.cli", *args], input=stdin, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_training_writes_model_tokenizer_and_all_results(trained):
    out, metrics = trained
    for name in ("model.safetensors", "config.json", "tokenizer_config.json", "source_tokenizer.json",
                 "target_tokenizer.json", "modeling_onelayer.py", "all_results.json", "run_args.json", "README.md"):
        assert (out / name).exists(), name
    saved = json.loads((out / "all_results.json").read_text())
    assert saved["world_size"] == 1 and saved["train_samples"] == 2000 and saved["eval_samples"] == 200
    assert saved["test_samples"] == 200
    for key in ("eval_perplexity", "eval_bleu", "eval_chrf", "eval_token_accuracy", "test_perplexity", "train_loss"):
        assert key in saved, key
    config = json.loads((out / "config.json").read_text())
    # one epoch on 2,000 pairs already beats a uniform guess over the target vocabulary by far
    assert 1 < saved["eval_perplexity"] < config["tgt_vocab_size"] / 5
    assert 0 < saved["eval_token_accuracy"] < 1
    card = (out / "README.md").read_text()  # generated from the run, hyper-parameters from run_args.json
    assert f"{saved['eval_perplexity']:.2f}" in card and "learning_rate=0.001" in card
    # the limitations section splits the perplexity by length difference, from the same metrics
    row = next(line for line in card.splitlines() if line.startswith("| val | ") and "%)" in line)
    assert f"{saved['eval_perplexity_len_diff_0']:.1f} ({saved['eval_share_len_diff_0']:.0%})" in row


def test_evaluate_cli_reproduces_the_training_metrics(trained, data_dir):
    out, metrics = trained
    result = json.loads(cli("evaluate", "--model", str(out), "--data_dir", str(data_dir), "--split", "val",
                            "--max_samples", "200").strip().splitlines()[-1])
    assert set(result) >= {"perplexity", "bleu", "chrf", "token_accuracy", "n_sentences"}
    assert result["n_sentences"] == 200
    assert result["perplexity"] == pytest.approx(metrics["eval_perplexity"], rel=1e-5)
    assert result["bleu"] == pytest.approx(metrics["eval_bleu"], abs=1e-6)
    assert result["token_accuracy"] == pytest.approx(metrics["eval_token_accuracy"], abs=1e-9)
    # the split by length difference covers every scored token and averages back to the headline number
    groups = [k[len("share_len_diff_"):] for k in result if k.startswith("share_len_diff_")]
    assert len(groups) >= 3 and sum(result[f"share_len_diff_{g}"] for g in groups) == pytest.approx(1.0)
    mean_nll = sum(result[f"share_len_diff_{g}"] * math.log(result[f"perplexity_len_diff_{g}"]) for g in groups)
    assert math.exp(mean_nll) == pytest.approx(result["perplexity"], rel=1e-4)


def test_reload_and_translate_from_python_arguments_and_stdin(trained):
    out, _ = trained
    model = AutoModel.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert isinstance(model, OneLayerTranslatorModel)
    expected = translate(model, tokenizer, SENTENCES)
    assert len(expected) == 3 and all(isinstance(t, str) and t == t.lower() for t in expected)
    assert any(t.strip() for t in expected)
    assert cli("translate", "--model", str(out), *SENTENCES).splitlines() == expected
    assert cli("translate", "--model", str(out), stdin="\n".join(SENTENCES) + "\n").splitlines() == expected


def test_wordpiece_training_end_to_end(data_dir, tmp_path):
    """--tokenizer_model wordpiece: sub-word vocabularies of the asked size, a card that says so, no "##" in output."""
    out = tmp_path / "wordpiece"
    saved = train_main([
        "--data_dir", str(data_dir), "--output_dir", str(out), "--max_train_samples", "2000", "--max_eval_samples", "100",
        "--num_train_epochs", "2", "--per_device_train_batch_size", "32", "--report_to", "none", "--disable_tqdm", "true",
        "--tokenizer_model", "wordpiece", "--tokenizer_vocab_size", "1000",
    ])
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.tokenizer_model == "wordpiece" and tokenizer.tgt_vocab_size <= 1000
    config = json.loads((out / "config.json").read_text())
    assert config["tgt_vocab_size"] == tokenizer.tgt_vocab_size and config["src_vocab_size"] == tokenizer.src_vocab_size
    assert saved["eval_unk_rate"] < 0.01  # rare words are spelled from pieces instead of becoming <unk>
    assert 1 < saved["eval_perplexity"] < tokenizer.tgt_vocab_size / 5
    assert "Sub-word WordPiece tokenizers" in (out / "README.md").read_text()
    outputs = translate(AutoModel.from_pretrained(out).eval(), tokenizer, SENTENCES)
    assert len(outputs) == 3 and not any("##" in t for t in outputs)


def test_french_to_english_takes_the_languages_from_the_run(data_dir, tmp_path):
    """--source_lang fr (Multi30k's train.fr / val.fr): the tokenizer, the card and evaluation follow the run."""
    from hf_onelayer.commands.evaluate import main as evaluate_main

    out = tmp_path / "fr"
    metrics = train_main([
        "--data_dir", str(data_dir), "--source_lang", "fr", "--output_dir", str(out), "--max_train_samples", "1000",
        "--max_eval_samples", "50", "--num_train_epochs", "1", "--report_to", "none", "--disable_tqdm", "true",
    ])
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert (tokenizer.source_lang, tokenizer.target_lang) == ("fr", "en")
    assert tokenizer.convert_tokens_to_ids("homme") != tokenizer.unk_token_id  # a French source vocabulary
    card = (out / "README.md").read_text()
    assert "French → English" in card and "- fr\n" in card and "German" not in card
    result = evaluate_main(["--model", str(out), "--data_dir", str(data_dir), "--split", "val", "--max_samples", "50"])
    assert result["perplexity"] == pytest.approx(metrics["eval_perplexity"], rel=1e-4)  # val.fr, as in training
