"""Hyper-parameter search: Trainer + Optuna on a slice of the real data, resumed from its SQLite study."""

import json

import optuna
import pytest

from hf_onelayer.search import DEFAULT_TRIAL
from hf_onelayer.search import main as search

pytestmark = pytest.mark.xdist_group("search")


def test_search_runs_resumes_and_reports(data_dir, tmp_path):
    out = tmp_path / "search"
    argv = ["training/configs/default.json", "--data_dir", str(data_dir), "--output_dir", str(out),
            "--max_train_samples", "200", "--max_eval_samples", "40", "--num_train_epochs", "2",
            "--disable_tqdm", "true", "--n_trials", "2"]
    search(argv)
    storage = f"sqlite:///{out / 'study.db'}"
    study = optuna.load_study(study_name="onelayer", storage=storage)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    first = study.trials[0]
    assert first.params == DEFAULT_TRIAL  # the baseline runs first
    assert set(first.intermediate_values) == {1, 2}  # reported per epoch, whatever the batch size
    assert first.value == min(first.intermediate_values.values())  # best val perplexity so far
    assert first.user_attrs["epoch2"]["perplexity"] > 1
    assert 0 <= first.user_attrs["epoch2"]["unk_rate"] < 1

    search(argv[:-1] + ["3"])  # resume: two trials are done, one more runs
    study = optuna.load_study(study_name="onelayer", storage=storage)
    assert len(study.trials) == 3 and study.trials[2].state.is_finished()

    report = tmp_path / "report"
    search(["training/configs/default.json", "--output_dir", str(out), "--report_dir", str(report)])
    for name in ("trials.md", "trials.json", "history.png", "intermediate.png", "importance.png", "tuned.json"):
        assert (report / name).stat().st_size > 0, name
    rows = json.loads((report / "trials.json").read_text())
    assert [r["number"] for r in rows] == [0, 1, 2]
    assert len((report / "trials.md").read_text().splitlines()) == 2 + 3
    tuned = json.loads((report / "tuned.json").read_text())
    best = study.best_trial.params
    assert tuned["learning_rate"] == best["learning_rate"] and tuned["num_train_epochs"] == 10
