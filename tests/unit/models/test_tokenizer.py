import pytest
from transformers import AutoTokenizer
from conftest import SOURCES, TARGETS

from hf_onelayer import OneLayerTranslatorTokenizer
from hf_onelayer.models.tokenization_onelayer import detokenize, train_word_level


def test_sources_and_targets_use_their_own_vocabulary(small_tokenizer):
    tok = small_tokenizer
    enc = tok(SOURCES[:2], text_target=TARGETS[:2])
    assert set(enc) == {"input_ids", "attention_mask", "labels"}
    src_words = tok.source.encode(SOURCES[0], add_special_tokens=False).tokens
    assert [tok.source.id_to_token(i) for i in enc["input_ids"][0][1:-1]] == src_words
    assert [tok.target.id_to_token(i) for i in enc["labels"][0][1:-1]] == ["a", "man", "rides", "a", "bike", "."]
    assert enc["input_ids"][0][0] == tok.bos_token_id and enc["input_ids"][0][-1] == tok.eos_token_id
    # after text_target the tokenizer is back on the source side
    assert tok("Zwei Hunde")["input_ids"] == [2, tok.source.token_to_id("zwei"), tok.source.token_to_id("hunde"), 3]
    assert tok.source.get_vocab() != tok.target.get_vocab()
    assert tok.src_vocab_size == tok.source.get_vocab_size() and tok.tgt_vocab_size == tok.target.get_vocab_size()


def test_special_tokens_have_fixed_ids(small_tokenizer):
    tok = small_tokenizer
    assert (tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2, 3)
    for side in (tok.source, tok.target):
        assert [side.id_to_token(i) for i in range(4)] == ["<pad>", "<unk>", "<s>", "</s>"]


def test_normalisation_lowercase_nfkc_and_punctuation_split():
    tok = train_word_level(["Ｃafé, ok!"], min_frequency=1)  # full-width C folds to c under NFKC
    assert tok.encode("CAFÉ, OK!", add_special_tokens=False).tokens == ["café", ",", "ok", "!"]
    assert tok.encode("Ｃafé", add_special_tokens=False).tokens == ["café"]


def test_min_frequency_two_maps_rare_words_to_unk(small_tokenizer):
    rare = OneLayerTranslatorTokenizer.train_new(["a a b"], ["x x y"], min_frequency=2)
    assert rare(text_target="x y")["input_ids"] == [2, rare.target.token_to_id("x"), 1, 3]
    assert rare.target.token_to_id("y") is None


def test_batch_decode_gives_readable_english(small_tokenizer):
    tok = small_tokenizer
    labels = tok(text_target=TARGETS)["input_ids"]
    decoded = tok.batch_decode(labels, skip_special_tokens=True)
    assert decoded == [t.lower() for t in TARGETS]
    assert tok.decode(labels[0]) == "<s> a man rides a bike. </s>"


def test_detokenize_rules():
    assert detokenize("a man ' s t - shirt , ( red ) !".split()) == "a man's t-shirt, (red)!"


def test_padding_and_tensors(small_tokenizer):
    enc = small_tokenizer(SOURCES[:3], padding=True, return_tensors="pt")
    assert enc["input_ids"].shape[0] == 3
    lengths = enc["attention_mask"].sum(1).tolist()
    assert max(lengths) == enc["input_ids"].shape[1] and min(lengths) < max(lengths)
    assert (enc["input_ids"][enc["attention_mask"] == 0] == 0).all()


def test_save_and_load_with_auto_tokenizer(small_tokenizer, tmp_path):
    small_tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "source_tokenizer.json").exists() and (tmp_path / "target_tokenizer.json").exists()
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert isinstance(loaded, OneLayerTranslatorTokenizer)
    assert loaded(SOURCES, text_target=TARGETS) == small_tokenizer(SOURCES, text_target=TARGETS)
    assert loaded.get_vocab() == small_tokenizer.get_vocab()


