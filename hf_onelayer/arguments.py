"""Command-line arguments as dataclasses, parsed by ``transformers.HfArgumentParser``.

Every command takes flags, or one JSON file first and flags after it that override the file
(``hf-onelayer train training/configs/default.json --num_train_epochs 1``).
"""

import json
import os
import typing
from dataclasses import dataclass, field, fields, make_dataclass
from typing import Literal

import torch
from transformers import HfArgumentParser, Seq2SeqTrainingArguments

from .data import DEFAULT_HUB_DATASET, DEFAULT_SOURCE_LANG, DEFAULT_TARGET_LANG
from .errors import UserError
from .factory import CONFIGS
from .models.tokenization_onelayer import TOKENIZER_MODELS
from .utils import command_argv


@dataclass
class ModelOptions:
    """Which model, and how it is built besides its architecture: tokenizer, attention kernel, embedding initialisers."""

    model_type: Literal[tuple(CONFIGS)] = field(
        default="onelayer_translator",
        metadata={"help": "'onelayer_translator' (the course model) or 'onelayer_seq2seq' (the encoder-decoder)"},
    )
    attn_implementation: str = field(default="sdpa", metadata={"help": "'sdpa' or 'eager'"})
    min_frequency: int = field(default=2, metadata={"help": "tokenizer: keep words (pieces) seen at least this often"})
    tokenizer_model: Literal[TOKENIZER_MODELS] = field(
        default="word", metadata={"help": "'word' (word-level, the course's), 'wordpiece' (sub-word pieces per side) "
                                          "or 'bpe' (one joint cased sub-word vocabulary, the encoder-decoder's)"}
    )
    tokenizer_vocab_size: int = field(default=8000, metadata={"help": "wordpiece/bpe: at most this many types"})
    src_embeddings: str | None = field(
        default=None, metadata={"help": "initialise source embeddings: bert:PATH_OR_ID | glove:PATH | word2vec:PATH | fasttext:PATH"}
    )
    tgt_embeddings: str | None = field(default=None, metadata={"help": "initialise the head's weights (tied: the "
                                                                       "decoder's embedding too), same forms"})
    freeze_src_embeddings: bool = field(default=False, metadata={"help": "keep the source embeddings fixed"})
    freeze_tgt_embeddings: bool = field(default=False, metadata={"help": "keep the head's weights fixed"})
    embedding_projection: str = field(default="learned", metadata={"help": "'learned' projection or 'pca' when dims differ"})
    bert_embedding: bool = field(default=False, metadata={"help": "also copy BERT position embeddings and LayerNorm"})
    uncovered_init: str = field(default="random", metadata={"help": "uncovered words: 'random' (pretrained scale) or 'mean'"})
    rescale_embeddings: bool = field(
        default=False, metadata={"help": "scale pretrained vectors to the model's init std (initializer_range)"}
    )
    allow_pickle: bool = field(default=False, metadata={"help": "allow gensim pickles (only for files you trust)"})

    def architecture(self) -> dict:
        """The architecture fields that were set and that the chosen model's config has, for its config class."""
        names = CONFIGS[self.model_type].architecture_fields
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


def _architecture_flags() -> list[tuple]:
    """One optional flag per architecture field of either config (None: the chosen config's default)."""
    flags = {}
    for config_class in CONFIGS.values():
        defaults, hints = config_class(), {f.name: f.type for f in fields(config_class)}
        for name in config_class.architecture_fields:
            default = getattr(defaults, name)
            kind = hints[name] if typing.get_origin(hints[name]) is Literal else type(default)
            help_ = flags[name][2].metadata["help"] + ", " if name in flags else "default: "
            flags[name] = (name, kind | None, field(default=None, metadata={
                "help": help_ + f"{default!r} ({config_class.model_type})"}))
    return list(flags.values())


# ModelOptions plus the configs' architecture fields, so a new config field needs no edit here.
ModelArguments = make_dataclass("ModelArguments", _architecture_flags(), bases=(ModelOptions,))
ModelArguments.__doc__ = "A new model: architecture fields left unset take its config's defaults."


@dataclass
class DataArguments:
    data_dir: str | None = field(
        default=None,
        metadata={"help": "folder of Multi30k raw files (train.de, val.en, test_2016_flickr.de, ...)"},
    )
    dataset_name: str = field(default=DEFAULT_HUB_DATASET, metadata={"help": "Hub dataset id (used without data_dir)"})
    source_lang: str = field(default=DEFAULT_SOURCE_LANG, metadata={"help": "source language code: the file suffix "
                                                                          "(train.fr) or dataset column"})
    target_lang: str = field(default=DEFAULT_TARGET_LANG, metadata={"help": "target language code, as source_lang"})
    train_file: str | None = field(default=None, metadata={"help": 'JSON lines of {"translation": {"de", "en"}}'})
    validation_file: str | None = field(default=None, metadata={"help": "JSON lines, as train_file"})
    test_file: str | None = field(default=None, metadata={"help": "JSON lines, as train_file"})
    max_train_samples: int | None = field(default=None, metadata={"help": "use the first N training pairs"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "use the first N pairs of val/test"})
    pad_to_multiple_of: int | None = field(default=None, metadata={"help": "round batch widths up to a multiple"})
    fixed_length: int | None = field(default=None, metadata={"help": "pad every batch to this length"})


