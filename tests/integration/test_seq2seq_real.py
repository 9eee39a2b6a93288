"""The encoder–decoder end to end on real Multi30k data: seq2seq.json with Seq2SeqTrainer -> all_results.json
(greedy and beam) -> evaluate CLI -> translate CLI -> pipeline from the saved folder."""

import json
import subprocess
import sys

import pytest
from conftest import REPO

from hf_onelayer.commands.train import main as train_main

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("real_seq2seq")]


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("seq2seq") / "model"
    metrics = train_main([
        str(REPO / "training" / "configs" / "seq2seq.json"), "--data_dir", str(data_dir), "--output_dir", str(out),
        "--max_train_samples", "1500", "--max_eval_samples", "60", "--num_train_epochs", "1",
        "--hidden_size", "64", "--intermediate_size", "128", "--tokenizer_vocab_size", "1000",
        "--per_device_train_batch_size", "16",
        "--report_to", "none", "--disable_tqdm", "true",
    ])
    return out, metrics


def cli(*args):
    result = subprocess.run([sys.executable, "-m", "hf_onelayer.cli", *args], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_training_writes_the_model_its_pipeline_and_greedy_and_beam_metrics(trained):
    out, metrics = trained
    for name in ("model.safetensors", "config.json", "generation_config.json", "tokenizer_config.json",
                 "modeling_seq2seq.py", "pipeline_onelayer.py", "all_results.json", "README.md"):
        assert (out / name).exists(), name
    saved = json.loads((out / "all_results.json").read_text())
    for prefix in ("eval", "test", "eval_greedy", "test_greedy"):
        for metric in ("perplexity", "bleu", "bleu_cased", "chrf"):
            assert f"{prefix}_{metric}" in saved, f"{prefix}_{metric}"
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "onelayer_seq2seq" and config["encoder_layers"] == config["decoder_layers"] == 1
    assert "custom_pipelines" in config
    assert 1 < saved["eval_perplexity"] < config["vocab_size"] / 3  # one short epoch already beats a uniform guess
    assert saved["eval_perplexity"] == saved["eval_greedy_perplexity"]  # teacher-forced: the search does not matter
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["num_beams"] == 5
    card = (out / "README.md").read_text()
    assert "encoder–decoder" in card and f"{saved['eval_perplexity']:.2f}" in card


def test_evaluate_and_translate_clis_take_the_encoder_decoder(trained, data_dir):
    out, metrics = trained
    result = json.loads(cli("evaluate", "--model", str(out), "--data_dir", str(data_dir), "--split", "val",
                            "--max_samples", "60", "--num_beams", "1"))
    assert result["perplexity"] == pytest.approx(metrics["eval_perplexity"], rel=1e-6)
    assert result["bleu"] == pytest.approx(metrics["eval_greedy_bleu"], abs=1e-9)
    assert result["bleu_cased"] == pytest.approx(metrics["eval_greedy_bleu_cased"], abs=1e-9)
    assert result["num_beams"] == 1 and result["n_sentences"] == 60
    beam = json.loads(cli("evaluate", "--model", str(out), "--data_dir", str(data_dir), "--split", "val",
                          "--max_samples", "60"))
    assert beam["num_beams"] == 5 and beam["bleu"] == pytest.approx(metrics["eval_bleu"], abs=1e-9)
    lines = cli("translate", "--model", str(out), "Ein Mann fährt Fahrrad.", "Zwei Hunde spielen.").splitlines()
    assert len(lines) == 2 and all(line.strip() for line in lines)
