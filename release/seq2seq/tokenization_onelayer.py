"""One tokenizer object for both sides of the translator, the way Marian's tokenizer works.

``tok(texts)`` encodes German sources, ``tok(text_target=texts)`` encodes English targets (as
``labels``), and ``tok.batch_decode(ids, skip_special_tokens=True)`` gives readable English.
Each side is a `tokenizers` model (Unicode NFKC + lowercase, words split from punctuation) trained
on the training split by :meth:`train_new`: word-level with ``min_frequency=2`` (the course's
vocabulary, the default), or sub-word WordPiece (``model="wordpiece"``, BERT-style ``##``
continuation pieces, ``vocab_size`` types per side) so that rare words are spelled from pieces
instead of becoming ``<unk>``. ``model="bpe"`` trains one joint, cased BPE vocabulary of both
languages (SentencePiece-style ``▁`` word starts, NFKC only) for both sides: the encoder–decoder's.

This file is copied into every saved folder (remote code), so it imports only third-party
libraries, never ``hf_onelayer`` by name.
"""

import os
import re
from contextlib import contextmanager

from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE, WordLevel, WordPiece
from tokenizers.trainers import BpeTrainer, WordLevelTrainer, WordPieceTrainer
from transformers import PreTrainedTokenizer

SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>")
TOKENIZER_MODELS = ("word", "wordpiece", "bpe")
CONTINUATION = "##"  # WordPiece prefix of a piece that continues the previous one

# Detokenisation of word-level English: no space before closing punctuation, none after opening
# brackets, contractions and hyphenated words re-joined.
_DETOKENIZE = (
    (re.compile(r" ([.,!?;:%)\]}])"), r"\1"),
    (re.compile(r"([(\[{]) "), r"\1"),
    (re.compile(r" ' (s|t|re|ve|ll|d|m)\b"), r"'\1"),
    (re.compile(r"(\w) - (\w)"), r"\1-\2"),
)


def detokenize(tokens: list[str]) -> str:
    """Readable text from tokens: WordPiece ``##`` pieces joined to the piece before, then the rules above."""
    text = " ".join(tokens).replace(" " + CONTINUATION, "")
    if text.startswith(CONTINUATION):
        text = text[len(CONTINUATION):]
    for pattern, replacement in _DETOKENIZE:
        text = pattern.sub(replacement, text)
    return text


def word_splitter():
    """(normalizer, pre-tokenizer): NFKC + lowercase, then words split from punctuation."""
    return normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]), pre_tokenizers.BertPreTokenizer()


