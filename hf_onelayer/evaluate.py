"""Evaluate a saved model on a Multi30k split: perplexity, BLEU, chrF, token accuracy.

    hf-onelayer evaluate --model DIR --data_dir ../shared/data/multi30k --split val

Prints one JSON object; besides the headline numbers it splits the perplexity by how much target
and source lengths differ (``perplexity_len_diff_*``, see ``metrics.py``). It runs the same Trainer
evaluation as training does, so the numbers match.
"""

import json
import sys
import tempfile
from dataclasses import dataclass, field

from transformers import TrainingArguments

from .arguments import parse
from .train import build_trainer
from .data import canonical_split, load_translation_data, tokenize_split
from .translate import MODEL_HELP, load


@dataclass
class EvaluateArguments:
    model: str | None = field(default=None, metadata={"help": MODEL_HELP})
    data_dir: str | None = field(default=None, metadata={"help": "folder of Multi30k raw files"})
    dataset_name: str = field(default="bentrevett/multi30k", metadata={"help": "Hub dataset id (without data_dir)"})
    test_file: str | None = field(default=None, metadata={"help": "JSON lines to evaluate instead of a split"})
    split: str = field(default="val", metadata={"help": "val or test"})
    batch_size: int = 256
    max_samples: int | None = None


def evaluate(model, tokenizer, dataset, batch_size: int = 256) -> dict:
    """Metrics of ``model`` on ``dataset`` (a Dataset with ``de`` and ``en`` columns)."""
    tokenized = tokenize_split(dataset, tokenizer, model.config.max_position_embeddings, desc="tokenize")
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, per_device_eval_batch_size=batch_size, report_to="none")
        metrics = build_trainer(model, tokenizer, args, eval_split=tokenized.dataset).evaluate(metric_key_prefix="eval")
    by_length = {k[len("eval_"):]: v for k, v in metrics.items() if "_len_diff_" in k}
    return {
        "perplexity": metrics["eval_perplexity"],
        "bleu": metrics["eval_bleu"],
        "chrf": metrics["eval_chrf"],
        "token_accuracy": metrics["eval_token_accuracy"],
        "n_sentences": len(dataset),
        "n_tokens": metrics["eval_n_tokens"],
        "n_truncated": tokenized.n_truncated,
        **by_length,
    }


def main(argv: list[str] | None = None) -> dict:
    (args,) = parse(EvaluateArguments, sys.argv[1:] if argv is None else argv, "hf-onelayer evaluate")
    if args.test_file:
        dataset = load_translation_data(test_file=args.test_file)["test"]
    else:
        dataset = load_translation_data(args.data_dir, args.dataset_name)[canonical_split(args.split)]
    if args.max_samples is not None:
        dataset = dataset.select(range(min(args.max_samples, len(dataset))))
    model, tokenizer = load(args.model)
    result = evaluate(model, tokenizer, dataset, args.batch_size)
    print(json.dumps(result))
    return result
