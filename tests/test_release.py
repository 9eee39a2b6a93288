"""The released model in release/ works out of the box: the default --model of translate, evaluate and analyze."""

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


def test_release_folder_is_complete_and_small():
    from pathlib import Path

    folder = Path(default_model())
    for name in ("model.safetensors", "config.json", "tokenizer_config.json", "source_tokenizer.json",
                 "target_tokenizer.json", "modeling_onelayer.py", "README.md", "all_results.json"):
        assert (folder / name).exists(), name
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
    assert results["models"]["model"]["path"] == default_model()
