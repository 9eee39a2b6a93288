"""The Trainer wiring: ``TranslationTrainer``, ``build_trainer`` (collators, metrics), and the training
and evaluation runs that the ``train``, ``evaluate`` and ``search`` commands drive.

At the end of :func:`train` ``output_dir`` holds the best model (by val perplexity), its tokenizer,
their remote code, ``all_results.json`` (train, val and test metrics, world size, truncation counts),
``run_args.json`` and the model card (``README.md``).
"""

import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict

from transformers import Trainer, TrainingArguments

from .data import TranslationCollator, load_translation_data, tokenize_split
from .factory import make_model
from .hub.model_card import build_card
from .metrics import TranslationMetrics, preprocess_logits_for_metrics
from .models.configuration_onelayer import OneLayerTranslatorConfig
from .models.tokenization_onelayer import OneLayerTranslatorTokenizer
from .utils import first

logger = logging.getLogger(__name__)


class TranslationTrainer(Trainer):
    """Trainer whose evaluation batches offer every sentence its translation positions.

    Training batches are padded to the longest source/target in the batch and the loss is computed at
    labelled positions only (``loss_positions_only``); evaluation batches also
    cover ``decode_length`` of each source, so the BLEU measured here is the BLEU of ``translate``.
    """

    def __init__(self, *args, eval_data_collator=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_smoother = None  # compute_loss smooths training losses itself; eval losses stay plain
        self.eval_data_collator = eval_data_collator or self.data_collator

    def _with_eval_collator(self, build, dataset):
        train_collator, self.data_collator = self.data_collator, self.eval_data_collator
        try:
            return build(dataset)
        finally:
            self.data_collator = train_collator

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Training steps take the model's fused labelled-positions path, label-smoothed if asked.

        Evaluation (``return_outputs=True``) takes the usual path: full logits, unsmoothed loss.
        """
        if return_outputs or "labels" not in inputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        # read per step: a search trial may change label_smoothing_factor after __init__
        return model(**inputs, loss_positions_only=True, smoothing=self.args.label_smoothing_factor).loss

    def get_eval_dataloader(self, eval_dataset=None):
        return self._with_eval_collator(super().get_eval_dataloader, eval_dataset)

    def get_test_dataloader(self, test_dataset):
        return self._with_eval_collator(super().get_test_dataloader, test_dataset)


def build_trainer(model, tokenizer, args, train_dataset=None, eval_split=None, pad_to_multiple_of=None,
                  fixed_length=None, trainer_class=None, model_init=None, **trainer_kwargs) -> TranslationTrainer:
    """A Trainer wired with our collators, metrics and logits reduction.

    ``eval_split`` is a tokenized Dataset that still has the raw ``en`` references. With ``model_init``
    (hyper-parameter search) ``model`` is None; ``trainer_class`` and ``trainer_kwargs`` pick a subclass.
    """
    config = model.config if model is not None else model_init().config
    collate = dict(pad_token_id=config.pad_token_id, config=config,
                   pad_to_multiple_of=pad_to_multiple_of, fixed_length=fixed_length)
    trainer = (trainer_class or TranslationTrainer)(
        model=model,
        model_init=model_init,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_split,
        processing_class=tokenizer,
        data_collator=TranslationCollator(**collate),
        eval_data_collator=TranslationCollator(**collate, decoding_positions=True),
        preprocess_logits_for_metrics=preprocess_logits_for_metrics,
        **trainer_kwargs,
    )
    if eval_split is not None:
        use_metrics_for(trainer, eval_split)
    return trainer


def use_metrics_for(trainer: Trainer, split) -> None:
    """Point ``trainer.compute_metrics`` at the references of ``split`` (a tokenized Dataset)."""
    trainer.compute_metrics = TranslationMetrics(
        trainer.processing_class, trainer.model.config, split["en"], [len(ids) for ids in split["input_ids"]]
    )


def build_tokenizer(train_split, model_args, training_args) -> OneLayerTranslatorTokenizer:
    """Train the vocabularies on the training split; under DDP the main process trains, the others load."""
    path = os.path.join(training_args.output_dir, "tokenizer")
    with training_args.main_process_first(desc="train tokenizer"):
        if training_args.process_index == 0:
            tokenizer = OneLayerTranslatorTokenizer.train_new(
                train_split["de"], train_split["en"], min_frequency=model_args.min_frequency,
                model=model_args.tokenizer_model, vocab_size=model_args.tokenizer_vocab_size,
                model_max_length=model_args.max_position_embeddings or OneLayerTranslatorConfig().max_position_embeddings,
            )
            tokenizer.save_pretrained(path)
        else:
            tokenizer = OneLayerTranslatorTokenizer.from_pretrained(path)
    return tokenizer


def train(model_args, data_args, training_args, command: str) -> dict:
    """Train a new model as the arguments say; returns the metrics saved as ``all_results.json``.

    ``command`` is recorded in the model card as what produced the run.
    """
    raw = load_translation_data(
        data_args.data_dir, data_args.dataset_name, data_args.train_file, data_args.validation_file,
        data_args.test_file,
    )
    if "train" not in raw:
        raise ValueError("training needs a train split (train.de/train.en, or --train_file)")
    train_raw = first(raw["train"], data_args.max_train_samples)
    tokenizer = build_tokenizer(train_raw, model_args, training_args)
    model = make_model(tokenizer, model_args, train_raw, training_args.seed)
    config = model.config
    logger.info("model: %s parameters, config %s", f"{model.num_parameters():,}", config.to_json_string())

    splits, truncated = {}, {}
    for name, dataset in (("train", train_raw), ("validation", raw.get("validation")), ("test", raw.get("test"))):
        if dataset is None:
            continue
        if name != "train":
            dataset = first(dataset, data_args.max_eval_samples)
        tokenized = tokenize_split(dataset, tokenizer, config.max_position_embeddings, desc=f"tokenize {name}")
        splits[name], truncated[f"{name}_truncated"] = tokenized.dataset, tokenized.n_truncated

    if "validation" not in splits:
        training_args.eval_strategy = "no"
        training_args.load_best_model_at_end = False
    trainer = build_trainer(
        model, tokenizer, training_args, splits["train"], splits.get("validation"),
        data_args.pad_to_multiple_of, data_args.fixed_length,
    )
    train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model()  # model, tokenizer and their remote code
    trainer.save_state()  # trainer_state.json: the per-epoch eval history
    if trainer.is_world_process_zero():
        shutil.rmtree(os.path.join(training_args.output_dir, "tokenizer"), ignore_errors=True)  # saved above it

    metrics = dict(train_result.metrics)
    metrics.update(truncated)
    metrics.update(world_size=training_args.world_size, train_samples=len(splits["train"]))
    for name, prefix in (("validation", "eval"), ("test", "test")):
        if name in splits:
            use_metrics_for(trainer, splits[name])
            metrics.update(trainer.evaluate(splits[name], metric_key_prefix=prefix))
            metrics[f"{prefix}_samples"] = len(splits[name])
    trainer.log_metrics("all", metrics)
    trainer.save_metrics("all", metrics, combined=False)
    if trainer.is_world_process_zero():
        with open(os.path.join(training_args.output_dir, "run_args.json"), "w", encoding="utf-8") as handle:
            json.dump({"model": asdict(model_args), "data": asdict(data_args), "training": training_args.to_dict()},
                      handle, indent=2, default=str)
        build_card(training_args.output_dir, command).save(os.path.join(training_args.output_dir, "README.md"))
    return metrics


def evaluate_model(model, tokenizer, dataset, batch_size: int = 256) -> dict:
    """Metrics of ``model`` on ``dataset`` (rows with ``de`` and ``en``): the same evaluation as training's."""
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
