"""Two real gloo processes under `accelerate launch` train like one process with the same effective batch."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ddp")]

REPO = Path(__file__).resolve().parents[2]
COMMON = [
    "--max_train_samples", "1024", "--max_eval_samples", "128", "--max_steps", "12",
    "--hidden_size", "64", "--intermediate_size", "256", "--head_dim_qk", "32", "--head_dim_v", "32",
    "--hidden_dropout_prob", "0", "--attention_probs_dropout_prob", "0", "--eval_strategy", "no",
    "--save_strategy", "no", "--load_best_model_at_end", "false", "--report_to", "none",
    "--logging_steps", "4", "--disable_tqdm", "true", "--seed", "7", "--learning_rate", "0.003",
]


def run(cmd, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-4000:])
    return result


# the course model from flags alone; the encoder-decoder from its JSON recipe, with a small joint vocabulary
MODELS = {"onelayer_translator": [], "onelayer_seq2seq": ["training/configs/seq2seq.json", "--tokenizer_vocab_size", "1000"]}


@pytest.mark.parametrize("model", MODELS)
def test_two_processes_match_one_process(data_dir, tmp_path, model):
    accelerate = str(Path(sys.executable).with_name("accelerate"))
    two = tmp_path / "two"
    run([accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "--num_cpu_threads_per_process", "1",
         "training/train.py", *MODELS[model], "--data_dir", str(data_dir), "--output_dir", str(two),
         "--per_device_train_batch_size", "16", *COMMON], tmp_path)
    one = tmp_path / "one"
    run([sys.executable, "training/train.py", *MODELS[model], "--data_dir", str(data_dir), "--output_dir", str(one),
         "--per_device_train_batch_size", "32", *COMMON], tmp_path)

    two_metrics = json.loads((two / "all_results.json").read_text())
    one_metrics = json.loads((one / "all_results.json").read_text())
    assert two_metrics["world_size"] == 2 and one_metrics["world_size"] == 1
    assert two_metrics["eval_samples"] == one_metrics["eval_samples"] == 128
    # same data, same effective batch (2 x 16 = 32), same number of steps: same loss within 5 %
    for key in ("train_loss", "eval_loss", "eval_perplexity"):
        assert two_metrics[key] == pytest.approx(one_metrics[key], rel=0.05), key
    # and training did something: the loss fell below that of a uniform guess over the target vocabulary
    config = json.loads((one / "config.json").read_text())
    vocab = config.get("tgt_vocab_size") or config["vocab_size"]
    assert two_metrics["eval_loss"] < math.log(vocab) - 0.5
