"""Load a saved model (the released one by default) and translate German sentences with it."""

import os
import re
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoConfig, AutoTokenizer
from transformers.tokenization_utils_base import VERY_LARGE_INTEGER
from transformers.utils import logging as hf_logging

from .errors import UserError
from .kinds import KINDS, SEQ2SEQ, kind_of
from .registration import register


logger = hf_logging.get_logger(__name__)


def default_model(kind: str = SEQ2SEQ.name) -> str:
    """A released model: ``$HF_ONELAYER_MODEL``, else the release of ``kind`` (a ``model_type``) beside the package:
    ``release/seq2seq`` (the encoder–decoder, the default) or ``release/course``."""
    if os.environ.get("HF_ONELAYER_MODEL"):
        return os.environ["HF_ONELAYER_MODEL"]
    return str(Path(__file__).resolve().parents[1] / KINDS[kind].release)


def load(model_dir: str | None = None, kind: str = SEQ2SEQ.name):
    """(model in eval mode, tokenizer) from a saved folder or Hub id; None loads the released model of ``kind``.

    A folder that is not one of our saved models, or whose files disagree, raises ``UserError`` naming it.
    """
    register()  # the Auto classes know our kinds (and the pipeline its task) before any from_pretrained
    if model_dir is None:
        model_dir = default_model(kind)
        if not os.path.exists(os.path.join(model_dir, "config.json")):
            raise UserError(f"no --model given, and no released model at {model_dir} (only a source checkout has "
                            "release/); pass --model with a saved model folder or a Hub id")
    if os.path.isdir(model_dir) and not os.path.isfile(os.path.join(model_dir, "config.json")):
        raise UserError(f"--model {model_dir}: no config.json, so not a saved model folder")
    try:
        config = AutoConfig.from_pretrained(model_dir)
    except OSError as error:
        where = "no such folder, and not a model on the Hub" if not os.path.exists(model_dir) else "unreadable"
        raise UserError(f"--model {model_dir}: {where} ({' '.join(str(error).split())[:200]})") from None
    except ValueError as error:  # a model_type we do not know
        raise UserError(f"--model {model_dir}: {' '.join(str(error).split())[:200]}") from None
    if config.model_type not in KINDS:
        raise UserError(f"--model {model_dir}: a {config.model_type!r} model; hf-onelayer takes "
                        f"{' or '.join(KINDS)} models")
    auto = KINDS[config.model_type].auto_class
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a bar per weight file is noise for a model of a few MB
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        check_tokenizer(config, tokenizer, f"--model {model_dir}")  # before the weights: no time lost
        unset = tokenizer.model_max_length >= VERY_LARGE_INTEGER  # saved without a length: nothing disagrees
        if tokenizer.model_max_length != config.max_position_embeddings and not unset:  # saved before they were kept equal
            logger.warning(f"{model_dir}: the tokenizer's model_max_length is {tokenizer.model_max_length} but "
                           f"max_position_embeddings is {config.max_position_embeddings}; using "
                           f"{config.max_position_embeddings}")
            tokenizer.model_max_length = config.max_position_embeddings
        if tokenizer.init_kwargs.get("target_special_tokens_pattern") is None:  # saved before the field: the kind's
            tokenizer.target_special_tokens_pattern = KINDS[config.model_type].target_special_tokens_pattern
        check_weights(config, auto, model_dir)
        model = auto.from_pretrained(model_dir).eval()
    except UserError:
        raise
    except Exception as error:  # truncated weights, weights that do not fit config.json, missing files
        raise UserError(f"--model {model_dir}: cannot load its files ({' '.join(str(error).split())[:300]})") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    return model, tokenizer


