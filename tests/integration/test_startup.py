"""A light start: ``import hf_onelayer`` imports neither torch nor transformers, yet transformers' Auto classes know
our models as soon as a user's code uses them (no trust_remote_code), whichever is imported first."""

import json
import subprocess
import sys

import pytest
from conftest import REPO

HEAVY = "sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers'})"
LOAD = """
from transformers import AutoModel, AutoModelForSeq2SeqLM, AutoTokenizer
course = AutoModel.from_pretrained({course!r})
seq2seq = AutoModelForSeq2SeqLM.from_pretrained({seq2seq!r})
tok = AutoTokenizer.from_pretrained({seq2seq!r})
print(json.dumps([type(x).__module__ for x in (course, seq2seq, tok)]))
"""


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd="/")
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.splitlines()[-1]


def test_import_hf_onelayer_imports_neither_torch_nor_transformers():
    assert _python(f"import sys, hf_onelayer; print({HEAVY})") == "[]"
    # a name that needs them imports them, and registers our kinds
    assert _python("import hf_onelayer; print(hf_onelayer.OneLayerSeq2SeqConfig.model_type, "
                   "hf_onelayer.PIPELINE_TASK)") == "onelayer_seq2seq onelayer-translation"


@pytest.mark.parametrize("first", ["hf_onelayer", "transformers"])
def test_our_folders_load_through_the_auto_classes_without_remote_code(first):
    load = LOAD.format(course=str(REPO / "release" / "course"), seq2seq=str(REPO / "release" / "seq2seq"))
    # transformers first: its Auto classes are loaded before hf_onelayer is imported
    order = "import hf_onelayer" if first == "hf_onelayer" else "from transformers import AutoModel\nimport hf_onelayer"
    modules = json.loads(_python(f"import json, sys\n{order}\n{load}"))
    assert modules == ["hf_onelayer.models.modeling_onelayer", "hf_onelayer.models.modeling_seq2seq",
                       "hf_onelayer.models.tokenization_onelayer"]


def test_help_of_every_command_needs_neither_torch_nor_transformers():
    from hf_onelayer.cli import help_lines

    for command, sub in help_lines().values():
        argv = [command, *([sub] if sub else []), "--help"]
        code = f"import sys; from hf_onelayer.cli import main; main({argv!r}); print({HEAVY})"
        assert _python(code) == "[]", argv
