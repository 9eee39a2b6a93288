"""Pretrained vectors from the Hub (``glove:hf://OWNER/REPO``, ...): each layout that exists on the Hub is put,
tiny, on the local Hub server (tests/hub_server.py), and a model is trained from it in a process whose
HF_ENDPOINT points there."""

import json
import os
import secrets
import subprocess
import sys

import numpy as np
import pytest
import torch
from hub_server import LocalHub
from conftest import SOURCES, TARGETS

from hf_onelayer.cli import run
from hf_onelayer.embeddings.hub import HubLocation, layout, parse_location, read_embedding_table
from hf_onelayer.embeddings.vectors import VectorFileError, read_fasttext_binary, read_vectors

pytestmark = pytest.mark.xdist_group("hub")

DIM = 8
WORDS = ["mann", "frau", "hund", "hunde", "kind", "fahrrad", "spielen", "im", "zebra"]  # "zebra" is not ours


def table(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(len(WORDS), DIM)).astype(np.float32)


def glove_text(matrix: np.ndarray) -> bytes:
    return "".join(f"{w} {' '.join(f'{x:.6f}' for x in row)}\n" for w, row in zip(WORDS, matrix)).encode()


def word2vec_binary(matrix: np.ndarray) -> bytes:
    return f"{len(WORDS)} {DIM}\n".encode() + b"".join(w.encode() + b" " + row.tobytes() for w, row in zip(WORDS, matrix))


def sentence_transformers_files(matrix: np.ndarray, tmp_path, weights: str) -> dict[str, bytes]:
    from safetensors.torch import save_file

    path = tmp_path / weights
    if weights == "model.safetensors":
        save_file({"emb_layer.weight": torch.from_numpy(matrix)}, str(path))
    else:
        torch.save({"emb_layer.weight": torch.from_numpy(matrix)}, str(path))
    vocab = {"vocab": WORDS, "stop_words": [], "do_lower_case": False}
    return {"modules.json": b"[]", "0_WordEmbeddings/whitespacetokenizer_config.json": json.dumps(vocab).encode(),
            f"0_WordEmbeddings/{weights}": path.read_bytes(), "0_WordEmbeddings/wordembedding_config.json": b"{}"}


def fasttext_bin(tmp_path) -> bytes:
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    model = FastText(vector_size=DIM, min_count=1, bucket=500, seed=1, workers=1)
    sentences = [WORDS] * 5
    model.build_vocab(sentences)
    model.train(sentences, total_examples=len(sentences), epochs=1)
    save_facebook_model(model, str(tmp_path / "model.bin"))
    return (tmp_path / "model.bin").read_bytes()


def gensim_files(matrix: np.ndarray, tmp_path) -> dict[str, bytes]:
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=DIM)
    kv.add_vectors(WORDS, matrix)
    kv.save(str(tmp_path / "tiny.model"), sep_limit=0)  # the array beside the pickle, as big ones are
    return {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path) if name.startswith("tiny.model")}