def train_word_level(texts, min_frequency: int = 2) -> Tokenizer:
    """A word-level `tokenizers.Tokenizer` trained on ``texts``; special tokens get ids 0-3."""
    tokenizer = Tokenizer(WordLevel(unk_token="<unk>"))
    tokenizer.normalizer, tokenizer.pre_tokenizer = word_splitter()
    trainer = WordLevelTrainer(min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def train_wordpiece(texts, vocab_size: int = 8000, min_frequency: int = 2) -> Tokenizer:
    """A WordPiece `tokenizers.Tokenizer` (``##`` continuation pieces) of at most ``vocab_size`` types.

    Same normalisation and word splitting as :func:`train_word_level`; special tokens get ids 0-3.
    ``min_frequency`` applies to the pieces, so a rare word is spelled from frequent pieces.
    """
    tokenizer = Tokenizer(WordPiece(unk_token="<unk>", continuing_subword_prefix=CONTINUATION))
    tokenizer.normalizer, tokenizer.pre_tokenizer = word_splitter()
    # for users of the raw `tokenizers` file; OneLayerTranslatorTokenizer decodes with detokenize(), which
    # also drops the prefix of a continuation piece predicted first (this decoder keeps it)
    tokenizer.decoder = decoders.WordPiece(prefix=CONTINUATION)
    trainer = WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS),
                               continuing_subword_prefix=CONTINUATION, show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def train_joint_bpe(texts, vocab_size: int = 8000, min_frequency: int = 2) -> Tokenizer:
    """One cased BPE `tokenizers.Tokenizer` of at most ``vocab_size`` types for both languages.

    NFKC only (case kept), words marked by a leading ``▁`` (Metaspace) and punctuation split off, so
    the Metaspace decoder gives the plain text back; special tokens get ids 0-3.
    """
    tokenizer = Tokenizer(BPE(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
    tokenizer.decoder = decoders.Metaspace()
    trainer = BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS),
                         show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


class OneLayerTranslatorTokenizer(PreTrainedTokenizer):
    """Source and target vocabularies (``source_lang`` / ``target_lang``, German and English by default)
    behind one Hugging Face tokenizer.

    Sources are encoded ``<s> w1 ... wn </s>``; targets as ``target_special_tokens_pattern`` says: ``"eos"``
    (``w1 ... wn </s>``, the encoder–decoder's labels, as Marian's and T5's: the decoder starts from
    ``decoder_start_token_id`` itself) or ``"bos_eos"`` (``<s> w1 ... wn </s>``, the course model's, position by
    position beside the source; the default, and what folders saved without the field hold). So
    ``tok(src, text_target=tgt)`` gives the labels that the model trains on as they are. One side is in use at a
    time: the source, except while encoding ``text_target`` or inside :meth:`as_target_tokenizer`. ``len``,
    ``get_vocab``, ``convert_tokens_to_ids`` and ``convert_ids_to_tokens`` read the side in use; ``decode`` reads the
    target (outputs are English).

    Trained vocabularies give the special tokens the same ids: <pad>=0, <unk>=1, <s>=2, </s>=3. A special
    token added later (``from_pretrained(..., pad_token="<p>")``) gets each side's next id, so vocabularies
    of different sizes give it two ids. ``pad_token_id``, ``bos_token_id``, ``eos_token_id`` and
    ``unk_token_id`` are then the target's, the ids the model writes and its config holds (Trainer copies
    them into the config, ``generate`` stops at them); :attr:`src_pad_token_id` is the source's padding.
    Encoding and padding each side use that side's own ids.

    :meth:`convert_source_ids_to_tokens` and :meth:`convert_target_ids_to_tokens` name their side.
    ``add_tokens`` adds to both sides, each giving the next free id of its own; ``decode`` reads an added token's
    source id as that token too. The id setters (``tok.bos_token_id = i``) take target ids, as the getters give.
    """

    vocab_files_names = {
        "source_tokenizer_file": "source_tokenizer.json",
        "target_tokenizer_file": "target_tokenizer.json",
    }
    model_input_names = ["input_ids", "attention_mask"]
    _ids_follow_side = False  # True while encoding or padding: the special ids are then the side in use's

    def __init__(
        self,
        source_tokenizer_file: str | None = None,
        target_tokenizer_file: str | None = None,
        source_tokenizer: Tokenizer | None = None,
        target_tokenizer: Tokenizer | None = None,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        min_frequency: int | None = None,
        source_lang: str = "de",
        target_lang: str = "en",
        target_special_tokens_pattern: str | None = None,
        **kwargs,
    ):
        self.min_frequency = min_frequency  # recorded in tokenizer_config.json
        self.source_lang, self.target_lang = source_lang, target_lang  # the dataset columns (language codes), as Marian
        self.source = source_tokenizer if source_tokenizer is not None else _load(source_tokenizer_file, "source")
        self.target = target_tokenizer if target_tokenizer is not None else _load(target_tokenizer_file, "target")
        self._side = "source"  # the side in use: "source" or "target"
        self.target_special_tokens_pattern = target_special_tokens_pattern or "bos_eos"
        kwargs.setdefault("special_tokens_pattern", "bos_eos")
        kwargs.setdefault("clean_up_tokenization_spaces", False)
        # special tokens missing from a vocabulary (an override such as pad_token="<p>") are added to it here
        super().__init__(pad_token=pad_token, unk_token=unk_token, bos_token=bos_token, eos_token=eos_token,
                         min_frequency=min_frequency, source_lang=source_lang, target_lang=target_lang,
                         target_special_tokens_pattern=target_special_tokens_pattern, **kwargs)

    @classmethod
    def train_new(cls, source_texts, target_texts, min_frequency: int = 2, model: str = "word",
                  vocab_size: int = 8000, **kwargs) -> "OneLayerTranslatorTokenizer":
        """Train both vocabularies (use the training split only).

        ``model``: ``"word"`` (word-level, words seen fewer than ``min_frequency`` times are ``<unk>``),
        ``"wordpiece"`` (sub-word pieces, at most ``vocab_size`` types per side) or ``"bpe"`` (one
        joint cased vocabulary of ``vocab_size`` types for both sides).
        """
        if model == "bpe":
            source = target = train_joint_bpe(list(source_texts) + list(target_texts), vocab_size, min_frequency)
        elif model == "word":
            source, target = (train_word_level(texts, min_frequency) for texts in (source_texts, target_texts))
        elif model == "wordpiece":
            source, target = (train_wordpiece(texts, vocab_size, min_frequency) for texts in (source_texts, target_texts))
        else:
            raise ValueError(f"tokenizer model must be one of {TOKENIZER_MODELS}, got {model!r}")
        return cls(source_tokenizer=source, target_tokenizer=target, min_frequency=min_frequency, **kwargs)

    @property
    def tokenizer_model(self) -> str:
        """``"bpe"``, ``"wordpiece"`` or ``"word"``, read from the target vocabulary's `tokenizers` model."""
        return {BPE: "bpe", WordPiece: "wordpiece"}.get(type(self.target.model), "word")

    @property
    def is_joint(self) -> bool:
        """One vocabulary for both sides (ids mean the same token in German and English)."""
        return self.source is self.target or self.source.to_str() == self.target.to_str()

    # Marian-style switching: PreTrainedTokenizerBase.__call__ calls these around text_target.
    def _switch_to_input_mode(self):
        self._side = "source"

    def _switch_to_target_mode(self):
        self._side = "target"

    @property
    def _current(self) -> Tokenizer:
        """The `tokenizers` vocabulary of the side in use."""
        return self.target if self._side == "target" else self.source

    @property
    def special_tokens_pattern(self) -> str | None:
        """transformers' framing of an encoded sequence (``build_inputs_with_special_tokens``,
        ``get_special_tokens_mask``): the source's, or ``target_special_tokens_pattern`` on the target side."""
        return self.target_special_tokens_pattern if self._side == "target" else self._source_pattern

    @special_tokens_pattern.setter
    def special_tokens_pattern(self, value: str | None):
        self._source_pattern = value

    @contextmanager
    def as_target_tokenizer(self):
        """Within the block the target side is in use: ``tok(texts)`` encodes English, ``convert_*`` and
        ``len`` read the target vocabulary."""
        previous, inside = self._side, self._in_target_context_manager
        self._in_target_context_manager = True  # __call__ then keeps the side
        self._switch_to_target_mode()
        try:
            yield self
        finally:
            self._side, self._in_target_context_manager = previous, inside

    def _special_id(self, name: str) -> int | None:
        token = getattr(self, name)
        return None if token is None else (self._current if self._ids_follow_side else self.target).token_to_id(token)

    pad_token_id = property(lambda self: self._special_id("pad_token"), doc="<pad> of the target vocabulary.")
    bos_token_id = property(lambda self: self._special_id("bos_token"), doc="<s> of the target vocabulary.")
    eos_token_id = property(lambda self: self._special_id("eos_token"), doc="</s> of the target vocabulary.")
    unk_token_id = property(lambda self: self._special_id("unk_token"), doc="<unk> of the target vocabulary.")

    @property
    def src_pad_token_id(self) -> int | None:
        """<pad> of the source vocabulary: what pads ``input_ids``."""
        return None if self.pad_token is None else self.source.token_to_id(self.pad_token)

    @contextmanager
    def _ids_of_side_in_use(self):
        previous, self._ids_follow_side = self._ids_follow_side, True
        try:
            yield
        finally:
            self._ids_follow_side = previous

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None) -> list[int]:
        with self._ids_of_side_in_use():  # <s> ... </s> of the side being encoded
            return super().build_inputs_with_special_tokens(token_ids_0, token_ids_1)

    def _pad(self, *args, **kwargs) -> dict:
        with self._ids_of_side_in_use():  # tok.pad(...) pads input_ids with the source's <pad>
            return super()._pad(*args, **kwargs)

    @property
    def vocab_size(self) -> int:
        """Size of the side in use without added tokens (``len(tok)`` counts them)."""
        return self._current.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        return self._current.get_vocab_size(with_added_tokens=True)

    def _add_tokens(self, new_tokens, special_tokens: bool = False) -> int:
        """Add tokens to both vocabularies (their `tokenizers` files, so saving keeps them). Each side gives a new
        token its own next id. Returns how many tokens the side in use gained."""
        tokens = []
        for token in new_tokens or []:
            if isinstance(token, str):
                special = special_tokens or token in self.all_special_tokens
                token = AddedToken(token, special=special, normalized=not special)
            if str(token):
                tokens.append(token)
        before = len(self)
        for side in {id(self.source): self.source, id(self.target): self.target}.values():
            if special_tokens:
                side.add_special_tokens(tokens)
                continue
            # a normalised token is matched in normalised text ("Katze" in "katze" on a lowercasing side)
            side.add_tokens([AddedToken(side.normalizer.normalize_str(t.content), single_word=t.single_word,
                                        lstrip=t.lstrip, rstrip=t.rstrip, normalized=True, special=t.special)
                             if t.normalized and side.normalizer is not None else t for t in tokens])
        return len(self) - before

    @property
    def src_vocab_size(self) -> int:
        return self.source.get_vocab_size(with_added_tokens=True)

    @property
    def tgt_vocab_size(self) -> int:
        return self.target.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        return self._current.get_vocab(with_added_tokens=True)

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        return self._current.encode(text, add_special_tokens=False).tokens

    def _convert_token_to_id(self, token: str) -> int:
        index = self._current.token_to_id(token)
        return self._current.token_to_id(str(self.unk_token)) if index is None else index

    def _convert_id_to_token(self, index: int) -> str:
        if self._side == "target" and self.target.id_to_token(index) is None:
            # an added token's source id (``len(tok) - 1``, ``tok(text)``'s) decodes as the token: decode reads the
            # target side, where the same token has its own id
            added = self.source.get_added_tokens_decoder().get(index)
            if added is not None:
                return added.content
        return _token_of(self._current, index, self._side)

    def __setattr__(self, key, value):
        # ``tok.bos_token_id = i`` sets the token of target id i, as the getters read the target's ids
        if key.endswith("_token_id") and key[:-3] in self.SPECIAL_TOKENS_ATTRIBUTES and value is not None:
            key, value = key[:-3], self.convert_target_ids_to_tokens([value])[0]
        super().__setattr__(key, value)

    def _decode(self, token_ids, skip_special_tokens: bool = False, clean_up_tokenization_spaces=None, **kwargs) -> str:
        with self.as_target_tokenizer():  # the models write target text
            return super()._decode(token_ids, skip_special_tokens, clean_up_tokenization_spaces, **kwargs)

    def convert_source_ids_to_tokens(self, ids: list[int]) -> list[str]:
        """Source (German) tokens of ``ids``, e.g. to label attention heatmaps."""
        return [_token_of(self.source, int(i), "source") for i in ids]

    def convert_target_ids_to_tokens(self, ids: list[int]) -> list[str]:
        """Target (English) tokens of ``ids``, e.g. of a model's output."""
        return [_token_of(self.target, int(i), "target") for i in ids]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        if isinstance(self.target.decoder, decoders.Metaspace):
            return self.target.decoder.decode(tokens)  # "▁A ▁dog" -> "A dog": the text as it was
        return detokenize(tokens)

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str, ...]:
        prefix = f"{filename_prefix}-" if filename_prefix else ""
        paths = []
        for name, tokenizer in (("source_tokenizer_file", self.source), ("target_tokenizer_file", self.target)):
            path = os.path.join(save_directory, prefix + self.vocab_files_names[name])
            tokenizer.save(path)
            paths.append(path)
        return tuple(paths)


def _token_of(vocabulary: Tokenizer, index: int, side: str) -> str:
    """The token of ``index``; ``ValueError`` naming the id and the vocabulary's size when it has none."""
    token = vocabulary.id_to_token(index) if index >= 0 else None
    if token is None:
        size = vocabulary.get_vocab_size(with_added_tokens=True)
        raise ValueError(f"id {index} is outside the {side} vocabulary of size {size} (ids 0 to {size - 1})")
    return token


def _load(path: str | None, side: str) -> Tokenizer:
    if path is None:
        raise ValueError(
            f"OneLayerTranslatorTokenizer needs a {side} tokenizer: pass {side}_tokenizer_file or {side}_tokenizer, "
            "or build one with OneLayerTranslatorTokenizer.train_new"
        )
    try:
        return Tokenizer.from_file(path)
    except Exception as error:  # tokenizers raises a bare Exception on unreadable files
        raise ValueError(f"{path}: not a readable `tokenizers` JSON file ({error})") from error


__all__ = [
    "OneLayerTranslatorTokenizer", "train_word_level", "train_wordpiece", "train_joint_bpe", "detokenize", "SPECIAL_TOKENS",
]
