"""Every training flag is checked before work starts, and only the flags a model uses are accepted (issue 26).

One table of bad flags and configs for both models. Each is refused with exit code 2 and one line on stderr that
names the flag, with no traceback, before any data is read or any model built: this file's fixture makes reading
the data or building a model fail the test. A valid run still trains to the same metrics as before the checks.
"""

import importlib.util
import json
import shlex
from pathlib import Path

import pytest
import torch
from conftest import cli

from hf_onelayer.arguments import RANGES

import hf_onelayer.run
import hf_onelayer.trainer

pytestmark = pytest.mark.xdist_group("training_flags")

COURSE, SEQ2SEQ = "onelayer_translator", "onelayer_seq2seq"
BOTH = (COURSE, SEQ2SEQ)
STEPS = "--eval_strategy steps --save_strategy steps"

# (flags after `hf-onelayer train --data_dir D --output_dir O`, the models they are tried on, words of the line)
# {B} is a folder of bad files: list.json, a_file.
# One value just below each interval of arguments.RANGES, tried on a model that uses the flag: every range is
# checked as the flags are parsed, and the line names the flag and its interval.
ONLY = {"generation_num_beams": SEQ2SEQ, "generation_max_length": SEQ2SEQ, "fixed_length": COURSE}
RANGE_CASES = [
    (f"--{name} {float(interval[1:-1].split(',')[0]) - (interval[0] == '['):g}"
     + (f" {STEPS}" if name in ("eval_steps", "save_steps") else ""),
     (ONLY.get(name, BOTH[i % 2]),), [f"--{name}", interval])
    for i, (name, interval) in enumerate(RANGES.items())
]
BAD_FLAGS = RANGE_CASES + [
    # above an interval, and NaN
    ("--label_smoothing_factor 1.5", BOTH, ["--label_smoothing_factor", "[0, 1)"]),
    ("--adam_beta1 1.5", (SEQ2SEQ,), ["--adam_beta1", "[0, 1)"]),
    ("--data_seed 4294967296", (COURSE,), ["--data_seed", "[0, 4294967295]"]),
    ("--learning_rate nan", (SEQ2SEQ,), ["--learning_rate", "[0, inf)"]),
    ("--num_train_epochs 0", (SEQ2SEQ,), ["--num_train_epochs", "(0, inf)", "--max_steps"]),
    # messages that named another flag
    (f"--save_steps -1 {STEPS}", (SEQ2SEQ,), ["--save_steps", "(0, inf)"]),
    ("--metric_for_best_model bogus", BOTH, ["--metric_for_best_model bogus", "bleu"]),
    ("--metric_for_best_model token_accuracy", (SEQ2SEQ,), ["--metric_for_best_model", "onelayer_seq2seq", "chrf"]),
    ("{B}/list.json", (COURSE,), ["list.json", '"hidden_dropout_prob" takes one value', "[0.1, 0.2]"]),
    # the encoder-decoder's evaluation search, refused only at its first evaluation before
    ("--generation_max_length 500", (SEQ2SEQ,), ["--generation_max_length 500", "max_position_embeddings (128)"]),
    ("--fixed_length 500", (COURSE,), ["--fixed_length 500", "max_position_embeddings (64)"]),
    # choices
    ("--uncovered_init bogus", BOTH, ["--uncovered_init", "'random', 'mean'"]),
    ("--embedding_projection bogus", (SEQ2SEQ,), ["--embedding_projection", "'learned', 'pca'"]),
    ("--attn_implementation flash_attention_2", BOTH, ["--attn_implementation", "'sdpa', 'eager'"]),
    ("--lr_scheduler_type bogus", (COURSE,), ["--lr_scheduler_type", "'cosine'"]),
    ("--optim bogus", (SEQ2SEQ,), ["--optim", "'adamw_torch'"]),
    ("--optim adamw_bnb_8bit", (COURSE,), ["--optim adamw_bnb_8bit", "bitsandbytes"]),
    ("--report_to bogus", BOTH, ["--report_to bogus", "tensorboard"]),
    ("--report_to neptune", (SEQ2SEQ,), ["--report_to neptune", "not installed"]),
    ("--tokenizer_model bogus", (COURSE,), ["--tokenizer_model", "'bpe'"]),
    ("--norm_position middle", (SEQ2SEQ,), ["--norm_position"]),
    ("--hidden_dropout_prob 1.5", (SEQ2SEQ,), ["hidden_dropout_prob"]),
    ("--warmup_ratio 0.1", (COURSE,), ["--warmup_ratio"]),  # gone from transformers 5: warmup_steps < 1 is a ratio
    # precision without an accelerator that has it
    ("--fp16 true", BOTH, ["--fp16", "float32"]),
    ("--bf16 true", (SEQ2SEQ,), ["--bf16", "float32"]),
    # paths
    ("--output_dir {B}/a_file", BOTH, ["--output_dir", "a_file", "is a file"]),
    ("--output_dir ''", (COURSE,), ["--output_dir is empty"]),
    # flags the chosen model does not use: refused, naming the model
    ("--fixed_length 40", (SEQ2SEQ,), ["--fixed_length 40", "onelayer_seq2seq model does not use it"]),
    ("--embedding_layer_norm true", (SEQ2SEQ,), ["--embedding_layer_norm", "onelayer_seq2seq model"]),
    ("--bert_embedding true", (SEQ2SEQ,), ["--bert_embedding", "onelayer_seq2seq model"]),
    ("--encoder_layers 2", (COURSE,), ["--encoder_layers 2", "onelayer_translator model does not use it"]),
    ("--tie_word_embeddings false", (COURSE,), ["--tie_word_embeddings false", "onelayer_translator model"]),
    ("--generation_num_beams 4", (COURSE,), ["--generation_num_beams", "onelayer_translator model"]),
    ("--predict_with_generate true", (COURSE,), ["--predict_with_generate", "onelayer_translator model"]),
]
CASES = [(line, model, words) for line, models, words in BAD_FLAGS for model in models]
NOT_INSTALLED = {"--report_to neptune": "neptune", "--optim adamw_bnb_8bit": "bitsandbytes"}


