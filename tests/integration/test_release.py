"""The released models work out of the box: release/seq2seq is the default --model of translate and evaluate,
release/course that of analyze; both translate through the pipeline."""

import json
import subprocess
import sys

import pytest

from hf_onelayer.translation import default_model

pytestmark = pytest.mark.xdist_group("release")


def cli(*args):
    result = subprocess.run([sys.executable, "-m", "hf_onelayer.cli", *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize("kind, code", [("onelayer_seq2seq", "modeling_seq2seq.py"),
                                        ("onelayer_translator", "modeling_onelayer.py")])
def test_release_folders_are_complete_and_small(kind, code):
    from pathlib import Path

    folder = Path(default_model(kind))
    for name in ("model.safetensors", "config.json", "tokenizer_config.json", "source_tokenizer.json",
                 "target_tokenizer.json", code, "pipeline_onelayer.py", "README.md", "all_results.json"):
        assert (folder / name).exists(), name
    assert "custom_pipelines" in json.loads((folder / "config.json").read_text())
    assert (folder / "model.safetensors").stat().st_size <= 25 * 2**20
    assert not list(folder.glob("*.bin")) and not list(folder.glob("checkpoint-*"))


def test_translate_and_evaluate_default_to_the_released_model(data_dir):
    out = cli("translate", "Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Schnee.").splitlines()
    assert len(out) == 2 and "man" in out[0] and "dogs" in out[1]
    metrics = json.loads(cli("evaluate", "--data_dir", str(data_dir), "--split", "test", "--max_samples", "100"))
    assert metrics["n_sentences"] == 100 and metrics["perplexity"] < 40 and metrics["bleu"] > 10


def test_analyze_defaults_to_the_released_model(data_dir, tmp_path):
    cli("analyze", "model", "--data_dir", str(data_dir), "--max_sentences", "20", "--out", str(tmp_path))
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["models"]["model"]["path"] == default_model("onelayer_translator")