def test_each_vocabulary_keeps_its_own_special_ids():
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit

    from hf_onelayer.factory import special_token_ids

    other = Tokenizer(WordLevel({"<unk>": 0, "<pad>": 1, "<s>": 2, "</s>": 3, "b": 4}, unk_token="<unk>"))
    other.pre_tokenizer = WhitespaceSplit()
    tok = OneLayerTranslatorTokenizer(source_tokenizer=train_word_level(["a b"], min_frequency=1), target_tokenizer=other)
    # the public ids are the target's (the model's); the source keeps its own for encoding and padding
    assert special_token_ids(tok) == {"pad_token_id": 1, "unk_token_id": 0, "bos_token_id": 2, "eos_token_id": 3,
                                      "src_pad_token_id": 0}
    enc = tok(["a", "a b"], text_target=["b", "c b"], padding=True)
    assert enc["input_ids"][0][-1] == 0 and enc["labels"][0][-1] == 1  # each side padded with its own <pad>
    assert enc["labels"][1][1] == 0  # "c" is <unk> on the target side
    assert tok.pad([{"input_ids": [2, 3]}, {"input_ids": [2, 4, 3]}])["input_ids"][0] == [2, 3, 0]


def test_unreadable_tokenizer_file_names_the_file(tmp_path):
    path = tmp_path / "source_tokenizer.json"
    path.write_text("not json")
    with pytest.raises(ValueError, match="source_tokenizer.json"):
        OneLayerTranslatorTokenizer(source_tokenizer_file=str(path), target_tokenizer_file=str(path))


@pytest.fixture()
def wordpiece_tokenizer():
    return OneLayerTranslatorTokenizer.train_new(SOURCES * 2, TARGETS * 2, model="wordpiece", vocab_size=80,
                                                 min_frequency=1)


def test_wordpiece_spells_unseen_words_from_pieces_and_decodes_them(wordpiece_tokenizer, small_tokenizer):
    tok = wordpiece_tokenizer
    assert tok.tokenizer_model == "wordpiece" and small_tokenizer.tokenizer_model == "word"
    assert tok.tgt_vocab_size <= 80 and (tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2, 3)
    ids = tok(text_target=["Two bikes play."])["input_ids"][0]  # "bikes" never occurs in training
    pieces = tok.convert_target_ids_to_tokens(ids)
    assert tok.unk_token_id not in ids and any(p.startswith("##") for p in pieces)
    assert tok.batch_decode([ids], skip_special_tokens=True) == ["two bikes play."]
    word_ids = small_tokenizer(text_target=["Two bikes play."])["input_ids"][0]
    assert small_tokenizer.unk_token_id in word_ids  # the word-level vocabulary has no "bikes"
    # the source side has its own pieces
    src_pieces = tok.convert_source_ids_to_tokens(tok("Zwei Fahrräder.")["input_ids"])
    assert tok.unk_token_id not in tok("Zwei Fahrräder.")["input_ids"] and any(p.startswith("##") for p in src_pieces)


def test_detokenize_joins_wordpiece_continuations():
    assert detokenize(["two", "bi", "##k", "##es", "play", "."]) == "two bikes play."
    assert detokenize(["##es", "run"]) == "es run"  # a continuation with nothing before it stands alone


def test_wordpiece_save_and_load_keeps_the_pieces(wordpiece_tokenizer, tmp_path):
    wordpiece_tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.tokenizer_model == "wordpiece"
    assert loaded(SOURCES, text_target=TARGETS) == wordpiece_tokenizer(SOURCES, text_target=TARGETS)
    ids = loaded(text_target=["Two bikes play."])["input_ids"]
    assert loaded.batch_decode(ids, skip_special_tokens=True) == ["two bikes play."]


def test_unknown_tokenizer_model_is_refused():
    with pytest.raises(ValueError, match="'word', 'wordpiece', 'bpe'.*'unigram'"):
        OneLayerTranslatorTokenizer.train_new(SOURCES, TARGETS, model="unigram")


