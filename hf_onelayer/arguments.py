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
from transformers import HfArgumentParser, SchedulerType, Seq2SeqTrainingArguments

from .data import DEFAULT_HUB_DATASET, DEFAULT_SOURCE_LANG, DEFAULT_TARGET_LANG
from .errors import UserError
from .kinds import KINDS
from .models.tokenization_onelayer import TOKENIZER_MODELS
from .utils import command_argv


@dataclass
class ModelOptions:
    """Which model, and how it is built besides its architecture: tokenizer, attention kernel, embedding initialisers."""

    model_type: str = field(
        default="onelayer_translator",
        metadata={"help": "the model kind: 'onelayer_translator' (the course model) or 'onelayer_seq2seq' (the "
                          "encoder-decoder); see hf_onelayer/kinds.py"},
    )
    attn_implementation: Literal["sdpa", "eager"] = field(
        default="sdpa", metadata={"help": "'sdpa' (torch's fused kernel) or 'eager' (returns the attention weights)"})
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
    embedding_projection: Literal["learned", "pca"] = field(default="learned", metadata={"help": "'learned' projection or 'pca' when dims differ"})
    bert_embedding: bool = field(default=False, metadata={"help": "also copy BERT position embeddings and LayerNorm"})
    uncovered_init: Literal["random", "mean"] = field(default="random", metadata={"help": "uncovered words: 'random' (pretrained scale) or 'mean'"})
    rescale_embeddings: bool = field(
        default=False, metadata={"help": "scale pretrained vectors to the model's init std (initializer_range)"}
    )
    allow_pickle: bool = field(default=False, metadata={"help": "allow gensim pickles (only for files you trust)"})

    def __post_init__(self):
        if self.model_type not in KINDS:
            raise UserError(f"--model_type {self.model_type}: one of {', '.join(KINDS)}")
        check_ranges(self)
        from .embeddings.init import EmbeddingSpec

        self.embedding_specs = {}  # "src"/"tgt" -> EmbeddingSpec: the two flags, parsed here once
        for side in ("src", "tgt"):
            text = getattr(self, f"{side}_embeddings")
            if text:
                try:
                    self.embedding_specs[side] = EmbeddingSpec.parse(text)
                except ValueError as error:
                    raise UserError(f"--{side}_embeddings: {error}") from None

    def architecture(self) -> dict:
        """The architecture fields that were set and that the chosen model's config has, for its config class."""
        names = KINDS[self.model_type].config_class.architecture_fields
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


def _architecture_flags() -> list[tuple]:
    """One optional flag per architecture field of either config (None: the chosen config's default)."""
    flags = {}
    for config_class in (kind.config_class for kind in KINDS.values()):
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
    fixed_length: int | None = field(default=None, metadata={"help": "pad every batch to this length (course model)"})

    def __post_init__(self):
        check_ranges(self)


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
    lr_scheduler_type: Literal[tuple(kind.value for kind in SchedulerType)] = "linear"
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

    def __post_init__(self):
        check_ranges(self)  # before transformers' own checks, which name other flags for some of these
        super().__post_init__()


