"""The "onelayer-translation" pipeline: both models, in this process and in a fresh one without the package."""

import json
import subprocess
import sys

import pytest
from conftest import SOURCES, saved_pipeline

from hf_onelayer import PIPELINE_TASK, OneLayerTranslationPipeline
from hf_onelayer.translation import translate

CHILD = """
import json, sys
sys.modules["hf_onelayer"] = None  # any import of our package now fails
from transformers import pipeline
translator = pipeline(model=sys.argv[1], trust_remote_code=True)
print(json.dumps({"one": translator(sys.argv[2]), "many": translator(json.loads(sys.argv[3])),
                  "module": type(translator).__module__, "task": translator.task}))
"""


@pytest.mark.parametrize("kind", ["onelayer_translator", "onelayer_seq2seq"])
def test_pipeline_translates_with_either_model_in_a_process_without_the_package(kind, tmp_path):
    model, tok, folder = saved_pipeline(kind, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    assert config["custom_pipelines"] == {PIPELINE_TASK: {
        "impl": "pipeline_onelayer.OneLayerTranslationPipeline", "pt": ["AutoModelForSeq2SeqLM", "AutoModel"]}}
    assert (folder / "pipeline_onelayer.py").exists()

    kwargs = {"num_beams": 2, "max_new_tokens": 10} if kind == "onelayer_seq2seq" else {}
    if kind == "onelayer_seq2seq":
        enc = tok(SOURCES[:3], padding=True, return_tensors="pt")
        expected = tok.batch_decode(model.generate(**enc, **kwargs), skip_special_tokens=True)
    else:
        expected = translate(model, tok, SOURCES[:3])
    here = OneLayerTranslationPipeline(model=model, tokenizer=tok)
    assert [t["translation_text"] for t in here(SOURCES[:3], **kwargs)] == expected

    script = tmp_path / "child.py"
    script.write_text(CHILD if kind == "onelayer_translator" else CHILD.replace("translator(sys.argv[2])",
                                                                   "translator(sys.argv[2], num_beams=2, max_new_tokens=10)")
                      .replace("translator(json.loads(sys.argv[3]))",
                               "translator(json.loads(sys.argv[3]), num_beams=2, max_new_tokens=10)"))
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules"), "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, str(script), str(folder), SOURCES[0], json.dumps(SOURCES[:3])],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    reply = json.loads(result.stdout.strip().splitlines()[-1])
    assert reply["module"].startswith("transformers_modules") and reply["task"] == PIPELINE_TASK
    assert reply["one"] == [{"translation_text": expected[0]}]
    assert reply["many"] == [{"translation_text": text} for text in expected]


def test_pipeline_refuses_what_is_not_text(tmp_path):
    model, tok, _ = saved_pipeline("onelayer_translator", tmp_path)
    with pytest.raises(TypeError, match="takes source-language text"):
        OneLayerTranslationPipeline(model=model, tokenizer=tok)(123)