def _two_sizes():
    tok = OneLayerTranslatorTokenizer.train_new(SOURCES, TARGETS + ["zebras yawn"], min_frequency=1)
    assert tok.src_vocab_size != tok.tgt_vocab_size
    return tok


def test_add_tokens_and_len_agree_on_each_side_and_saving_keeps_them(tmp_path):
    tok = _two_sizes()
    src, tgt = tok.src_vocab_size, tok.tgt_vocab_size
    assert len(tok) == src and tok.add_tokens(["<name>", "Zebra"]) == 2 and tok.add_tokens(["<name>"]) == 0
    assert len(tok) == src + 2 == tok.src_vocab_size and tok.vocab_size == src  # vocab_size: without added tokens
    with tok.as_target_tokenizer():
        assert len(tok) == tgt + 2 and tok.convert_tokens_to_ids("<name>") == tgt
    assert tok.convert_tokens_to_ids("<name>") == src
    assert tok("ein <name> und zebra")["input_ids"][2] == src  # a word-level side lowercases: "zebra" matches
    assert tok.decode(tok(text_target="a <name>")["input_ids"], skip_special_tokens=True) == "a <name>"
    assert tok.decode([tgt]) == "<name>"  # decode reads target ids
    # a source larger than the target (release/course: 7,882 and 5,898 types): the source id of an added token lies
    # beyond the target vocabulary, and decode reads it as the token
    wide = OneLayerTranslatorTokenizer.train_new(SOURCES + ["Zebras gähnen laut und lange"], TARGETS, min_frequency=1)
    assert wide.src_vocab_size > wide.tgt_vocab_size and wide.add_tokens(["<name>"]) == 1
    assert wide.decode([wide.convert_tokens_to_ids("<name>")]) == "<name>" == wide.decode([len(wide) - 1])
    assert wide.decode(wide("<name>")["input_ids"], skip_special_tokens=True) == "<name>"
    with wide.as_target_tokenizer():
        assert wide.decode(wide("a <name>")["input_ids"], skip_special_tokens=True) == "a <name>"
    tok.save_pretrained(tmp_path)
    again = OneLayerTranslatorTokenizer.from_pretrained(tmp_path)
    assert len(again) == len(tok) and again("ein <name>")["input_ids"] == tok("ein <name>")["input_ids"]


def test_special_token_id_setters_set_the_id_and_the_token():
    tok = _two_sizes()  # the source and the target give the same id to different words
    word = tok.convert_target_ids_to_tokens([5])[0]
    assert tok.convert_source_ids_to_tokens([5])[0] != word
    tok.bos_token_id = 5
    assert (tok.bos_token, tok.bos_token_id) == (word, 5)  # the target's token of id 5, as the getter reads
    tok.pad_token_id = None
    assert tok.pad_token is None and tok.pad_token_id is None
    tok.eos_token = "</s>"
    assert tok.eos_token_id == 3


@pytest.mark.parametrize("model", ["bpe", "word"])
def test_a_new_special_token_given_at_load_survives_saving(model, tmp_path):
    from tokenizers import AddedToken

    trained = OneLayerTranslatorTokenizer.train_new(SOURCES, TARGETS + ["zebras yawn"], model=model, vocab_size=120,
                                                    min_frequency=1)
    trained.save_pretrained(tmp_path / "before")
    tok = OneLayerTranslatorTokenizer.from_pretrained(tmp_path / "before", eos_token=AddedToken("[NEW_EOS]", special=True))
    tok.save_pretrained(tmp_path / "after")
    again = OneLayerTranslatorTokenizer.from_pretrained(tmp_path / "after")
    assert again.eos_token == "[NEW_EOS]" and again.eos_token_id == tok.eos_token_id == tok.tgt_vocab_size - 1
    assert again(text_target="a man")["input_ids"][-1] == again.eos_token_id
    assert again.decode(again(text_target="a man")["input_ids"], skip_special_tokens=True) == "a man"


