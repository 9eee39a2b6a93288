"""Shared fixtures. The environment is set before anything imports huggingface_hub: no test touches the network."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_EVALUATE_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)  # one thread per xdist worker: two workers on two cores, no oversubscription


def tiny_config(**overrides):
    """A tiny model in the style of transformers' model testers (vocab 99, hidden 32)."""
    from hf_onelayer import OneLayerTranslatorConfig

    values = dict(
        src_vocab_size=99, tgt_vocab_size=77, hidden_size=32, num_attention_heads=2, head_dim_qk=12,
        head_dim_v=8, intermediate_size=37, max_position_embeddings=20, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    values.update(overrides)
    return OneLayerTranslatorConfig(**values)


def tiny_model(seed=0, **overrides):
    from hf_onelayer import OneLayerTranslatorModel

    torch.manual_seed(seed)
    return OneLayerTranslatorModel(tiny_config(**overrides)).eval()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real Multi30k raw files (../shared/data/multi30k beside the checkout, or $HF_ONELAYER_DATA)."""
    path = Path(os.environ.get("HF_ONELAYER_DATA") or REPO.parent / "shared" / "data" / "multi30k")
    if not (path / "train.de").exists():
        if os.environ.get("CI"):
            pytest.fail(f"Multi30k data not found at {path}; CI must have it")
        pytest.skip(f"Multi30k data not found at {path}")
    return path


SOURCES = [
    "Ein Mann fährt Fahrrad.",
    "Zwei Hunde spielen im Schnee.",
    "Eine Frau spielt Gitarre auf der Straße.",
    "Ein Kind isst einen Apfel.",
    "Ein Mann und eine Frau gehen spazieren.",
    "Zwei Kinder spielen im Park.",
]
TARGETS = [
    "A man rides a bike.",
    "Two dogs play in the snow.",
    "A woman plays guitar on the street.",
    "A child eats an apple.",
    "A man and a woman go for a walk.",
    "Two children play in the park.",
]


def save_folder(model, tokenizer, folder: Path) -> dict:
    """``save_pretrained`` of both into ``folder``; returns the saved config.json."""
    import json

    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return json.loads((folder / "config.json").read_text())


@pytest.fixture()
def small_tokenizer():
    from hf_onelayer import OneLayerTranslatorTokenizer

    return OneLayerTranslatorTokenizer.train_new(SOURCES * 2, TARGETS * 2, min_frequency=2)


FRESH_PROCESS_CHILD = """
import json, sys
sys.modules["hf_onelayer"] = None  # any import of our package now fails
try:
    import hf_onelayer  # noqa: F401
except ImportError:
    pass
else:
    sys.exit("hf_onelayer is importable: the test would prove nothing")
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer

target, out, revision = sys.argv[1], sys.argv[2], sys.argv[4] or None
config = AutoConfig.from_pretrained(target, trust_remote_code=True, revision=revision)
model = AutoModel.from_pretrained(target, trust_remote_code=True, revision=revision).eval()
tok = AutoTokenizer.from_pretrained(target, trust_remote_code=True, revision=revision)
enc = tok(json.loads(sys.argv[3]), padding=True, return_tensors="pt")
with torch.no_grad():
    logits = model(**enc).logits
ids = model.translate_ids(enc["input_ids"], enc["attention_mask"])
torch.save({"logits": logits, "input_ids": enc["input_ids"], "decoded": tok.batch_decode(ids, skip_special_tokens=True),
            "classes": [type(c).__module__ for c in (config, model, tok)]}, out)
"""


def load_in_fresh_process(target: str, tmp_path: Path, revision: str | None = None, env: dict | None = None) -> dict:
    """Load ``target`` (a folder or Hub repo id) with trust_remote_code in a new Python process in which
    importing hf_onelayer fails; returns its logits, input ids, translations and class modules for SOURCES.
    The child's output (stdout + stderr) is returned under "output"."""
    import json
    import subprocess
    import sys

    script = tmp_path / "child.py"
    script.write_text(FRESH_PROCESS_CHILD)
    out = tmp_path / "child_out.pt"
    env = dict(env or os.environ, HF_MODULES_CACHE=str(tmp_path / "modules"), PYTHONPATH="")
    result = subprocess.run([sys.executable, str(script), target, str(out), json.dumps(SOURCES), revision or ""],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    child = torch.load(out)
    child["output"] = result.stdout + result.stderr
    return child


# --- the CLI, and the tiny data and runs that many tests share -------------------------------------

def cli(argv) -> int:
    """Run ``hf-onelayer ARGV`` in this process: its exit code (2: a user error, said in one line on stderr)."""
    from hf_onelayer.cli import main

    return main([str(a) for a in argv])


TINY = ["--hidden_size", "16", "--num_attention_heads", "2", "--head_dim_qk", "8", "--head_dim_v", "8",
        "--intermediate_size", "32", "--max_position_embeddings", "24", "--hidden_dropout_prob", "0",
        "--attention_probs_dropout_prob", "0", "--report_to", "none", "--disable_tqdm", "true",
        "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "8", "--min_frequency", "1"]


def write(path, text):
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny Multi30k-style folder: train, val and test_2016_flickr."""
    path = tmp_path_factory.mktemp("data")
    for stem in ("train", "val", "test_2016_flickr"):
        write(path / f"{stem}.de", "\n".join(SOURCES * 3) + "\n")
        write(path / f"{stem}.en", "\n".join(TARGETS * 3) + "\n")
    return path


def train_args(folder, out, *extra):
    return ["train", "--data_dir", str(folder), "--output_dir", str(out), *TINY, "--max_steps", "2",
            "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false", *extra]


@pytest.fixture(scope="module")
def model_dir(folder, tmp_path_factory):
    """A course model trained 2 steps on the tiny folder."""
    out = tmp_path_factory.mktemp("run") / "model"
    assert cli(train_args(folder, out)) == 0
    return out



# --- tiny encoder–decoders and saved pipelines ------------------------------------------------------

def tiny_seq2seq_config(**overrides):
    """A tiny encoder–decoder config (vocab 40, hidden 32)."""
    from hf_onelayer import OneLayerSeq2SeqConfig

    values = dict(vocab_size=40, hidden_size=32, num_attention_heads=2, head_dim_qk=12, head_dim_v=8,
                  intermediate_size=37, max_position_embeddings=24, hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0)
    values.update(overrides)
    return OneLayerSeq2SeqConfig(**values)


def tiny_seq2seq(seed=0, **overrides):
    """A random tiny model; its own head (a tied random one mostly repeats its input) with sharp logits, so
    that generation writes varied tokens."""
    from hf_onelayer import OneLayerSeq2SeqForConditionalGeneration

    torch.manual_seed(seed)
    config = tiny_seq2seq_config(**{"tie_word_embeddings": False, **overrides})
    model = OneLayerSeq2SeqForConditionalGeneration(config)
    if not model.config.tie_word_embeddings:
        with torch.no_grad():
            model.lm_head.weight.normal_(0, 1.0)
    return model.eval()


def batch(seed=1, rows=3, length=7, vocab=40):
    """(input ids, attention mask, labels) of 3 random rows, row 1 padded."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, vocab, (rows, length), generator=g)
    mask = torch.ones_like(ids)
    ids[1, 5:], mask[1, 5:] = 0, 0  # row 1 is padded
    labels = torch.randint(4, vocab, (rows, 6), generator=g)
    return ids, mask, labels


def joint_pair():
    """A joint BPE tokenizer and a tiny encoder–decoder sized to it."""
    from hf_onelayer import OneLayerTranslatorTokenizer

    tok = OneLayerTranslatorTokenizer.train_new(SOURCES * 3, TARGETS * 3, model="bpe", vocab_size=120, min_frequency=1,
                                                target_special_tokens_pattern="eos")
    return tiny_seq2seq(vocab_size=tok.tgt_vocab_size, max_position_embeddings=32), tok



def saved_pipeline(kind, tmp_path):
    """A tiny model of ``kind`` (a model_type) saved with its pipeline into ``tmp_path / kind``."""
    from hf_onelayer import OneLayerTranslatorTokenizer
    from hf_onelayer.trainer import save_pipeline

    if kind == "onelayer_translator":
        tok = OneLayerTranslatorTokenizer.train_new(SOURCES * 2, TARGETS * 2, min_frequency=2)
        model = tiny_model(src_vocab_size=tok.src_vocab_size, tgt_vocab_size=tok.tgt_vocab_size)
    else:
        tok = OneLayerTranslatorTokenizer.train_new(SOURCES * 2, TARGETS * 2, model="bpe", vocab_size=120,
                                                    min_frequency=1, target_special_tokens_pattern="eos")
        model = tiny_seq2seq(vocab_size=tok.tgt_vocab_size)
    folder = tmp_path / kind
    save_pipeline(model, tok, str(folder))
    return model, tok, folder


def pytest_collection_modifyitems(items):
    """Tests under tests/integration (real data, subprocesses, browsers) are marked ``slow``."""
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.slow)