def json_to_argv(path: str, parser: HfArgumentParser | None = None) -> list[str]:
    """A flat JSON object -> ``--key value`` flags (lists expand, booleans become true/false). With ``parser``, a
    list given for a flag that takes one value is refused, naming the field."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            config = json.load(handle)
    except json.JSONDecodeError as error:
        raise UserError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot read the JSON config ({error.strerror if isinstance(error, OSError) else error})") from None
    if not isinstance(config, dict):
        raise UserError(f"{path}: expected a JSON object of argument names to values")
    takes_many = {option: action.nargs in ("+", "*") for action in (parser._actions if parser else [])
                  for option in action.option_strings}
    argv = []
    for key, value in config.items():
        if isinstance(value, bool):
            argv += [f"--{key}", "true" if value else "false"]
        elif isinstance(value, list):
            if not takes_many.get(f"--{key}", True):
                raise UserError(f'{path}: "{key}" takes one value, got the list {json.dumps(value)}')
            argv += [f"--{key}", *map(str, value)]
        elif value is not None:
            argv += [f"--{key}", str(value)]
    return argv


def parse(dataclass_types, argv: list[str] | None, prog: str, allow_remaining: bool = False):
    """Parse ``argv`` (None: the process's arguments); a leading ``*.json`` file gives defaults that later flags override."""
    parser = Parser(dataclass_types, prog=prog)
    argv = command_argv(argv)
    if argv and argv[0].endswith(".json"):
        argv = json_to_argv(argv[0], parser) + argv[1:]
    try:
        *parsed, remaining = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    except UserError:
        raise
    except (ValueError, TypeError) as error:  # a dataclass's __post_init__ refusing a combination of flags
        raise UserError(str(error)) from None
    if allow_remaining:
        return (*parsed, remaining)
    if remaining:
        raise UserError(f"unknown flag or stray value: {' '.join(remaining)} (--help lists the flags)")
    return tuple(parsed)


class Parser(HfArgumentParser):
    """HfArgumentParser whose refusals raise ``UserError`` (one line in the CLI) instead of printing usage."""

    def error(self, message):
        raise UserError(f"{message} (--help lists the flags)")


# --- training flags, checked before any data is read ---------------------------------------------------

# The allowed values of the numeric flags of the dataclasses above (ours and the transformers fields we pass on)
# that transformers and torch take at parse time and refuse only once training runs (or never: then they misbehave).
# Each dataclass checks the ones it has in __post_init__; None (not given) is always allowed.
RANGES = {
    # tokenizer and data
    "min_frequency": "[1, inf)", "tokenizer_vocab_size": "[1, inf)", "max_train_samples": "[1, inf)",
    "max_eval_samples": "[1, inf)", "pad_to_multiple_of": "[1, inf)", "fixed_length": "[1, inf)",
    # optimiser (torch refuses these when the optimiser is built, after the data and the model)
    "learning_rate": "[0, inf)", "weight_decay": "[0, inf)", "adam_beta1": "[0, 1)", "adam_beta2": "[0, 1)",
    "adam_epsilon": "[0, inf)", "max_grad_norm": "[0, inf)", "label_smoothing_factor": "[0, 1)",
    "warmup_steps": "[0, inf)", "gradient_accumulation_steps": "[1, inf)", "per_device_train_batch_size": "[1, inf)",
    "per_device_eval_batch_size": "[1, inf)", "eval_accumulation_steps": "[1, inf)",
    # schedule (num_train_epochs only counts without --max_steps)
    "num_train_epochs": "(0, inf)", "max_steps": "[-1, inf)", "logging_steps": "(0, inf)", "eval_steps": "(0, inf)",
    "save_steps": "(0, inf)", "save_total_limit": "[1, inf)", "eval_delay": "[0, inf)",
    # the encoder-decoder's evaluation search
    "generation_num_beams": "[1, inf)", "generation_max_length": "[1, inf)",
    # processes
    "seed": "[0, 4294967295]", "data_seed": "[0, 4294967295]", "dataloader_num_workers": "[0, inf)",
    "dataloader_prefetch_factor": "[1, inf)",
}


def in_interval(value: float, interval: str) -> bool:
    """Whether ``value`` lies in ``interval``, written "[0, 1)"; an ``inf`` bound is never included (nor NaN)."""
    low, high = (float(bound) for bound in interval[1:-1].split(","))
    above = value >= low if interval[0] == "[" else value > low
    below = value <= high if interval[-1] == "]" and high != float("inf") else value < high
    return above and below


def check_ranges(arguments) -> None:
    """``UserError`` naming the first field of ``arguments`` (one of our dataclasses) outside its ``RANGES``."""
    for name, interval in RANGES.items():
        value = getattr(arguments, name, None)
        if value is None or isinstance(value, bool) or (name == "num_train_epochs" and arguments.max_steps > 0):
            continue
        if not in_interval(value, interval):
            hint = " (or give --max_steps)" if name == "num_train_epochs" else ""
            raise UserError(f"--{name} must be in {interval}{hint}, got {value}")


def _model_flags(model_type: str) -> dict[str, str]:
    """Flag -> the model_type that uses it, for the flags that ``model_type`` does not use (each kind's ``flags``
    and its config's ``architecture_fields``)."""
    own = set(KINDS[model_type].flags) | set(KINDS[model_type].config_class.architecture_fields)
    return {flag: other for other, kind in KINDS.items() if other != model_type
            for flag in (*kind.flags, *kind.config_class.architecture_fields) if flag not in own}


def check_model_flags(model_type: str, *arguments) -> None:
    """``UserError`` for a flag set (not at its default) that the chosen model does not use, naming both."""
    defaults = {f.name: f.default for args in arguments for f in fields(args)}
    values = {f.name: getattr(args, f.name) for args in arguments for f in fields(args)}
    for flag, owner in _model_flags(model_type).items():
        if flag in values and values[flag] != defaults[flag]:
            value = str(values[flag]).lower() if isinstance(values[flag], bool) else values[flag]
            raise UserError(f"--{flag} {value}: the {model_type} model does not use it (only {owner} "
                            "does); drop it, or choose --model_type " + owner)


def check_training(model_args, data_args, training_args) -> None:
    """Refuse bad flags before any data is read or tokenizer trained: ``UserError`` naming the flag.

    The numeric ranges are checked as the arguments are parsed (``RANGES``); this pass checks what depends on the
    model, the machine or the file system, asking transformers where it can.
    """
    from transformers import GenerationConfig, Trainer
    from transformers.integrations import get_available_reporting_integrations
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    from .embeddings.hub import check_online
    model_type, kind = model_args.model_type, KINDS[model_args.model_type]
    check_model_flags(model_type, model_args, data_args, training_args)
    config = kind.config_class(**model_args.architecture())  # OneLayerConfigError names the field
    for spec in model_args.embedding_specs.values():
        if spec.hub is not None:
            check_online(spec.kind, spec.hub)  # offline: one line now, not after the tokenizer is trained
    positions = config.max_position_embeddings
    for flag, value in (("fixed_length", data_args.fixed_length),
                        ("generation_max_length", training_args.generation_max_length)):
        if value is not None and value > positions:
            raise UserError(f"--{flag} {value}: more than the model's max_position_embeddings ({positions}); "
                            f"give at most {positions}, or raise --max_position_embeddings")
    if kind.is_encoder_decoder:
        try:
            GenerationConfig(num_beams=training_args.generation_num_beams or 1,
                             max_length=training_args.generation_max_length or positions).validate(strict=True)
        except ValueError as error:
            raise UserError(f"--generation_num_beams/--generation_max_length: {error}") from None
    metric = training_args.metric_for_best_model
    names = kind.metrics_class().names
    if metric is not None and metric.removeprefix("eval_") not in names:
        raise UserError(f"--metric_for_best_model {metric}: the {model_type} model's evaluation reports "
                        f"{', '.join(names)}")
    for flag in ("fp16", "bf16"):
        if getattr(training_args, flag) and (training_args.use_cpu or not _accelerator_supports(flag)):
            raise UserError(f"--{flag} needs a GPU that supports it, and this run has none (or --use_cpu): drop "
                            f"--{flag}; the CPU trains in float32")
    for tracker in training_args.report_to:
        if tracker not in INTEGRATION_TO_CALLBACK:
            raise UserError(f"--report_to {tracker}: unknown; one of none, all, {', '.join(INTEGRATION_TO_CALLBACK)}")
        if tracker not in get_available_reporting_integrations():
            raise UserError(f"--report_to {tracker}: its package is not installed; install it, or pass "
                            "--report_to none")
    try:
        Trainer.get_optimizer_cls_and_kwargs(training_args)  # transformers' own check of --optim and its package
    except (ImportError, ValueError) as error:
        raise UserError(f"--optim {getattr(training_args.optim, 'value', training_args.optim)}: {error}") from None
    out = training_args.output_dir
    if not (out or "").strip():
        raise UserError("--output_dir is empty: give the folder the run writes to")
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"--output_dir {out}: is a file, not a folder")
    files = [f"--{name}" for name in ("train_file", "validation_file", "test_file") if getattr(data_args, name)]
    if data_args.data_dir and files:
        raise UserError(f"--data_dir and {', '.join(files)}: give a folder or JSON-lines files, not both")
    for name in ("data_dir", "train_file", "validation_file", "test_file"):
        path = getattr(data_args, name)
        if path and not os.path.exists(path):
            raise UserError(f"--{name} {path}: no such {'folder' if name == 'data_dir' else 'file'}")


def _accelerator_supports(flag: str) -> bool:
    """Whether this run's device can train in ``flag``'s precision: a CUDA GPU (bf16: one that supports it)."""
    if not torch.cuda.is_available():
        return False
    return flag == "fp16" or torch.cuda.is_bf16_supported()