def test_convert_ids_and_tokens_are_consistent_on_each_side():
    tok = _two_sizes()
    german, english = ["ein", "mann", "fahrrad"], ["a", "man", "bike"]
    assert tok.convert_ids_to_tokens(tok.convert_tokens_to_ids(german)) == german
    with tok.as_target_tokenizer():
        assert tok.convert_ids_to_tokens(tok.convert_tokens_to_ids(english)) == english
        assert tok("a man")["input_ids"] == tok(text_target="a man")["input_ids"]  # encodes English inside
    ids = tok(text_target="a man rides a bike.")["input_ids"]
    assert tok.convert_target_ids_to_tokens(ids)[1:3] == ["a", "man"]
    assert tok.convert_source_ids_to_tokens(tok("ein mann")["input_ids"])[1:3] == ["ein", "mann"]
    assert tok.decode(ids, skip_special_tokens=True) == "a man rides a bike."  # decode reads the target side


def test_special_token_overrides(tmp_path):
    joint = OneLayerTranslatorTokenizer.train_new(SOURCES, TARGETS, model="bpe", vocab_size=120, min_frequency=1)
    joint.save_pretrained(tmp_path / "joint")
    tok = OneLayerTranslatorTokenizer.from_pretrained(tmp_path / "joint", pad_token="<p>", bos_token="<bos>")
    assert tok.pad_token == "<p>" and {tok.pad_token_id, tok.bos_token_id} == {len(joint), len(joint) + 1}
    ids = tok(["Ein Mann.", "Zwei Hunde spielen im Schnee."], padding=True)["input_ids"]
    assert ids[0][0] == tok.bos_token_id and ids[0][-1] == tok.pad_token_id
    with tok.as_target_tokenizer():
        assert tok.convert_tokens_to_ids("<p>") == tok.pad_token_id  # one id on both sides
    two = _two_sizes()
    two.save_pretrained(tmp_path / "two")
    eos = OneLayerTranslatorTokenizer.from_pretrained(tmp_path / "two", pad_token="</s>")  # in both vocabularies
    assert eos.pad_token_id == eos.eos_token_id == eos.src_pad_token_id == 3
    # new tokens on vocabularies of different sizes: each side gives them its next ids
    tok = OneLayerTranslatorTokenizer.from_pretrained(tmp_path / "two", pad_token="<p>", bos_token="<bos>",
                                                      eos_token="<eos>")
    src, tgt = two.src_vocab_size, two.tgt_vocab_size
    source_ids = {t: tok.convert_tokens_to_ids(t) for t in ("<p>", "<bos>", "<eos>")}
    assert sorted(source_ids.values()) == [src, src + 1, src + 2] and tok.src_pad_token_id == source_ids["<p>"]
    with tok.as_target_tokenizer():
        target_ids = {t: tok.convert_tokens_to_ids(t) for t in ("<p>", "<bos>", "<eos>")}
    assert sorted(target_ids.values()) == [tgt, tgt + 1, tgt + 2]
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == tuple(target_ids.values())  # the model's ids
    enc = tok(["Ein Mann.", "Zwei Hunde spielen im Schnee."], text_target=["A man.", "Two dogs play."], padding=True)
    ids, labels = enc["input_ids"][0], enc["labels"][0]
    assert (ids[0], ids[4], ids[-1]) == (source_ids["<bos>"], source_ids["<eos>"], source_ids["<p>"])
    assert (labels[0], labels[4], labels[-1]) == (target_ids["<bos>"], target_ids["<eos>"], target_ids["<p>"])
    assert tok.decode(labels, skip_special_tokens=True) == "a man."
    tok.save_pretrained(tmp_path / "saved")
    again = OneLayerTranslatorTokenizer.from_pretrained(tmp_path / "saved")
    assert again(["Ein Mann."], text_target=["A man."]) == tok(["Ein Mann."], text_target=["A man."])
    assert (again.pad_token_id, again.src_pad_token_id) == (target_ids["<p>"], source_ids["<p>"])
