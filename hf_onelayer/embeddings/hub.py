"""Pretrained vectors on the Hub: ``KIND:hf://OWNER/REPO[@REVISION][/PATH]`` (``PATH@REVISION`` works too).

huggingface_hub resolves and caches the files (``hf_hub_download``). The layouts that exist on the Hub:

* a plain GloVe / word2vec / fastText text or binary file: ``/PATH``, or the repo's only such file;
* sentence-transformers' ``average_word_embeddings_*``: ``0_WordEmbeddings/whitespacetokenizer_config.json``
  (the vocabulary) and ``emb_layer.weight`` in ``model.safetensors`` or ``pytorch_model.bin`` (read with
  ``weights_only=True``, so no pickled code runs). Only our words' rows are read;
* fastText's ``facebook/fasttext-*-vectors``: ``model.bin`` (Facebook's format), of which only our words'
  rows and their character n-grams' rows are read (words outside its vocabulary get their n-grams' mean);
* gensim ``KeyedVectors`` repos (``NAME.model`` + ``NAME.model.vectors.npy``): pickles, refused unless
  ``--allow_pickle``.

Offline (``HF_HUB_OFFLINE=1``) a Hub location fails at once, saying how to pass a local file instead.
"""

import json
import os
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import UserError
from .vectors import PICKLE_SUFFIXES, DiskRows, VectorFileError, Vectors, _Keeper, _kept, read_vectors

PREFIX = "hf://"
ST_FOLDER = "0_WordEmbeddings"
ST_VOCAB = f"{ST_FOLDER}/whitespacetokenizer_config.json"
ST_WEIGHTS = (f"{ST_FOLDER}/model.safetensors", f"{ST_FOLDER}/pytorch_model.bin")
FASTTEXT_BIN = "model.bin"
VECTOR_SUFFIXES = (".txt", ".vec", ".bin", ".w2v")


@dataclass
class HubLocation:
    repo_id: str
    path: str | None = None
    revision: str | None = None

    def __str__(self) -> str:
        return f"{PREFIX}{self.repo_id}{'@' + self.revision if self.revision else ''}{'/' + self.path if self.path else ''}"


def parse_location(location: str) -> HubLocation | None:
    """``hf://OWNER/REPO[@REV][/PATH]`` or ``hf://OWNER/REPO/PATH@REV``; None for anything else (a local path)."""
    if not location.startswith(PREFIX):
        return None
    parts = location[len(PREFIX):].split("/")
    if len(parts) < 2 or not all(parts[:2]):
        raise VectorFileError(f"{location}: a Hub location is hf://OWNER/REPO[@REVISION][/PATH]")
    owner, name, path = parts[0], parts[1], "/".join(parts[2:]) or None
    revision = None
    if "@" in name:
        name, revision = name.split("@", 1)
    elif path and "@" in path.rsplit("/", 1)[-1]:
        path, revision = path.rsplit("@", 1)
    return HubLocation(f"{owner}/{name}", path, revision or None)


def check_online(kind: str, location: HubLocation) -> None:
    """Fail at once when the Hub cannot be reached by configuration, naming the local alternative."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        file = location.path or "the vector file"
        raise UserError(f"{kind}:{location}: the Hub is offline (HF_HUB_OFFLINE=1); download {file} from "
                        f"{location.repo_id} yourself and pass {kind}:/path/to/{os.path.basename(file)}")


def _download(location: HubLocation, filename: str) -> str:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        return hf_hub_download(location.repo_id, filename, revision=location.revision)
    except (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError) as error:
        raise VectorFileError(f"{location}: {type(error).__name__} for {filename} "
                              f"({' '.join(str(error).split())[:160]})") from None


def _files(location: HubLocation) -> list[str]:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        return HfApi().list_repo_files(location.repo_id, revision=location.revision)
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        raise VectorFileError(f"{location}: {type(error).__name__} ({' '.join(str(error).split())[:160]})") from None


def layout(files: list[str], kind: str) -> tuple[str, str]:
    """(layout, file) of a repo without /PATH: sentence-transformers, gensim, fastText's model.bin, or one vector file."""
    names = set(files)
    if ST_VOCAB in names and names & set(ST_WEIGHTS):
        return "sentence-transformers", next(w for w in ST_WEIGHTS if w in names)
    pickles = [f for f in files if f.endswith(PICKLE_SUFFIXES)]
    if pickles:
        return "gensim", pickles[0]
    if kind == "fasttext" and FASTTEXT_BIN in names:
        return "file", FASTTEXT_BIN  # a Facebook .bin model: read_vectors tells it by its magic number
    candidates = [f for f in files if f.endswith(VECTOR_SUFFIXES)]
    if len(candidates) == 1:
        return "file", candidates[0]
    found = ", ".join(candidates) if candidates else ", ".join(files[:10]) or "no files"
    raise VectorFileError(f"no single vector file to take ({found}); add /PATH to name one")


