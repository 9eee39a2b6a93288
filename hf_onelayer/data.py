"""Translation data (Multi30k German->English by default): loading with `datasets`, tokenisation, dynamic padding.

Three sources give one ``DatasetDict`` with splits ``train`` / ``validation`` / ``test`` and one
string column per language, named by its code (``source_lang`` / ``target_lang``, default ``de`` / ``en``,
as in run_translation.py):

* a Hub dataset id (default ``bentrevett/multi30k``): a column per language, or a ``translation``
  column of ``{lang: text}`` dicts;
* a local folder of raw Multi30k files ``{split}.{lang}``: ``train``, ``val``, ``test_2016_flickr``
  (Multi30k also has ``fr`` and ``cs`` files);
* JSON-lines files of ``{"translation": {"de": ..., "en": ...}}`` (as run_translation.py takes).

The tokenizer records the pair (``tokenizer.source_lang`` / ``target_lang``), so later steps read
the right columns.

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
DEFAULT_SOURCE_LANG, DEFAULT_TARGET_LANG = "de", "en"  # the only place the default pair is written
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


def check_languages(source_lang: str, target_lang: str) -> None:
    if not source_lang or not target_lang or source_lang == target_lang:
        raise DataError(f"--source_lang {source_lang!r} and --target_lang {target_lang!r}: two different language codes")


def read_parallel_files(source_path: str, target_path: str, source_lang: str = DEFAULT_SOURCE_LANG,
                        target_lang: str = DEFAULT_TARGET_LANG) -> Dataset:
    """Two line-aligned raw text files -> a Dataset with a column per language."""
    source, target = _read_lines(source_path), _read_lines(target_path)
    if len(source) != len(target):
        raise DataError(
            f"{source_path} has {len(source)} lines but {target_path} has {len(target)}: "
            "parallel files must have one sentence per line, line for line"
        )
    if not source:
        raise DataError(f"{source_path}: no sentences")
    return Dataset.from_dict({source_lang: source, target_lang: target})


def read_jsonl(path: str, source_lang: str = DEFAULT_SOURCE_LANG, target_lang: str = DEFAULT_TARGET_LANG) -> Dataset:
    """JSON lines of ``{"translation": {"de": ..., "en": ...}}`` -> a Dataset with a column per language."""
    rows = {source_lang: [], target_lang: []}
    for number, line in enumerate(_read_lines(path), start=1):
        try:
            pair = json.loads(line)["translation"]
            texts = [pair[source_lang], pair[target_lang]]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise DataError(
                f'{path}:{number}: expected {{"translation": {{"{source_lang}": ..., "{target_lang}": ...}}}} ({error!r})'
            ) from None
        if not all(isinstance(t, str) and t.strip() for t in texts):
            raise DataError(f"{path}:{number}: '{source_lang}' and '{target_lang}' must be non-empty strings")
        rows[source_lang].append(texts[0])
        rows[target_lang].append(texts[1])
    return Dataset.from_dict(rows)


def load_local_folder(data_dir: str, splits=("train", "validation", "test"), source_lang: str = DEFAULT_SOURCE_LANG,
                      target_lang: str = DEFAULT_TARGET_LANG) -> DatasetDict:
    """The ``splits`` of a folder of raw files: train/val(idation)/test, or any NAME with NAME.{source_lang} and
    NAME.{target_lang} (e.g. test_2017_flickr); only the named splits are read."""
    if not os.path.isdir(data_dir):
        raise DataError(f"--data_dir {data_dir}: not a folder")
    out = {}
    for split in splits:
        key = canonical_split(split)
        stem = os.path.join(data_dir, RAW_SPLIT_FILES.get(key, split))
        paths = (f"{stem}.{source_lang}", f"{stem}.{target_lang}")
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise DataError(f"{data_dir}: missing {', '.join(missing)} for split {split!r}")
        out[key] = read_parallel_files(*paths, source_lang, target_lang)
    return DatasetDict(out)


def language_columns(dataset: Dataset, source_lang: str, target_lang: str, where: str) -> Dataset:
    """The two language columns of a Hub split: columns named by the codes, or a ``translation`` column of
    ``{lang: text}`` dicts (run_translation.py's layout)."""
    if {source_lang, target_lang} <= set(dataset.column_names):
        return dataset.select_columns([source_lang, target_lang])
    if "translation" in dataset.column_names:
        languages = set(dataset[0]["translation"]) if len(dataset) else set()
        if {source_lang, target_lang} <= languages:
            return dataset.map(lambda row: {lang: row["translation"][lang] for lang in (source_lang, target_lang)},
                               remove_columns=dataset.column_names)
        raise DataError(f"{where}: its 'translation' column has languages {sorted(languages)}, not "
                        f"{source_lang!r} and {target_lang!r}; pass --source_lang/--target_lang")
    raise DataError(f"{where} has columns {dataset.column_names}: no {source_lang!r}/{target_lang!r} columns and no "
                    "'translation' column; pass --source_lang/--target_lang")


def load_hub_dataset(dataset_name: str, source_lang: str = DEFAULT_SOURCE_LANG,
                     target_lang: str = DEFAULT_TARGET_LANG) -> DatasetDict:
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
    return DatasetDict({split: language_columns(ds, source_lang, target_lang, f"Hub dataset {dataset_name!r} split {split!r}")
                        for split, ds in dataset.items()})


def load_translation_data(
    data_dir: str | None = None,
    dataset_name: str | None = None,
    train_file: str | None = None,
    validation_file: str | None = None,
    test_file: str | None = None,
    splits=("train", "validation", "test"),
    source_lang: str = DEFAULT_SOURCE_LANG,
    target_lang: str = DEFAULT_TARGET_LANG,
) -> DatasetDict:
    """Load from JSON lines if any file is given, else the ``splits`` of a local folder, else the Hub id;
    columns named ``source_lang`` and ``target_lang``."""
    check_languages(source_lang, target_lang)
    files = {"train": train_file, "validation": validation_file, "test": test_file}
    if any(files.values()):
        if data_dir:
            raise DataError("--data_dir and JSON-lines files (--train_file ...): give one source of data, not both")
        return DatasetDict({split: read_jsonl(path, source_lang, target_lang) for split, path in files.items() if path})
    if data_dir:
        return load_local_folder(data_dir, splits, source_lang, target_lang)
    dataset = load_hub_dataset(dataset_name or DEFAULT_HUB_DATASET, source_lang, target_lang)
    keys = [canonical_split(s) for s in splits]
    missing = [k for k in keys if k not in dataset]
    if missing:
        raise DataError(f"Hub dataset {dataset_name or DEFAULT_HUB_DATASET!r} has no split {missing[0]!r} "
                        f"(it has {', '.join(dataset)})")
    return DatasetDict({k: dataset[k] for k in keys})


@dataclass
class TokenizedSplit:
    dataset: Dataset  # columns: input_ids, attention_mask, labels, (and the raw source and target text)
    n_truncated: int


def tokenize_split(dataset: Dataset, tokenizer, max_length: int, desc: str = "tokenize",
                   decoder: bool = False) -> TokenizedSplit:
    """Encode sources and targets with ``tokenizer(sources, text_target=targets)``, the call of transformers'
    translation recipe, so that a model trains here on what it trains on there: the labels as the tokenizer gives
    them (a ``decoder``'s without ``<s>``), the course model's ``<s>`` at position 0 as -100 (its forward scores
    nothing there either). A tokenizer that frames targets otherwise is refused in one line.

    Sequences over ``max_length`` tokens keep their first ``max_length - 1`` tokens and the EOS;
    the number of sentence pairs so truncated is returned and logged.
    """
    # each side's own </s> (``eos_token_id`` is the target's; convert_tokens_to_ids reads the source side)
    eos = {"input_ids": tokenizer.convert_tokens_to_ids(tokenizer.eos_token), "labels": tokenizer.eos_token_id}

    def encode(batch):
        enc = tokenizer(batch[tokenizer.source_lang], text_target=batch[tokenizer.target_lang])
        truncated = []
        for key in ("input_ids", "labels"):
            for i, ids in enumerate(enc[key]):
                if len(ids) > max_length:
                    enc[key][i] = ids[: max_length - 1] + [eos[key]]
                    truncated.append(i)
        enc["attention_mask"] = [[1] * len(ids) for ids in enc["input_ids"]]
        if enc["labels"] and (enc["labels"][0][:1] == [tokenizer.bos_token_id]) == decoder:
            wanted = "eos" if decoder else "bos_eos"
            raise DataError(f"the tokenizer frames targets as {tokenizer.target_special_tokens_pattern!r}, but "
                            f"{'an encoder-decoder' if decoder else 'the course model'} trains on labels framed "
                            f"{wanted!r}: build it with target_special_tokens_pattern={wanted!r}")
        if not decoder:
            enc["labels"] = [[-100] + ids[1:] for ids in enc["labels"]]
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

    Inputs are padded with ``pad_token_id`` (the source's: ``config.source_pad_token_id``; attention mask 0)
    and labels with -100, to the longest of the sources and targets in the batch (``pad_to_multiple_of``
    rounds it up, ``fixed_length`` pads every batch to one length instead). With ``decoding_positions`` the
    width also covers :func:`decode_length` of every source, so evaluation reads the same positions as
    translation.
    """

    pad_token_id: int
    config: object = None
    decoding_positions: bool = False
    pad_to_multiple_of: int | None = None
    fixed_length: int | None = None

    def needed_width(self, features: list[dict]) -> int:
        """The positions that a batch of ``features`` needs, before ``fixed_length``."""
        lengths = [max(len(f["input_ids"]), len(f.get("labels", ()))) for f in features]
        if self.decoding_positions:
            lengths += [decode_length(len(f["input_ids"]), self.config) for f in features]
        return max(lengths)

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        width = self.needed_width(features)
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
