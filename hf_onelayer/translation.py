"""Load a saved model (the released one by default) and translate German sentences with it."""

import os
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM, AutoTokenizer


RELEASES = {"seq2seq": "release/seq2seq", "course": "release/course"}  # the released models, in a source checkout


def default_model(kind: str = "seq2seq") -> str:
    """A released model: ``$HF_ONELAYER_MODEL``, else ``release/seq2seq`` (the encoder–decoder) or, for
    ``kind="course"``, ``release/course`` beside the package."""
    if os.environ.get("HF_ONELAYER_MODEL"):
        return os.environ["HF_ONELAYER_MODEL"]
    return str(Path(__file__).resolve().parents[1] / RELEASES[kind])


def load(model_dir: str | None = None, kind: str = "seq2seq"):
    """(model in eval mode, tokenizer) from a saved folder or Hub id; None loads the released model of ``kind``."""
    if model_dir is None:
        model_dir = default_model(kind)
        if not os.path.exists(os.path.join(model_dir, "config.json")):
            raise SystemExit(f"no --model given and no released model at {model_dir}; pass --model DIR_OR_HUB_ID")
    auto = AutoModelForSeq2SeqLM if AutoConfig.from_pretrained(model_dir).is_encoder_decoder else AutoModel
    model = auto.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return model, tokenizer


def translate(model, tokenizer, texts: list[str], batch_size: int = 64, progress: bool = False,
              num_beams: int | None = None) -> list[str]:
    """Translations of ``texts``, in order: the course model's greedy read-out, or the encoder–decoder's
    ``generate`` (``num_beams``, default: the model's generation config).

    Sentences are batched by length (the output does not depend on the padding), and sources longer
    than ``max_position_embeddings`` are truncated to it.
    """
    limit = model.config.max_position_embeddings
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = [None] * len(texts)
    for start in tqdm(range(0, len(order), batch_size), desc="translate", disable=not progress):
        rows = order[start : start + batch_size]
        enc = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=limit,
                        return_tensors="pt")
        with torch.inference_mode():
            if model.config.is_encoder_decoder:
                ids = model.generate(**enc, num_beams=num_beams or model.generation_config.num_beams)
            else:
                ids = model.translate_ids(enc["input_ids"], enc["attention_mask"])
        for i, text in zip(rows, tokenizer.batch_decode(ids, skip_special_tokens=True)):
            out[i] = text
    return out
