"""Multi30k German->English data: loading with `datasets`, tokenisation, dynamic padding.

Three sources give one ``DatasetDict`` with splits ``train`` / ``validation`` / ``test`` and
string columns ``de`` and ``en``:

* a Hub dataset id (default ``bentrevett/multi30k``, columns ``de`` / ``en``);
* a local folder of raw Multi30k files ``{split}.{lang}``: ``train``, ``val``, ``test_2016_flickr``;
* JSON-lines files of ``{"translation": {"de": ..., "en": ...}}`` (as run_translation.py takes).

Bad files fail with the file and line at fault. Sentences longer than the position limit are
truncated and counted (logged and returned), never silently.
"""

import json
import logging
import os
from dataclasses import dataclass

import torch
from datasets import Dataset, DatasetDict, load_dataset

from .models.modeling_onelayer import decode_length
from .errors import UserError
from .utils import utf8_lines

logger = logging.getLogger(__name__)

DEFAULT_HUB_DATASET = "bentrevett/multi30k"
SOURCE_LANG, TARGET_LANG = "de", "en"
# Raw Multi30k file stems for each split name of the DatasetDict.
RAW_SPLIT_FILES = {"train": "train", "validation": "val", "test": "test_2016_flickr"}
# What users may type for a split.
SPLIT_ALIASES = {"train": "train", "val": "validation", "validation": "validation", "test": "test",
                 "test_2016_flickr": "test"}


class DataError(UserError):
    """A data file is malformed; the message names the file and line."""


def canonical_split(name: str) -> str:
    """The DatasetDict key of a split a user names: train/validation/test, or any other file stem as is."""
    return SPLIT_ALIASES.get(name, name)


def _read_lines(path: str) -> list[str]:
    """The sentences of a one-per-line file; a bad or empty line raises ``DataError`` naming it."""
    out = []
    for number, text in utf8_lines(path, DataError):
        if not text.strip():
            raise DataError(f"{path}:{number}: empty line (every line must hold one sentence)")
        out.append(text)
    return out


def read_parallel_files(source_path: str, target_path: str) -> Dataset:
    """Two line-aligned raw text files -> a Dataset with columns ``de`` and ``en``."""
    source, target = _read_lines(source_path), _read_lines(target_path)
    if len(source) != len(target):
        raise DataError(
            f"{source_path} has {len(source)} lines but {target_path} has {len(target)}: "
            "parallel files must have one sentence per line, line for line"
        )
    if not source:
        raise DataError(f"{source_path}: no sentences")
    return Dataset.from_dict({SOURCE_LANG: source, TARGET_LANG: target})


def read_jsonl(path: str) -> Dataset:
    """JSON lines of ``{"translation": {"de": ..., "en": ...}}`` -> a Dataset with ``de`` and ``en``."""
    rows = {SOURCE_LANG: [], TARGET_LANG: []}
    for number, line in enumerate(_read_lines(path), start=1):
        try:
            pair = json.loads(line)["translation"]
            texts = [pair[SOURCE_LANG], pair[TARGET_LANG]]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise DataError(
                f'{path}:{number}: expected {{"translation": {{"de": ..., "en": ...}}}} ({error!r})'
            ) from None
        if not all(isinstance(t, str) and t.strip() for t in texts):
            raise DataError(f"{path}:{number}: 'de' and 'en' must be non-empty strings")
        rows[SOURCE_LANG].append(texts[0])
        rows[TARGET_LANG].append(texts[1])
    return Dataset.from_dict(rows)


def load_local_folder(data_dir: str, splits=("train", "validation", "test")) -> DatasetDict:
    """The ``splits`` of a folder of raw files: train/val(idation)/test, or any NAME with NAME.de and NAME.en
    (e.g. test_2017_flickr); only the named splits are read."""
    if not os.path.isdir(data_dir):
        raise DataError(f"--data_dir {data_dir}: not a folder")
    out = {}
    for split in splits:
        key = canonical_split(split)
        stem = os.path.join(data_dir, RAW_SPLIT_FILES.get(key, split))
        paths = (f"{stem}.{SOURCE_LANG}", f"{stem}.{TARGET_LANG}")
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise DataError(f"{data_dir}: missing {', '.join(missing)} for split {split!r}")
        out[key] = read_parallel_files(*paths)
    return DatasetDict(out)


def load_hub_dataset(dataset_name: str) -> DatasetDict:
    from huggingface_hub import constants

    hint = (
        f"cannot load the Hub dataset {dataset_name!r} {{why}}. Pass a local folder of Multi30k raw files "
        "instead, e.g. `--data_dir ../shared/data/multi30k` (files train.de/.en, val.de/.en, "
        "test_2016_flickr.de/.en), or JSON lines with --train_file/--validation_file."
    )
    if constants.HF_HUB_OFFLINE:
        raise ConnectionError(hint.format(why="because HF_HUB_OFFLINE=1"))
    try:
        dataset = load_dataset(dataset_name)
    except (ConnectionError, OSError) as error:
        raise ConnectionError(hint.format(why=f"({error})")) from error
    for split, ds in dataset.items():
        missing = {SOURCE_LANG, TARGET_LANG} - set(ds.column_names)
        if missing:
            raise DataError(f"Hub dataset {dataset_name!r} split {split!r} lacks columns {sorted(missing)}")
    return DatasetDict({s: ds.select_columns([SOURCE_LANG, TARGET_LANG]) for s, ds in dataset.items()})


