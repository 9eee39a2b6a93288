"""Training runs that are resumed, locked, overwritten, mostly <unk>, pushed or out of disk (issue 14)."""

import fcntl
import json
import os
import socket
import threading

import pytest
from conftest import cli, train_args, write


pytestmark = pytest.mark.xdist_group("bad_input")


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