class WorkStarted(AssertionError):
    """Raised where the data would be read or a model built: the flag was not refused first."""


@pytest.fixture()
def no_work(monkeypatch):
    def refuse(*args, **kwargs):
        raise WorkStarted("work started before the flag was refused")

    monkeypatch.setattr(hf_onelayer.run, "load_translation_data", refuse)
    for name in ("make_model", "build_tokenizer"):
        monkeypatch.setattr(hf_onelayer.trainer, name, refuse)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad")
    (path / "list.json").write_text(json.dumps({"hidden_dropout_prob": [0.1, 0.2], "report_to": ["none"]}))
    (path / "a_file").write_text("not a folder\n")
    return path


def test_the_table_covers_forty_cases_of_each_kind_of_fault():
    assert len(CASES) >= 40 and {model for _, model, _ in CASES} == set(BOTH)


@pytest.mark.parametrize("line, model, words", CASES, ids=[f"{m.split('_')[1]}: {line}" for line, m, _ in CASES])
def test_a_bad_flag_is_one_line_exit_2_before_any_data_is_read(line, model, words, folder, bad_files, tmp_path,
                                                               no_work, capfd):
    package = NOT_INSTALLED.get(line)
    if package and importlib.util.find_spec(package):
        pytest.skip(f"{package} is installed here")
    flags = shlex.split(line.format(B=bad_files))
    config = flags.pop(0) if flags[0].endswith(".json") else None
    argv = ["train", *([config] if config else []), "--data_dir", str(folder), "--output_dir", str(tmp_path / "out"),
            "--model_type", model, "--report_to", "none", *flags]
    capfd.readouterr()
    assert cli(argv) == 2
    err = capfd.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("hf-onelayer train: ") and all(w in lines[0] for w in words), lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_fixed_length_shorter_than_a_sentence_is_refused_before_training(folder, tmp_path, capfd):
    out = tmp_path / "out"
    argv = ["train", "--data_dir", str(folder), "--output_dir", str(out), "--fixed_length", "6", "--report_to",
            "none", "--max_steps", "2", "--min_frequency", "1", "--hidden_size", "16", "--intermediate_size", "32"]
    capfd.readouterr()
    assert cli(argv) == 2
    err = capfd.readouterr().err  # training's log lines, then the refusal
    line = err.strip().splitlines()[-1]
    assert "Traceback" not in err and line.startswith("hf-onelayer train: --fixed_length 6: the train split needs")
    assert "give at least" in line
    assert not (out / "trainer_state.json").exists() and not list(out.glob("checkpoint-*"))