def bert_files(folder) -> dict[str, bytes]:
    """A tiny BERT checkpoint whose WordPiece vocabulary has 3 of our words and one piece of a fourth."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "mann", "frau", "kind", "hund", "##e", "zebra"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=40)).save_pretrained(folder)
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_hub_locations_parse_with_revision_and_path():
    assert parse_location("hf://fse/glove-wiki") == HubLocation("fse/glove-wiki")
    assert parse_location("hf://o/r@v2/sub/vectors.txt") == HubLocation("o/r", "sub/vectors.txt", "v2")
    assert parse_location("hf://o/r/vectors.txt@v2") == HubLocation("o/r", "vectors.txt", "v2")
    assert str(parse_location("hf://o/r@v2/a.txt")) == "hf://o/r@v2/a.txt"
    assert parse_location("/data/glove.txt") is None
    with pytest.raises(VectorFileError, match="hf://OWNER/REPO"):
        parse_location("hf://only-owner")


def test_repo_layouts_are_told_apart():
    st = ["modules.json", "0_WordEmbeddings/whitespacetokenizer_config.json", "0_WordEmbeddings/model.safetensors"]
    assert layout(st, "glove") == ("sentence-transformers", "0_WordEmbeddings/model.safetensors")
    assert layout(["glove.model", "glove.model.vectors.npy"], "glove") == ("gensim", "glove.model")
    assert layout(["model.bin", "README.md"], "fasttext") == ("file", "model.bin")
    assert layout(["README.md", "vectors.txt"], "glove") == ("file", "vectors.txt")
    with pytest.raises(VectorFileError, match="\\(a.txt, b.txt\\); add /PATH"):
        layout(["a.txt", "b.txt"], "glove")


@pytest.mark.parametrize("weights", ["model.safetensors", "pytorch_model.bin"])
def test_sentence_transformers_tables_keep_only_our_words(tmp_path, weights):
    matrix = table()
    sentence_transformers_files(matrix, tmp_path, weights)  # writes tmp_path / weights
    target = tmp_path / weights
    vectors = read_embedding_table(str(target), WORDS, {"hund", "zebra", "katze"})
    assert sorted(vectors.words) == ["hund", "zebra"] and vectors.total_in_file == len(WORDS)
    np.testing.assert_array_equal(vectors.matrix[vectors.words.index("hund")], matrix[WORDS.index("hund")])
    with pytest.raises(VectorFileError, match="the vocabulary has 3 words"):
        read_embedding_table(str(target), WORDS[:3], {"hund"})


def test_a_torch_file_with_pickled_objects_is_refused(tmp_path):
    from argparse import Namespace

    torch.save({"emb_layer.weight": torch.zeros(2, 2), "x": Namespace(run="code")}, tmp_path / "pytorch_model.bin")
    with pytest.raises(VectorFileError, match="refused: it pickles more than tensors"):
        read_embedding_table(str(tmp_path / "pytorch_model.bin"), ["a", "b"], {"a"})


def test_fasttext_binary_gives_gensims_vectors_of_our_words(tmp_path):
    from gensim.models import FastText
    from gensim.models.fasttext import load_facebook_vectors, save_facebook_model

    words = WORDS + ["Männer", "straße", "fußball", "Über"]  # n-grams of several bytes; capitals
    model = FastText(vector_size=DIM, min_count=1, bucket=300, min_n=2, max_n=4, seed=1, workers=1)
    model.build_vocab([words] * 5)
    model.train([words] * 5, total_examples=5, epochs=2)
    save_facebook_model(model, str(tmp_path / "model.bin"))
    reference = load_facebook_vectors(str(tmp_path / "model.bin"))
    wanted = {"hund", "männer", "straße", "über", "fußball", "katze"}  # "katze": not in the model's vocabulary
    for vectors in (read_fasttext_binary(str(tmp_path / "model.bin"), wanted),
                    read_vectors("fasttext", str(tmp_path / "model.bin"), wanted)):  # a local .bin, told by content
        assert sorted(vectors.words) == sorted(wanted) and vectors.total_in_file == len(words)
        assert vectors.subword_words == 1  # "katze", from its character n-grams as gensim's kv["katze"]
        for word, row in zip(vectors.words, vectors.matrix):
            original = {"männer": "Männer", "über": "Über"}.get(word, word)  # matched lowercased
            np.testing.assert_allclose(row, reference[original], rtol=1e-5, atol=1e-6)
    (tmp_path / "cut.bin").write_bytes((tmp_path / "model.bin").read_bytes()[:120])
    with pytest.raises(VectorFileError, match="cut.bin: the dictionary is cut short after"):
        read_fasttext_binary(str(tmp_path / "cut.bin"), wanted)


def test_offline_a_hub_location_fails_at_once_naming_the_local_way(capsys, tmp_path):
    code = run("train", ["--data_dir", str(tmp_path), "--output_dir", str(tmp_path / "out"),
                         "--src_embeddings", "glove:hf://stanfordnlp/glove/glove.6B.50d.txt"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "HF_HUB_OFFLINE=1" in err[0] and "pass glove:/path/to/glove.6B.50d.txt" in err[0]
    assert not (tmp_path / "out").exists()


TRAIN = """
import json, sys
from hf_onelayer.cli import run
from safetensors import safe_open
for i, (spec, extra) in enumerate(json.loads(sys.argv[1])):
    out = f"{sys.argv[2]}/{i}"
    code = run("train", ["--data_dir", sys.argv[3], "--output_dir", out, "--min_frequency", "1", "--max_steps", "1",
                         "--learning_rate", "0", "--src_embeddings", spec, "--report_to", "none", "--disable_tqdm",
                         "true", *extra])
    row = {"spec": spec, "code": code}
    if code == 0:
        row["init"] = json.load(open(out + "/config.json"))["embedding_init"]
        with safe_open(out + "/model.safetensors", "pt") as weights:
            row["table_sum"] = float(weights.get_tensor("embeddings.embed_tokens.weight").sum())
    print(json.dumps(row))
