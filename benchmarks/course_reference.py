"""The course-style model trained the course's way, scored under both perplexity definitions.

    .venv/bin/python benchmarks/course_reference.py --data_dir ../shared/data/multi30k \
        --output_dir runs/course_reference

The foundation issue compares our default run with the course model's "about 19.5 val perplexity
after 10 epochs", a figure from students' runs that also score the first position, whose label is
always ``<s>``. This script trains ``course_baseline.CourseModel`` (per-head Linear layers, no mask,
every batch padded to 43, no dropout, PyTorch's default init; hidden 128, 2 heads, q/k/v 96, FFN
2048) with Adam at a constant lr 1e-3, batch 128, 10 epochs, on the same tokenizer and data as
``make train``, with ``<s>`` as a training label as in the course. After every epoch it reports the
val perplexity both ways:

* ``perplexity_course``: every non-pad target position, the leading ``<s>`` included;
* ``perplexity``: ours, the leading ``<s>`` left out (``hf_onelayer/metrics.py``).

It writes ``results.json`` (per epoch, and the best epoch of each) into ``--output_dir``. On one
thread it takes about 40 minutes.
"""

import json
import os
import sys
from dataclasses import dataclass, field

import torch
from course_baseline import COURSE_LENGTH, CourseModel, pad_to_course_length, token_loss
from torch import nn
from transformers import HfArgumentParser, Trainer, TrainingArguments

from hf_onelayer.data import load_local_folder, tokenize_split
from hf_onelayer.metrics import perplexity, preprocess_logits_for_metrics
from hf_onelayer.models.tokenization_onelayer import OneLayerTranslatorTokenizer
from hf_onelayer.utils import first


@dataclass
class ReferenceArguments:
    data_dir: str = "../shared/data/multi30k"
    output_dir: str = "runs/course_reference"
    num_train_epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_scheduler_type: str = field(default="constant", metadata={"help": "the course keeps Adam's lr fixed"})
    seed: int = 42
    max_train_samples: int | None = field(default=None, metadata={"help": "for a quick try"})


class CourseForTrainer(nn.Module):
    """CourseModel with the ``forward(input_ids, labels) -> {loss, logits}`` that Trainer expects."""

    def __init__(self, course: CourseModel):
        super().__init__()
        self.course = course

    def forward(self, input_ids, labels=None):
        logits = self.course(input_ids)  # (B, 43, V)
        loss = None if labels is None else token_loss(logits, labels)
        return {"loss": loss, "logits": logits}


def with_bos_label(bos_id: int, pad_id: int):
    """The course's collation: pad or cut to 43, and ``<s>`` at position 0 is a label like any other."""

    def collate(features):
        features = [{"input_ids": f["input_ids"], "labels": [bos_id] + f["labels"][1:]} for f in features]
        return pad_to_course_length(features, pad_id)

    return collate


def both_perplexities(eval_pred) -> dict:
    nll, labels = eval_pred.predictions[..., 0], eval_pred.label_ids
    scored = labels != -100
    ours = scored.copy()
    ours[:, 0] = False  # the leading <s>
    return {
        "perplexity_course": perplexity(nll, scored),
        "perplexity": perplexity(nll, ours),
        "bos_nll": float(nll[:, 0][scored[:, 0]].mean()),
        "n_tokens_course": int(scored.sum()),
        "n_tokens": int(ours.sum()),
    }


def main(argv=None) -> dict:
    (args,) = HfArgumentParser(ReferenceArguments).parse_args_into_dataclasses(args=argv)
    torch.manual_seed(args.seed)
    raw = load_local_folder(args.data_dir, splits=("train", "validation"))
    raw["train"] = first(raw["train"], args.max_train_samples)
    tok = OneLayerTranslatorTokenizer.train_new(raw["train"]["de"], raw["train"]["en"], min_frequency=2,
                                                model_max_length=64)
    train = tokenize_split(raw["train"], tok, 64, desc="tokenize train").dataset
    val = tokenize_split(raw["validation"], tok, 64, desc="tokenize val").dataset
    cut = sum(max(len(i), len(t)) > COURSE_LENGTH for i, t in zip(val["input_ids"], val["labels"]))
    model = CourseForTrainer(CourseModel(tok.src_vocab_size, tok.tgt_vocab_size))
    training_args = TrainingArguments(
        output_dir=args.output_dir, num_train_epochs=args.num_train_epochs, learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=256, optim="adamw_torch",
        weight_decay=0.0, lr_scheduler_type=args.lr_scheduler_type, eval_strategy="epoch", save_strategy="no",
        logging_steps=50, report_to="none", seed=args.seed, use_cpu=True,
    )
    trainer = Trainer(
        model=model, args=training_args, train_dataset=train, eval_dataset=val,
        data_collator=with_bos_label(tok.bos_token_id, tok.pad_token_id), compute_metrics=both_perplexities,
        preprocess_logits_for_metrics=preprocess_logits_for_metrics,
    )
    trainer.train()
    epochs = [{k: v for k, v in h.items() if k.startswith("eval_") or k == "epoch"}
              for h in trainer.state.log_history if "eval_perplexity" in h]
    result = {
        "command": " ".join(sys.argv),  # as typed, relative to "cwd"
        "cwd": os.getcwd(),
        "val_pairs_cut_at_43": cut,
        "best_by_course_definition": min(epochs, key=lambda e: e["eval_perplexity_course"]),
        "best_by_our_definition": min(epochs, key=lambda e: e["eval_perplexity"]),
        "epochs": epochs,
    }
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "results.json"), "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(json.dumps({k: result[k] for k in ("best_by_course_definition", "best_by_our_definition")}))
    return result


if __name__ == "__main__":
    main()