def load_translation_data(
    data_dir: str | None = None,
    dataset_name: str | None = None,
    train_file: str | None = None,
    validation_file: str | None = None,
    test_file: str | None = None,
    splits=("train", "validation", "test"),
) -> DatasetDict:
    """Load from JSON lines if any file is given, else the ``splits`` of a local folder, else the Hub id."""
    files = {"train": train_file, "validation": validation_file, "test": test_file}
    if any(files.values()):
        if data_dir:
            raise DataError("--data_dir and JSON-lines files (--train_file ...): give one source of data, not both")
        return DatasetDict({split: read_jsonl(path) for split, path in files.items() if path})
    if data_dir:
        return load_local_folder(data_dir, splits)
    dataset = load_hub_dataset(dataset_name or DEFAULT_HUB_DATASET)
    keys = [canonical_split(s) for s in splits]
    missing = [k for k in keys if k not in dataset]
    if missing:
        raise DataError(f"Hub dataset {dataset_name or DEFAULT_HUB_DATASET!r} has no split {missing[0]!r} "
                        f"(it has {', '.join(dataset)})")
    return DatasetDict({k: dataset[k] for k in keys})


@dataclass
class TokenizedSplit:
    dataset: Dataset  # columns: input_ids, attention_mask, labels, (and the raw de/en)
    n_truncated: int


def tokenize_split(dataset: Dataset, tokenizer, max_length: int, desc: str = "tokenize",
                   decoder: bool = False) -> TokenizedSplit:
    """Encode sources and targets; ``labels`` get -100 at the leading BOS (nothing to predict there),
    or, for a ``decoder`` (which is fed the BOS), leave it out.

    Sequences over ``max_length`` tokens keep their first ``max_length - 1`` tokens and the EOS;
    the number of sentence pairs so truncated is returned and logged.
    """
    eos = tokenizer.eos_token_id

    def encode(batch):
        enc = tokenizer(batch[SOURCE_LANG], text_target=batch[TARGET_LANG])
        truncated = []
        for key in ("input_ids", "labels"):
            for i, ids in enumerate(enc[key]):
                if len(ids) > max_length:
                    enc[key][i] = ids[: max_length - 1] + [eos]
                    truncated.append(i)
        enc["attention_mask"] = [[1] * len(ids) for ids in enc["input_ids"]]
        enc["labels"] = [ids[1:] if decoder else [-100] + ids[1:] for ids in enc["labels"]]
        enc["truncated"] = [i in truncated for i in range(len(enc["input_ids"]))]
        return enc

    encoded = dataset.map(encode, batched=True, desc=desc)
    n_truncated = sum(encoded["truncated"])
    if n_truncated:
        logger.warning(
            "%s: %d of %d sentence pairs were longer than %d tokens and were truncated",
            desc, n_truncated, len(encoded), max_length,
        )
    return TokenizedSplit(encoded.remove_columns("truncated"), n_truncated)


@dataclass
class TranslationCollator:
    """Dynamic padding of sources and labels to one common length per batch.

    Inputs are padded with ``pad_token_id`` (attention mask 0) and labels with -100, to the longest
    of the sources and targets in the batch (``pad_to_multiple_of`` rounds it up, ``fixed_length``
    pads every batch to one length instead). With ``decoding_positions`` the width also covers
    :func:`decode_length` of every source, so evaluation reads the same positions as translation.
    """

    pad_token_id: int
    config: object = None
    decoding_positions: bool = False
    pad_to_multiple_of: int | None = None
    fixed_length: int | None = None

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        lengths = [max(len(f["input_ids"]), len(f.get("labels", ()))) for f in features]
        if self.decoding_positions:
            lengths += [decode_length(len(f["input_ids"]), self.config) for f in features]
        width = max(lengths)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        if self.fixed_length:
            if width > self.fixed_length:
                raise ValueError(f"a batch needs {width} positions, more than fixed_length={self.fixed_length}")
            width = self.fixed_length
        def pad(rows, value):  # one tensor built from padded lists: no per-row copies
            return torch.tensor([list(row) + [value] * (width - len(row)) for row in rows], dtype=torch.long)

        sources = [f["input_ids"] for f in features]
        batch = {
            "input_ids": pad(sources, self.pad_token_id),
            "attention_mask": pad([[1] * len(ids) for ids in sources], 0),
        }
        if "labels" in features[0]:
            batch["labels"] = pad([f["labels"] for f in features], -100)
        return batch
