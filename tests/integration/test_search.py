"""Hyper-parameter search: Trainer + Optuna on a slice of the real data, resumed from its SQLite study."""

import json

import optuna
import pytest
from conftest import REPO


from hf_onelayer.arguments import ModelArguments, OneLayerTrainingArguments, parse
from hf_onelayer.commands.search import main as search
from hf_onelayer.search.study import baseline_trial, enqueue_from_file

pytestmark = pytest.mark.xdist_group("search")
DEFAULT_JSON = str(REPO / "training" / "configs" / "default.json")


@pytest.fixture()
def default_trial(tmp_path) -> dict:
    """training/configs/default.json as a point of the search space (what trial 0 runs)."""
    return baseline_trial(*parse((ModelArguments, OneLayerTrainingArguments),
                                 [DEFAULT_JSON, "--output_dir", str(tmp_path / "unused")], "test"))


def test_search_runs_resumes_and_reports(data_dir, tmp_path, default_trial):
    out = tmp_path / "search"
    seeded = dict(default_trial, hidden_size=192, norm_position="pre", min_frequency=1, per_device_train_batch_size=64)
    (tmp_path / "seeds.json").write_text(json.dumps([seeded]))
    argv = [DEFAULT_JSON, "--data_dir", str(data_dir), "--output_dir", str(out),
            "--max_train_samples", "200", "--max_eval_samples", "40", "--num_train_epochs", "2",
            "--disable_tqdm", "true", "--enqueue", str(tmp_path / "seeds.json"), "--n_trials", "2"]
    search(argv)
    storage = f"sqlite:///{out / 'study.db'}"
    study = optuna.load_study(study_name="onelayer", storage=storage)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    first = study.trials[0]
    assert first.params == default_trial  # the baseline runs first
    assert study.trials[1].params == seeded  # then the queued parameter sets
    assert set(first.intermediate_values) == {1, 2}  # reported per epoch, whatever the batch size
    assert first.value == min(first.intermediate_values.values())  # best val perplexity so far
    assert first.user_attrs["epoch2"]["perplexity"] > 1
    assert 0 <= first.user_attrs["epoch2"]["unk_rate"] < 1

    search(argv[:-1] + ["3"])  # resume: two trials are done, one more runs
    study = optuna.load_study(study_name="onelayer", storage=storage)
    assert len(study.trials) == 3 and study.trials[2].state.is_finished()

    report = tmp_path / "report"
    search([DEFAULT_JSON, "--output_dir", str(out), "--report_dir", str(report)])
    for name in ("trials.md", "trials.json", "history.png", "intermediate.png", "importance.png", "tuned.json"):
        assert (report / name).stat().st_size > 0, name
    rows = json.loads((report / "trials.json").read_text())
    assert [r["number"] for r in rows] == [0, 1, 2]
    assert len((report / "trials.md").read_text().splitlines()) == 2 + 3
    tuned = json.loads((report / "tuned.json").read_text())
    best = study.best_trial.params
    assert tuned["learning_rate"] == best["learning_rate"]
    assert tuned["num_train_epochs"] == 2  # the search's budget, not default.json's 10


def test_enqueue_file_errors_name_the_file_and_entry(tmp_path, default_trial):
    study = optuna.create_study()
    bad = tmp_path / "seeds.json"
    bad.write_text(json.dumps([{"learning_rate": 0.1}]))
    with pytest.raises(ValueError, match=r"seeds.json: entry 0: parameters .*hidden_size"):
        enqueue_from_file(study, str(bad))
    bad.write_text(json.dumps({"learning_rate": 0.1}))
    with pytest.raises(ValueError, match="expected a JSON list"):
        enqueue_from_file(study, str(bad))
    good = tmp_path / "good.json"
    good.write_text(json.dumps([default_trial, default_trial]))
    assert enqueue_from_file(study, str(good)) == 1  # the same set is queued once
    assert enqueue_from_file(study, str(good)) == 0


def test_default_json_as_a_point_of_the_space(default_trial):
    assert default_trial == {
        "learning_rate": 1e-3, "per_device_train_batch_size": 128, "lr_scheduler_type": "linear",
        "warmup_steps": 0.0, "weight_decay": 0.0, "label_smoothing_factor": 0.0, "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "hidden_size": 128, "num_attention_heads": 2, "head_dim_qk": 96,
        "head_dim_v": 96, "intermediate_size": 2048, "norm_position": "post", "min_frequency": 2,
        "embedding_init": "random",
    }


def test_search_refuses_sub_word_vocabularies(tmp_path):
    model_args, training_args = parse((ModelArguments, OneLayerTrainingArguments),
                                      ["--output_dir", str(tmp_path), "--tokenizer_model", "wordpiece"], "test")
    with pytest.raises(ValueError, match="--tokenizer_model wordpiece: the search ranks trials by perplexity"):
        baseline_trial(model_args, training_args)


def test_encoder_decoder_search_maximises_val_bleu(data_dir, tmp_path):
    out = tmp_path / "search_seq2seq"
    seq2seq_json = str(REPO / "training" / "configs" / "seq2seq.json")
    search([seq2seq_json, "--data_dir", str(data_dir), "--output_dir", str(out), "--max_train_samples", "300",
            "--max_eval_samples", "30", "--num_train_epochs", "2", "--tokenizer_vocab_size", "800",
            "--disable_tqdm", "true", "--n_trials", "2", "--study_name", "s2s"])
    study = optuna.load_study(study_name="s2s", storage=f"sqlite:///{out / 'study.db'}")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    first = study.trials[0]
    assert first.params["embedding_init"] == "random" and first.params["hidden_size"] == 256  # seq2seq.json's
    bleus = [first.user_attrs[f"epoch{e}"]["bleu"] for e in (1, 2)]
    assert first.value == max(bleus) and first.intermediate_values[2] == max(bleus)  # best val BLEU so far
    report = tmp_path / "report"
    search([seq2seq_json, "--output_dir", str(out), "--study_name", "s2s", "--report_dir", str(report)])
    rows = json.loads((report / "trials.json").read_text())
    assert rows[0]["val_bleu"] == first.value