def test_an_encoder_decoder_without_max_position_embeddings_saves_one_length(folder, tmp_path):
    out = tmp_path / "out"
    assert cli(["train", "--data_dir", str(folder), "--output_dir", str(out), "--model_type", SEQ2SEQ,
                "--tokenizer_model", "bpe", "--tokenizer_vocab_size", "100", "--min_frequency", "1", "--hidden_size",
                "16", "--num_attention_heads", "2", "--head_dim_qk", "8", "--head_dim_v", "8", "--intermediate_size",
                "32", "--max_steps", "2", "--report_to", "none", "--disable_tqdm", "true", "--eval_strategy", "no",
                "--save_strategy", "no", "--load_best_model_at_end", "false"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert json.loads((out / "tokenizer_config.json").read_text())["model_max_length"] == \
        config["max_position_embeddings"] == 128


# --- valid flags train exactly as before ----------------------------------------------------------------

# The tiny runs below, recorded by this same code at commit 562cc54 (before the checks existed), with one thread, on
# another machine. Counts must match exactly. Floats get a relative tolerance of 1e-5: another CPU's kernels (or
# ATEN_CPU_CAPABILITY=default) round differently, and after 8 Adam steps the perplexity moved by 1e-8 relative between
# two machines of this kind; a real change to training (one step more, another learning rate, another loss) moves the
# loss by more than 1e-3.
FLOAT_TOLERANCE = 1e-5
GOLDEN = Path(__file__).parents[1] / "data" / "tiny_runs_562cc54.json"
TIMING = ("runtime", "per_second", "flos")
RUNS = {
    COURSE: ["--fixed_length", "24"],
    SEQ2SEQ: ["--model_type", SEQ2SEQ, "--tokenizer_model", "bpe", "--tokenizer_vocab_size", "120",
              "--predict_with_generate", "true", "--generation_num_beams", "2", "--metric_for_best_model", "bleu",
              "--greater_is_better", "true"],
}
COMMON = ["--hidden_size", "16", "--num_attention_heads", "2", "--head_dim_qk", "8", "--head_dim_v", "8",
          "--intermediate_size", "32", "--max_position_embeddings", "24", "--report_to", "none", "--disable_tqdm", "true",
          "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "8", "--min_frequency", "1",
          "--max_steps", "8", "--eval_strategy", "steps", "--eval_steps", "4", "--save_strategy", "steps",
          "--save_steps", "4", "--learning_rate", "0.01", "--weight_decay", "0.01", "--label_smoothing_factor", "0.1",
          "--seed", "3"]


@pytest.fixture()
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("model_type", BOTH)
def test_valid_flags_train_to_the_same_metrics_as_before_the_checks(model_type, folder, tmp_path, one_thread):
    from hf_onelayer.metrics import GeneratedTranslationMetrics, TranslationMetrics

    out = tmp_path / model_type
    assert cli(["train", "--data_dir", str(folder), "--output_dir", str(out), *COMMON, *RUNS[model_type]]) == 0
    metrics = json.loads((out / "all_results.json").read_text())
    got = {k: v for k, v in metrics.items() if not any(t in k for t in TIMING)}
    golden = json.loads(GOLDEN.read_text())[model_type]
    assert sorted(got) == sorted(golden)
    for name, value in golden.items():
        if isinstance(value, float):
            assert got[name] == pytest.approx(value, rel=FLOAT_TOLERANCE), name
        else:
            assert got[name] == value, name
    # the names that --metric_for_best_model is checked against are the ones evaluation reports
    names = (GeneratedTranslationMetrics if model_type == SEQ2SEQ else TranslationMetrics).names
    assert {f"eval_{name}" for name in names} <= set(got)
