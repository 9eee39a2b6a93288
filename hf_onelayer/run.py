"""One run set-up for ``train``, ``search`` and ``evaluate``: the same data, tokenizer and tokenized splits from the
same flags.

``train`` and ``search`` check their flags first (``arguments.check_training``), then call these in order:
:func:`read_data` -> :func:`new_tokenizer` -> (``factory.make_model``) -> :func:`tokenize_splits`. ``evaluate`` reads
the one split it scores with :func:`read_split`.
"""

from .data import canonical_split, load_translation_data, read_parallel_files, tokenize_split
from .errors import UserError
from .kinds import KINDS
from .models.tokenization_onelayer import OneLayerTranslatorTokenizer
from .utils import first

SPLITS = ("train", "validation", "test")


def positions(model_args) -> int:
    """The positions a new model of ``model_args`` has: ``--max_position_embeddings``, else its kind's default."""
    return model_args.max_position_embeddings or KINDS[model_args.model_type].config_class().max_position_embeddings


def read_data(data_args):
    """The raw splits that ``data_args`` name (``--data_dir``, the JSON-lines files or the Hub dataset): training
    cut to ``--max_train_samples``, val and test to ``--max_eval_samples``; a run without training data is refused."""
    raw = load_translation_data(data_args.data_dir, data_args.dataset_name, data_args.train_file,
                                data_args.validation_file, data_args.test_file,
                                source_lang=data_args.source_lang, target_lang=data_args.target_lang)
    if "train" not in raw:
        raise UserError(f"training needs a train split: --train_file, or a --data_dir with "
                        f"train.{data_args.source_lang}/train.{data_args.target_lang}")
    for name in raw:
        raw[name] = first(raw[name], data_args.max_train_samples if name == "train" else data_args.max_eval_samples)
    return raw


def read_split(args, languages: tuple[str, str]):
    """The one split ``evaluate``'s ``args`` name (``--source_file``/``--reference_file``, ``--test_file``, or
    ``--split`` of ``--data_dir`` / the Hub dataset), in the model's ``languages`` and cut to ``--max_samples``."""
    names = {"source_lang": languages[0], "target_lang": languages[1]}
    if args.source_file:
        dataset = read_parallel_files(args.source_file, args.reference_file, **names)
    elif args.test_file:
        dataset = load_translation_data(test_file=args.test_file, **names)["test"]
    else:
        dataset = load_translation_data(args.data_dir, args.dataset_name, splits=(args.split,),
                                        **names)[canonical_split(args.split)]
    return first(dataset, args.max_samples)


def new_tokenizer(train_split, model_args, languages: tuple[str, str], min_frequency: int | None = None):
    """Vocabularies trained on ``train_split`` (columns ``languages``: source, target) as ``model_args`` say;
    ``min_frequency`` overrides theirs (a search trial's)."""
    return OneLayerTranslatorTokenizer.train_new(
        train_split[languages[0]], train_split[languages[1]],
        min_frequency=model_args.min_frequency if min_frequency is None else min_frequency,
        model=model_args.tokenizer_model, vocab_size=model_args.tokenizer_vocab_size,
        source_lang=languages[0], target_lang=languages[1], model_max_length=positions(model_args),
        target_special_tokens_pattern=KINDS[model_args.model_type].target_special_tokens_pattern,
    )


def tokenize_splits(raw, tokenizer, max_length: int, decoder: bool, names=SPLITS, note: str = ""):
    """({split: tokenized Dataset}, {"<split>_truncated": count}) for the ``names`` that ``raw`` has."""
    splits, truncated = {}, {}
    for name in (n for n in names if n in raw):
        tokenized = tokenize_split(raw[name], tokenizer, max_length, desc=f"tokenize {name}{note}", decoder=decoder)
        splits[name], truncated[f"{name}_truncated"] = tokenized.dataset, tokenized.n_truncated
    return splits, truncated