@dataclass
class OneLayerTrainingArguments(Seq2SeqTrainingArguments):
    """transformers' (Seq2Seq)TrainingArguments with the course defaults (Adam, lr 1e-3, batch 128, 10 epochs);
    the ``predict_with_generate`` / ``generation_*`` flags serve the encoder–decoder."""

    output_dir: str | None = field(default="runs/default", metadata={"help": "where the model and metrics go"})
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    per_device_train_batch_size: int = 128
    per_device_eval_batch_size: int = 256
    num_train_epochs: float = 10.0
    lr_scheduler_type: str = "linear"
    eval_strategy: str = "epoch"
    save_strategy: str = "epoch"
    save_total_limit: int | None = 1
    load_best_model_at_end: bool = True
    metric_for_best_model: str | None = "perplexity"
    greater_is_better: bool | None = False
    logging_steps: float = 50
    report_to: None | str | list[str] = "tensorboard"
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "train into an output_dir that already holds a run (else refused)"}
    )
    # Without it, two processes from `accelerate launch --multi_gpu` on a CPU-only machine each train
    # alone (transformers leaves DDP off); with it they form one gloo DDP group.
    use_cpu: bool = not torch.cuda.is_available()


def json_to_argv(path: str) -> list[str]:
    """A flat JSON object -> ``--key value`` flags (lists expand, booleans become true/false)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            config = json.load(handle)
    except json.JSONDecodeError as error:
        raise UserError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot read the JSON config ({error.strerror if isinstance(error, OSError) else error})") from None
    if not isinstance(config, dict):
        raise UserError(f"{path}: expected a JSON object of argument names to values")
    argv = []
    for key, value in config.items():
        if isinstance(value, bool):
            argv += [f"--{key}", "true" if value else "false"]
        elif isinstance(value, list):
            argv += [f"--{key}", *map(str, value)]
        elif value is not None:
            argv += [f"--{key}", str(value)]
    return argv


def parse(dataclass_types, argv: list[str] | None, prog: str, allow_remaining: bool = False):
    """Parse ``argv`` (None: the process's arguments); a leading ``*.json`` file gives defaults that later flags override."""
    parser = Parser(dataclass_types, prog=prog)
    argv = command_argv(argv)
    if argv and argv[0].endswith(".json"):
        argv = json_to_argv(argv[0]) + argv[1:]
    try:
        return parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=allow_remaining)
    except UserError:
        raise
    except (ValueError, TypeError) as error:  # a dataclass's __post_init__ refusing a combination of flags
        raise UserError(str(error)) from None


class Parser(HfArgumentParser):
    """HfArgumentParser whose refusals raise ``UserError`` (one line in the CLI) instead of printing usage."""

    def error(self, message):
        raise UserError(f"{message} (--help lists the flags)")



def require_at_least_one(values: dict) -> None:
    """``UserError`` naming the first flag of ``values`` (flag -> value, None = not given) that is below 1."""
    for flag, value in values.items():
        if value is not None and value < 1:
            raise UserError(f"--{flag} must be >= 1, got {value}")


def check_training(model_args, data_args, training_args) -> None:
    """Refuse bad flags before any data is read or tokenizer trained: ``UserError`` naming the flag."""
    from .embeddings.hub import check_online, parse_location
    from .embeddings.vectors import parse_spec

    CONFIGS[model_args.model_type](**model_args.architecture())  # OneLayerConfigError names the field
    for flag in ("src_embeddings", "tgt_embeddings"):
        spec = getattr(model_args, flag)
        if spec:
            try:
                kind, location = parse_spec(spec)
                hub = parse_location(location)
            except ValueError as error:
                raise UserError(f"--{flag}: {error}") from None
            if hub is not None:
                check_online(kind, hub)  # offline: one line now, not after the tokenizer is trained
    at_least_one = {
        "per_device_train_batch_size": training_args.per_device_train_batch_size,
        "per_device_eval_batch_size": training_args.per_device_eval_batch_size,
        "pad_to_multiple_of": data_args.pad_to_multiple_of, "fixed_length": data_args.fixed_length,
        "max_train_samples": data_args.max_train_samples, "max_eval_samples": data_args.max_eval_samples,
        "min_frequency": model_args.min_frequency, "tokenizer_vocab_size": model_args.tokenizer_vocab_size,
    }
    require_at_least_one(at_least_one)
    if training_args.max_steps <= 0 and not 0 < training_args.num_train_epochs < float("inf"):
        raise UserError(f"--num_train_epochs must be finite and > 0 (or give --max_steps), "
                        f"got {training_args.num_train_epochs}")
    if not 0 <= training_args.learning_rate < float("inf"):
        raise UserError(f"--learning_rate must be finite and >= 0, got {training_args.learning_rate}")
    files = [f"--{name}" for name in ("train_file", "validation_file", "test_file") if getattr(data_args, name)]
    if data_args.data_dir and files:
        raise UserError(f"--data_dir and {', '.join(files)}: give a folder or JSON-lines files, not both")
    for name in ("data_dir", "train_file", "validation_file", "test_file"):
        path = getattr(data_args, name)
        if path and not os.path.exists(path):
            raise UserError(f"--{name} {path}: no such {'folder' if name == 'data_dir' else 'file'}")