def check_weights(config, auto, model_dir: str) -> None:
    """Refuse a ``model.safetensors`` that is cut short or whose shapes do not fit ``config.json``, naming both."""
    from safetensors import safe_open

    path = os.path.join(model_dir, "model.safetensors")
    if not os.path.isfile(path):
        return  # a Hub id, or sharded weights: from_pretrained checks them
    try:
        with safe_open(path, "pt") as handle:
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
    except Exception as error:
        raise UserError(f"{path}: not a complete safetensors file ({' '.join(str(error).split())[:120]})") from None
    with torch.device("meta"):
        model = auto.from_config(config)
    for pattern, name in model._legacy_key_mapping.items():  # older checkpoints' names, as loading reads them
        shapes = {re.sub(pattern, name, key): shape for key, shape in shapes.items()}
    for name, tensor in model.state_dict().items():
        if name in shapes and shapes[name] != tuple(tensor.shape):
            raise UserError(f"{path}: {name} has shape {shapes[name]}, but config.json makes it {tuple(tensor.shape)}")


def check_tokenizer(config, tokenizer, where: str) -> None:
    """Refuse a tokenizer whose vocabularies do not match the model's config (another run's files)."""
    for name, size in kind_of(config).vocab_sizes(config).items():
        got = getattr(tokenizer, name, None)
        if got != size:
            raise UserError(f"{where}: the tokenizer's {name} is {got} but config.json says {size}; "
                            "the tokenizer files come from another run")
    if config.is_encoder_decoder and config.src_vocab_size is None and not getattr(tokenizer, "is_joint", False):
        raise UserError(f"{where}: config.json ({config.model_type}) shares one vocabulary between the languages, "
                        "but the tokenizer has two; the tokenizer files come from another run")


def translate(model, tokenizer, texts: list[str] | str, batch_size: int = 64, progress: bool = False,
              num_beams: int | None = None, **generate_kwargs) -> list[str] | str:
    """Translations of ``texts``, in order: the course model's greedy read-out, or the encoder–decoder's
    ``generate`` (``num_beams`` and other ``generate_kwargs`` such as ``max_length`` or ``length_penalty``;
    default: the model's generation config; the course model has no search and ignores them, where the
    commands' flags refuse them). One string gives one string.

    Sentences are batched by length (the output does not depend on the padding), and sources longer
    than ``max_position_embeddings`` are truncated to it. A blank sentence translates to "".
    """
    if isinstance(texts, str):
        return translate(model, tokenizer, [texts], batch_size, progress, num_beams, **generate_kwargs)[0]
    if batch_size < 1:
        raise UserError(f"--batch_size must be >= 1, got {batch_size}")
    search = kind_of(model).search(num_beams, strict=False, **generate_kwargs)  # the course model: none
    limit = model.config.max_position_embeddings
    warn_truncated(tokenizer, texts, limit)
    out = ["" if not text.strip() else None for text in texts]
    order = sorted((i for i, text in enumerate(texts) if text.strip()), key=lambda i: len(texts[i]))
    for start in tqdm(range(0, len(order), batch_size), desc="translate", disable=not progress):
        rows = order[start : start + batch_size]
        enc = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=limit,
                        return_tensors="pt")
        written = translate_ids(model, enc, **search)
        for i, text in zip(rows, tokenizer.batch_decode(written, skip_special_tokens=True)):
            out[i] = text
    return out


def warn_truncated(tokenizer, texts: list[str], limit: int) -> int:
    """How many of ``texts`` are longer than ``limit`` tokens (they are cut to it), with one warning when any are."""
    extra = tokenizer.num_special_tokens_to_add()
    cut = sum(len(tokenizer.tokenize(text)) + extra > limit for text in texts if text.strip())
    if cut:
        logger.warning(f"{cut} of {len(texts)} inputs are longer than max_position_embeddings={limit} tokens and were "
                       f"cut to {limit}")
    return cut


@torch.inference_mode()
def translate_ids(model, enc, num_beams: int | None = None, **generate_kwargs):
    """The output ids of one encoded batch: the course model's read-out, or the encoder–decoder's ``generate``
    (arguments left None take its generation config's values)."""
    kind = kind_of(model)
    return kind.write(model, enc, **kind.search(num_beams, strict=False, **generate_kwargs))
