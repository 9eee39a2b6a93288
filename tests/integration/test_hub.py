"""`hf-onelayer push` and `from_pretrained(NAME)` through huggingface_hub's real client, against a local Hub.

The server (tests/hub_server.py) runs on 127.0.0.1 inside the test; HF_ENDPOINT points at it. Push
and download run in subprocesses (huggingface_hub reads HF_ENDPOINT at import; the download process
cannot import hf_onelayer).
"""

import json
import os
import secrets
import subprocess
import sys

import pytest
import torch
from hub_server import LocalHub
from conftest import SOURCES, load_in_fresh_process, tiny_model

from hf_onelayer.hub.model_card import build_card

pytestmark = pytest.mark.xdist_group("hub")


@pytest.fixture()
def hub():
    token = "hf_" + secrets.token_hex(16)
    with LocalHub(token) as server:
        yield server


@pytest.fixture()
def saved_model(small_tokenizer, tmp_path):
    """A tiny trained-looking folder: weights, tokenizer, code, metrics and a generated card."""
    model = tiny_model(src_vocab_size=small_tokenizer.src_vocab_size, tgt_vocab_size=small_tokenizer.tgt_vocab_size)
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    small_tokenizer.save_pretrained(folder)
    metrics = {f"{p}_{m}": v for p in ("eval", "test") for m, v in
               (("perplexity", 19.6), ("bleu", 20.1), ("chrf", 41.7), ("token_accuracy", 0.38))}
    metrics.update(epoch=10.0, train_runtime=600.0)
    (folder / "all_results.json").write_text(json.dumps(metrics))
    (folder / "training_args.bin").write_bytes(b"a pickle that must not be pushed")
    return model, folder


def hub_env(hub, tmp_path, token: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if "OFFLINE" not in k and k != "HF_TOKEN"}
    env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf_home"), HF_HUB_DISABLE_TELEMETRY="1")
    if token:
        env["HF_TOKEN"] = token
    return env