def hub_vectors(kind: str, location: HubLocation, wanted: set[str], allow_pickle: bool = False) -> Vectors:
    """Vectors of the ``wanted`` words from a Hub location (see the module docstring)."""
    check_online(kind, location)
    if location.path:
        where, name = "file", location.path
    else:
        try:
            where, name = layout(_files(location), kind)
        except VectorFileError as error:
            raise VectorFileError(f"{kind}:{location}: {error}") from None
    if where == "sentence-transformers":
        vocabulary = json.load(open(_download(location, ST_VOCAB), encoding="utf-8"))["vocab"]
        return read_embedding_table(_download(location, name), vocabulary, wanted)
    if where == "gensim":
        if not allow_pickle:
            raise VectorFileError(f"{kind}:{location}: {name} is a pickled gensim model; refusing to unpickle it (it "
                                  "can run code). Pass --allow_pickle if you trust the repo.")
        for extra in _files(location):  # the arrays gensim saves beside the pickle
            if extra.startswith(name + "."):
                _download(location, extra)
    return read_vectors(kind, _download(location, name), wanted, allow_pickle)


SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def safetensors_rows(path: str, key: str) -> DiskRows:
    """The tensor ``key`` of a safetensors file, its rows read on demand (only its header is read here)."""
    with open(path, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(size))
    if key not in header:
        raise VectorFileError(f"{path}: no tensor {key!r} (has {', '.join(k for k in header if k != '__metadata__')})")
    info = header[key]
    if info["dtype"] not in SAFETENSORS_DTYPES:
        raise VectorFileError(f"{path}: {key} has dtype {info['dtype']}; float32, float16 or float64 is read")
    return DiskRows(path, 8 + size + info["data_offsets"][0], info["shape"], SAFETENSORS_DTYPES[info["dtype"]])


def read_embedding_table(path: str, vocabulary: list[str], wanted: set[str], key: str = "emb_layer.weight") -> Vectors:
    """Rows of a (V, D) embedding table (sentence-transformers' ``WordEmbeddings``) for the ``wanted`` words;
    row i belongs to ``vocabulary[i]``. Only the kept rows are read (safetensors: one ``pread`` each; a torch
    file: memory-mapped)."""
    if path.endswith(".safetensors"):
        table = safetensors_rows(path, key)
    else:  # a zip-format torch file: weights_only refuses any pickled object but tensors
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception as error:  # pickle.UnpicklingError for anything but tensors and plain containers
            raise VectorFileError(f"{path}: refused: it pickles more than tensors, and only tensors are read "
                                  f"(weights_only; {' '.join(str(error).split())[:100]})") from None
        if key not in state:
            raise VectorFileError(f"{path}: no tensor {key!r}")
        table = state[key].numpy()
    if table.ndim != 2 or table.shape[0] != len(vocabulary):
        raise VectorFileError(f"{path}: {key} has shape {tuple(table.shape)} but the vocabulary has {len(vocabulary)} words")
    keeper = _Keeper(wanted)
    for i, word in enumerate(vocabulary):
        keeper.offer(word, lambda i=i: _kept(keeper, table[i], f"{path}: row {i} ({vocabulary[i]!r})"))
    return keeper.result(table.shape[1], len(vocabulary))


__all__ = ["HubLocation", "parse_location", "check_online", "hub_vectors", "layout", "read_embedding_table"]
