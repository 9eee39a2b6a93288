"""A run killed with SIGKILL resumes to the same results, for both kinds: killed after a save (a real kill -9 of a
training process), or while saving (the newest checkpoint cut short); and a finished run is never rewritten."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import TINY, cli

pytestmark = pytest.mark.xdist_group("resume")

KINDS = {
    "onelayer_translator": [],
    "onelayer_seq2seq": ["--model_type", "onelayer_seq2seq", "--tokenizer_model", "bpe", "--tokenizer_vocab_size", "120",
                         "--predict_with_generate", "true", "--generation_num_beams", "2"],
}
TIMING = ("runtime", "per_second", "flos")
STEPS = 16  # the killed run: killed once its first checkpoint is saved, with 14 steps and 7 evaluations to go


def run_args(folder, out, model_type, steps, *extra):
    return ["train", "--data_dir", str(folder), "--output_dir", str(out), *TINY, *KINDS[model_type], "--min_frequency",
            "1", "--max_steps", str(steps), "--per_device_train_batch_size", "4", "--eval_strategy", "steps",
            "--eval_steps", "2", "--save_strategy", "steps", "--save_steps", "2", "--save_total_limit", "10",
            "--load_best_model_at_end", "false", "--report_to", "none", "--disable_tqdm", "true", "--seed", "3", *extra]


def results(out) -> dict:
    return {k: v for k, v in json.loads((out / "all_results.json").read_text()).items()
            if not any(t in k for t in TIMING)}


def same_results(got: dict, expected: dict):
    # the same machine and process: every metric equal to the last digit; train_loss is a mean rebuilt from the
    # checkpoint's float sum of the steps before it, so it agrees to float rounding only
    assert got.pop("train_loss") == pytest.approx(expected.pop("train_loss"), rel=1e-6)
    assert got == expected


@pytest.mark.parametrize("model_type", KINDS)
def test_killed_while_saving_resumes_from_the_checkpoint_before(model_type, folder, tmp_path):
    whole = tmp_path / "whole"
    assert cli(run_args(folder, whole, model_type, 6)) == 0
    killed = tmp_path / "killed"
    killed.mkdir()
    for name in ("checkpoint-2", "checkpoint-4", "tokenizer"):
        if (whole / name).exists():
            shutil.copytree(whole / name, killed / name)
    (killed / "checkpoint-4" / "trainer_state.json").write_text('{"best_metric": nu')  # the save cut short
    (killed / "checkpoint-2" / "train_loss_sum.json").unlink()  # and killed before the loss sum, earlier
    assert cli(run_args(folder, killed, model_type, 6, "--resume_from_checkpoint", "last")) == 0
    got, expected = results(killed), results(whole)
    got.pop("train_loss"), expected.pop("train_loss")  # checkpoint-2 lost its loss sum: the mean of steps 3-6 only
    assert got == expected
    capture = subprocess.run([sys.executable, "-m", "hf_onelayer.cli", *run_args(
        folder, killed, model_type, 6, "--resume_from_checkpoint", str(killed / "checkpoint-4"))],
        capture_output=True, text=True, timeout=300)
    assert capture.returncode == 2 and "holds a finished run" in capture.stderr


def child(args, log) -> subprocess.Popen:
    """``hf-onelayer ARGS`` in a process of its own, on one thread: the whole run, the killed one and its resume then
    compute alike, so their results must agree to the last digit. Its output goes to the file ``log`` (a pipe nobody
    reads would fill and stop it)."""
    with open(log, "w") as handle:
        return subprocess.Popen([sys.executable, "-m", "hf_onelayer.cli", *args], stdout=handle,
                                stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.parametrize("model_type", KINDS)
def test_kill_9_after_a_save_resumes_to_the_same_results(model_type, folder, tmp_path):
    whole, killed, log = tmp_path / "whole", tmp_path / "killed", tmp_path / "log"
    run = child(run_args(folder, whole, model_type, STEPS), log)
    assert run.wait(timeout=300) == 0, log.read_text()[-3000:]
    run = child(run_args(folder, killed, model_type, STEPS), log)
    deadline = time.time() + 240
    while not list(killed.glob("checkpoint-*/train_loss_sum.json")) and time.time() < deadline:
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    assert run.wait(timeout=60) == -signal.SIGKILL and not (killed / "all_results.json").exists()
    run = child(run_args(folder, killed, model_type, STEPS, "--resume_from_checkpoint", "last"), log)
    assert run.wait(timeout=300) == 0, log.read_text()[-3000:]
    same_results(results(killed), results(whole))


def test_a_finished_run_is_not_rewritten_by_a_resume(folder, tmp_path, capfd):
    out = tmp_path / "done"
    assert cli(run_args(folder, out, "onelayer_translator", 4)) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capfd.readouterr()
    assert cli(run_args(folder, out, "onelayer_translator", 4, "--resume_from_checkpoint", "last")) == 2
    assert "holds a finished run" in capfd.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("overwrite", [[], ["--overwrite_output_dir", "true"]])
def test_an_output_dir_holding_the_user_s_files_is_refused_and_left_as_it_was(folder, tmp_path, capfd, overwrite):
    """As transformers' example scripts refuse a non-empty output_dir: here a user's README.md and tokenizer/mine.txt,
    which a run would overwrite and delete."""
    out = tmp_path / "mine"
    (out / "tokenizer").mkdir(parents=True)
    (out / "README.md").write_text("my notes\n")
    (out / "tokenizer" / "mine.txt").write_text("my vocabulary\n")
    capfd.readouterr()
    assert cli(run_args(folder, out, "onelayer_translator", 2, *overwrite)) == 2
    (line,) = capfd.readouterr().err.strip().splitlines()
    assert "holds files that no hf-onelayer run wrote (README.md, tokenizer/mine.txt)" in line
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["README.md", "tokenizer", "tokenizer/mine.txt"]
    assert (out / "README.md").read_text() == "my notes\n"
    # a run's own folder is not the user's: overwriting it is allowed
    run = tmp_path / "run"
    assert cli(run_args(folder, run, "onelayer_translator", 2)) == 0
    assert cli(run_args(folder, run, "onelayer_translator", 2, "--overwrite_output_dir", "true")) == 0