"""


def test_train_from_every_hub_layout(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for stem in ("train", "val", "test_2016_flickr"):
        (data / f"{stem}.de").write_text("\n".join(SOURCES) + "\n", encoding="utf-8")
        (data / f"{stem}.en").write_text("\n".join(TARGETS) + "\n", encoding="utf-8")
    matrix = table()
    (tmp_path / "st").mkdir()
    (tmp_path / "kv").mkdir()
    (tmp_path / "ft").mkdir()
    token = "hf_" + secrets.token_hex(16)
    with LocalHub(token) as hub:
        hub.add_repo("tester/glove-tiny", {"README.md": b"# tiny", "glove.tiny.8d.txt": glove_text(matrix)})
        hub.add_repo("tester/glove-tiny", {"glove.tiny.8d.txt": glove_text(table(1))}, revision="v2")
        hub.add_repo("tester/word2vec-tiny", {"vectors.bin": word2vec_binary(matrix), "other.txt": b"x 1\n"})
        hub.add_repo("tester/average_word_embeddings_tiny", sentence_transformers_files(matrix, tmp_path / "st",
                                                                                        "model.safetensors"))
        hub.add_repo("tester/fasttext-de-vectors", {"model.bin": fasttext_bin(tmp_path / "ft")})
        hub.add_repo("tester/gensim-tiny", gensim_files(matrix, tmp_path / "kv"))
        hub.add_repo("tester/tiny-bert", bert_files(tmp_path / "bert"), revision="v1")
        specs = [
            ("glove:hf://tester/glove-tiny", []),
            ("glove:hf://tester/glove-tiny@v2", []),
            ("word2vec:hf://tester/word2vec-tiny/vectors.bin", []),
            ("glove:hf://tester/average_word_embeddings_tiny", []),
            ("fasttext:hf://tester/fasttext-de-vectors", []),
            ("word2vec:hf://tester/gensim-tiny", []),
            ("word2vec:hf://tester/gensim-tiny", ["--allow_pickle", "true"]),
            ("glove:hf://tester/no-such-repo", []),
            ("bert:hf://tester/tiny-bert@v1", []),
        ]
        env = {k: v for k, v in os.environ.items() if "OFFLINE" not in k and k != "HF_TOKEN"}
        env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf_home"), HF_HUB_DISABLE_TELEMETRY="1")
        result = subprocess.run([sys.executable, "-c", TRAIN, json.dumps(specs), str(tmp_path / "runs"), str(data)],
                                env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{\"spec\"")]
    assert [row["spec"] for row in rows] == [spec for spec, _ in specs]
    ours = {w for s in SOURCES for w in s.lower().replace(".", " ").split()}
    for row in rows[:5] + rows[6:7]:
        assert row["code"] == 0, (row["spec"], result.stderr[-2000:])
        src = row["init"]["src"]
        assert src["source"] == row["spec"] and src["dim"] == DIM and src["vectors_in_source"] == len(WORDS)
        if row["spec"].startswith("fasttext"):  # the .bin model also builds our other words from character n-grams
            assert src["covered_types"] == src["vocab_types"] == 7 + src["subword_words"]
        else:
            assert src["covered_types"] == len(ours & set(WORDS)) == 7  # "hund" and "zebra" are not our words
    assert rows[0]["table_sum"] != rows[1]["table_sum"]  # @v2 read the other branch's vectors
    assert rows[0]["table_sum"] == pytest.approx(rows[3]["table_sum"])  # same vectors as sentence-transformers
    assert rows[5]["code"] == 2 and "gensim-tiny: tiny.model is a pickled gensim model" in result.stderr
    assert rows[7]["code"] == 2 and "RepositoryNotFoundError" in result.stderr
    bert = rows[8]["init"]["src"]  # a checkpoint on branch v1 (main is empty): mann, frau, kind, hund+##e
    assert rows[8]["code"] == 0, result.stderr[-2000:]
    assert bert["kind"] == "bert" and bert["dim"] == 16 and bert["covered_types"] == 4 and bert["piece_mean_words"] == 1
