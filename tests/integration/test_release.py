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


@pytest.mark.parametrize("kind", ["onelayer_seq2seq", "onelayer_translator"])
def test_release_folders_carry_the_package_s_code(kind):
    """Their remote code is the package's models/ as it is now (re-copy after changing it, then check that the
    1,000 test2016 translations stay identical)."""
    from pathlib import Path

    import hf_onelayer.models

    folder, models = Path(default_model(kind)), Path(hf_onelayer.models.__file__).parent
    for code in folder.glob("*.py"):
        assert code.read_text() == (models / code.name).read_text(), f"{code} differs from {models / code.name}"


def test_translate_and_evaluate_default_to_the_released_model(data_dir):
    out = cli("translate", "Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Schnee.").splitlines()
    assert len(out) == 2 and "man" in out[0] and "dogs" in out[1]
    metrics = json.loads(cli("evaluate", "--data_dir", str(data_dir), "--split", "test", "--max_samples", "100"))
    assert metrics["n_sentences"] == 100 and metrics["perplexity"] < 40 and metrics["bleu"] > 10


def test_analyze_defaults_to_the_released_model(data_dir, tmp_path):
    cli("analyze", "model", "--data_dir", str(data_dir), "--max_sentences", "20", "--out", str(tmp_path))
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["models"]["model"]["path"] == default_model("onelayer_translator")


def test_release_course_keeps_its_old_names_and_loads_the_same_through_remote_code(tmp_path):
    """release/course was saved before the layers were shared: the key map reads it, in the package and in a
    process where hf_onelayer cannot be imported (its copied code alone)."""
    import torch
    from conftest import SOURCES, load_in_fresh_process
    from safetensors import safe_open

    from hf_onelayer.translation import load

    folder = default_model("onelayer_translator")
    with safe_open(f"{folder}/model.safetensors", "pt") as weights:
        names = set(weights.keys())
    assert {"embeddings.word_embeddings.weight", "block.attention.query.weight", "block.attention_norm.weight"} <= names
    model, tokenizer = load(folder)
    child = load_in_fresh_process(folder, tmp_path)
    assert all(module.startswith("transformers_modules") for module in child["classes"]), child["classes"]
    enc = tokenizer(SOURCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = model(**enc).logits
    # two processes may dispatch other kernels or thread counts: the same weights give logits equal to ~1e-6
    # (3.8e-6 seen inside the full suite); a wrong key mapping changes them by far more than 1e-5
    torch.testing.assert_close(child["logits"], expected, atol=1e-5, rtol=1e-5)
    assert child["decoded"] == tokenizer.batch_decode(model.translate_ids(enc["input_ids"], enc["attention_mask"]),
                                                      skip_special_tokens=True)
    assert "newly initialized" not in child["output"] and "not used" not in child["output"]