def push(env, *args):
    return subprocess.run([sys.executable, "-m", "hf_onelayer.cli", "push", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def all_text_under(path) -> bytes:
    return b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())


@pytest.mark.parametrize("private", [False, True])
def test_push_then_load_by_name_in_a_process_without_the_package(hub, saved_model, tmp_path, private):
    model, folder = saved_model
    env = hub_env(hub, tmp_path, hub.state.token)
    args = ["--model", str(folder), "--repo_id", "tiny-translator", "--revision", "dev"] + (["--private"] if private else [])
    result = push(env, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "/tester/tiny-translator/commit/" in result.stdout

    repo = hub.state.repos["tester/tiny-translator"]
    assert repo["private"] is private
    files = repo["branches"]["dev"]["files"]
    for name in ("model.safetensors", "config.json", "tokenizer_config.json", "source_tokenizer.json",
                 "target_tokenizer.json", "modeling_onelayer.py", "configuration_onelayer.py",
                 "tokenization_onelayer.py", "README.md", "all_results.json"):
        assert name in files, name
    assert "training_args.bin" not in files  # never push pickles
    assert repo["branches"]["main"]["files"] == {}  # the commit went to the branch
    assert files["model.safetensors"] == (folder / "model.safetensors").read_bytes()
    card = files["README.md"].decode()
    assert "model-index:" in card
    assert "language:" in card and "- de" in card

    child = load_in_fresh_process("tester/tiny-translator", tmp_path, revision="dev", env=env)
    assert all(m.startswith("transformers_modules") for m in child["classes"]), child["classes"]
    from hf_onelayer import OneLayerTranslatorTokenizer

    tok = OneLayerTranslatorTokenizer.from_pretrained(folder)
    enc = tok(SOURCES, padding=True, return_tensors="pt")
    assert torch.equal(child["input_ids"], enc["input_ids"])
    with torch.no_grad():
        torch.testing.assert_close(child["logits"], model(**enc).logits, atol=1e-6, rtol=1e-6)
    resolved = [r for r in hub.state.requests if "/resolve/" in r["path"]]
    assert resolved, "nothing was downloaded from the local Hub"
    if private:  # reads of a private repo carry the token; the server refuses them otherwise
        assert all(r["headers"].get("authorization") == f"Bearer {hub.state.token}" for r in resolved)

    token = hub.state.token.encode()
    assert token.decode() not in result.stdout + result.stderr + child["output"]
    assert token not in all_text_under(tmp_path)  # model folder, HF_HOME cache, downloaded modules
    assert all(token not in data for data in files.values())


def test_push_without_a_token_says_how_to_give_one(hub, saved_model, tmp_path):
    _, folder = saved_model
    result = push(hub_env(hub, tmp_path, None), "--model", str(folder), "--repo_id", "tiny")
    assert result.returncode != 0
    assert "no Hugging Face token: set HF_TOKEN" in result.stderr
    assert not hub.state.repos


def test_push_to_an_existing_repo_needs_exist_ok(hub, saved_model, tmp_path):
    _, folder = saved_model
    env = hub_env(hub, tmp_path, hub.state.token)
    assert push(env, "--model", str(folder), "--repo_id", "tiny").returncode == 0
    again = push(env, "--model", str(folder), "--repo_id", "tiny")
    assert again.returncode != 0 and "already exists" in again.stderr and "--exist_ok" in again.stderr
    assert push(env, "--model", str(folder), "--repo_id", "tiny", "--exist_ok", "true").returncode == 0


def test_push_with_a_wrong_token_or_no_network_fails_clearly(hub, saved_model, tmp_path):
    _, folder = saved_model
    wrong = push(hub_env(hub, tmp_path, "hf_wrong_token_0123"), "--model", str(folder), "--repo_id", "tiny")
    assert wrong.returncode != 0 and "refused the token (401)" in wrong.stderr
    assert "hf_wrong_token_0123" not in wrong.stdout + wrong.stderr

    env = hub_env(hub, tmp_path, hub.state.token)
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    down = push(env, "--model", str(folder), "--repo_id", "tiny")
    assert down.returncode != 0 and "cannot reach http://127.0.0.1:9" in down.stderr
    assert "Traceback" not in down.stderr


def test_generated_card_passes_the_hub_metadata_checks(hub, saved_model, monkeypatch):
    from huggingface_hub import ModelCard, constants

    _, folder = saved_model
    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    card = build_card(str(folder), "hf-onelayer train ...", repo="tester/tiny")
    card.validate()  # raises ValueError when the local Hub's checks fail
    data = card.data.to_dict()
    assert data["language"] == ["de", "en"] and data["library_name"] == "transformers"
    results = data["model-index"][0]["results"]
    splits = {(r["dataset"]["split"], m["type"]) for r in results for m in r["metrics"]}
    assert {("validation", "perplexity"), ("validation", "bleu"), ("test", "perplexity"), ("test", "bleu")} <= splits

    broken = ModelCard(str(card).replace("type: perplexity", "type: ''", 1))
    with pytest.raises(ValueError, match="needs a type"):
        broken.validate()


SEQ2SEQ_CHILD = """
import json, sys
sys.modules["hf_onelayer"] = None  # any import of our package now fails
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, pipeline
name, revision, text = sys.argv[1], sys.argv[2], sys.argv[3]
model = AutoModelForSeq2SeqLM.from_pretrained(name, trust_remote_code=True, revision=revision).eval()
tok = AutoTokenizer.from_pretrained(name, trust_remote_code=True, revision=revision)
ids = model.generate(**tok([text], return_tensors="pt"), num_beams=2, max_new_tokens=8)
translator = pipeline(model=name, trust_remote_code=True, revision=revision)
print(json.dumps({"ids": ids.tolist(), "pipeline": translator(text, num_beams=2, max_new_tokens=8),
                  "module": type(model).__module__}))
"""


def test_encoder_decoder_pushes_and_loads_by_name_with_generate_and_pipeline(hub, tmp_path):
    from conftest import tiny_seq2seq

    from hf_onelayer import OneLayerTranslatorTokenizer
    from hf_onelayer.trainer import save_pipeline

    tok = OneLayerTranslatorTokenizer.train_new(SOURCES * 2, [s.upper() for s in SOURCES] * 2, model="bpe",
                                                vocab_size=120, min_frequency=1, target_special_tokens_pattern="eos")
    model = tiny_seq2seq(vocab_size=tok.tgt_vocab_size)
    folder = tmp_path / "seq2seq"
    save_pipeline(model, tok, str(folder))
    metrics = {f"{p}_{m}": v for p in ("eval", "test") for m, v in (("perplexity", 9.5), ("bleu", 30.1), ("chrf", 55.0))}
    (folder / "all_results.json").write_text(json.dumps(metrics))
    env = hub_env(hub, tmp_path, hub.state.token)
    result = push(env, "--model", str(folder), "--repo_id", "tiny-seq2seq", "--revision", "dev")
    assert result.returncode == 0, result.stderr[-3000:]
    files = hub.state.repos["tester/tiny-seq2seq"]["branches"]["dev"]["files"]
    for name in ("modeling_seq2seq.py", "configuration_seq2seq.py", "pipeline_onelayer.py", "generation_config.json"):
        assert name in files, name
    assert "encoder–decoder" in files["README.md"].decode()

    script = tmp_path / "child.py"
    script.write_text(SEQ2SEQ_CHILD)
    child = subprocess.run([sys.executable, str(script), "tester/tiny-seq2seq", "dev", SOURCES[0]],
                           env=dict(env, HF_MODULES_CACHE=str(tmp_path / "modules"), PYTHONPATH=""), cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    reply = json.loads(child.stdout.strip().splitlines()[-1])
    expected = model.generate(**tok([SOURCES[0]], return_tensors="pt"), num_beams=2, max_new_tokens=8)
    assert reply["ids"] == expected.tolist() and reply["module"].startswith("transformers_modules")
    assert reply["pipeline"] == [{"translation_text": tok.decode(expected[0], skip_special_tokens=True)}]
