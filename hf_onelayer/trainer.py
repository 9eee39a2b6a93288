"""The Trainer wiring: ``TranslationTrainer``, ``build_trainer`` (collators, metrics), and the training
and evaluation runs that the ``train``, ``evaluate`` and ``search`` commands drive.

At the end of :func:`train` ``output_dir`` holds the best model (by val perplexity), its tokenizer,
their remote code, ``all_results.json`` (train, val and test metrics, world size, truncation counts),
``run_args.json`` and the model card (``README.md``).
"""

import fcntl
import json
import logging
import math
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import asdict

import torch
from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments, Trainer

from .arguments import check_training
from .data import tokenize_split
from .factory import make_model
from .run import new_tokenizer, read_data, tokenize_splits
from .kinds import kind_of
from .hub.model_card import build_card
from .models.pipeline_onelayer import OneLayerTranslationPipeline
from .models.tokenization_onelayer import OneLayerTranslatorTokenizer
from .errors import UserError
from .registration import register
from .utils import redact

logger = logging.getLogger(__name__)


class FusedLossMixin:
    """Training steps take the model's fused labelled-positions path, label-smoothed if asked.

    Evaluation (``return_outputs=True``) takes the usual path: full logits, unsmoothed loss.
    """

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if return_outputs or "labels" not in inputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        # read per step: a search trial may change label_smoothing_factor after __init__
        return model(**inputs, loss_positions_only=True, smoothing=self.args.label_smoothing_factor).loss

    # Trainer's train_loss averages the steps of this run only; each checkpoint records the sum of all
    # step losses so far, so that a resumed run reports the average over every step.
    LOSS_FILE = "train_loss_sum.json"

    def train(self, resume_from_checkpoint=None, **kwargs):
        path = os.path.join(resume_from_checkpoint, self.LOSS_FILE) if isinstance(resume_from_checkpoint, str) else ""
        self.loss_before = (0, 0.0)
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as handle:
                    saved = json.load(handle)
                self.loss_before = (saved["global_step"], saved["loss_sum"])
            except (ValueError, KeyError, TypeError):  # cut short by a kill (before it was written atomically)
                logger.warning("%s is unreadable: train_loss will average the resumed steps only", path)
        output = super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)
        steps, before = self.loss_before
        if steps and output.global_step > 0:
            loss = (before + output.training_loss * (output.global_step - steps)) / output.global_step
            output.metrics["train_loss"] = loss
            output = output._replace(training_loss=loss)
        return output

    def _save_checkpoint(self, model, trial):
        folder = os.path.join(self._get_output_dir(trial), f"checkpoint-{self.state.global_step}")
        try:
            super()._save_checkpoint(model, trial)
        except Exception as error:  # a full disk: torch says "enforce fail", Python ENOSPC
            if self.is_world_process_zero():
                shutil.rmtree(folder, ignore_errors=True)  # never leave a half checkpoint to resume from
            if isinstance(error, OSError) or "enforce fail" in str(error):
                raise UserError(f"cannot write {folder} ({' '.join(str(error).split())[:160]}); the partial "
                                "checkpoint was removed, so --resume_from_checkpoint last takes the one before") from None
            raise
        if self.is_world_process_zero():
            loss_sum = self.loss_before[1] + self._total_loss_scalar + self._tr_loss.item()  # logged + not yet logged
            path = os.path.join(folder, self.LOSS_FILE)
            with open(path + ".tmp", "w", encoding="utf-8") as handle:  # then renamed: a kill leaves no half file
                json.dump({"global_step": self.state.global_step, "loss_sum": loss_sum}, handle)
            os.replace(path + ".tmp", path)


class TranslationTrainer(FusedLossMixin, Trainer):
    """The course model's Trainer: evaluation batches offer every sentence its translation positions.

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

    def get_eval_dataloader(self, eval_dataset=None):
        return self._with_eval_collator(super().get_eval_dataloader, eval_dataset)

    def get_test_dataloader(self, test_dataset):
        return self._with_eval_collator(super().get_test_dataloader, test_dataset)


class Seq2SeqTranslationTrainer(FusedLossMixin, Seq2SeqTrainer):
    """The encoder–decoder's Seq2SeqTrainer: evaluation also gives the per-token perplexity of the references.

    ``eval_perplexity`` is exp of the NLL summed over every scored reference token (teacher-forced,
    never smoothed) divided by their number, as the course model's; BLEU and chrF score what
    ``generate`` writes (``predict_with_generate``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_smoother = None  # compute_loss smooths training losses itself; eval losses stay plain
        self._nll = torch.zeros(2, dtype=torch.float64)  # (NLL sum, tokens) of the evaluation under way

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None, **gen_kwargs):
        loss, generated, labels = super().prediction_step(model, inputs, prediction_loss_only, ignore_keys,
                                                          **gen_kwargs)
        if loss is not None and "labels" in inputs:
            tokens = int((inputs["labels"] != -100).sum())
            self._nll += torch.tensor([float(loss) * tokens, tokens], dtype=torch.float64)  # loss: the batch mean
        return loss, generated, labels

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix="eval"):
        # Seq2SeqTrainer gathers with plain `gather`, which under DDP keeps the samples repeated to even out
        # the last batch; `gather_for_metrics` drops them, so compute_metrics sees each sentence once.
        # (The perplexity's token sums below still count those few repeats.)
        self.gather_function = self.accelerator.gather_for_metrics
        self._nll.zero_()
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        nll, tokens = self.accelerator.reduce(self._nll.to(self.args.device), reduction="sum").tolist()
        if tokens:
            output.metrics[f"{metric_key_prefix}_perplexity"] = math.exp(nll / tokens)
            output.metrics[f"{metric_key_prefix}_n_tokens"] = int(tokens)
        return output


def build_trainer(model, tokenizer, args, train_dataset=None, eval_split=None, pad_to_multiple_of=None,
                  fixed_length=None, mixin=None, model_init=None, **trainer_kwargs) -> Trainer:
    """A Trainer wired with the model kind's collators and metrics (``ModelKind.build_trainer``):
    ``TranslationTrainer`` for the course model, ``Seq2SeqTranslationTrainer`` for the encoder–decoder.

    ``eval_split`` is a tokenized Dataset that still has the raw ``en`` references. With ``model_init``
    (hyper-parameter search) ``model`` is None; ``mixin`` (a class put before the kind's Trainer) and
    ``trainer_kwargs`` make a subclass.
    """
    config = model.config if model is not None else model_init().config
    trainer = kind_of(config).build_trainer(
        config, model, tokenizer, args, pad_to_multiple_of, fixed_length, mixin, model_init=model_init,
        train_dataset=train_dataset, eval_dataset=eval_split, **trainer_kwargs)
    if eval_split is not None:
        use_metrics_for(trainer, eval_split)
    return trainer


def use_metrics_for(trainer: Trainer, split) -> None:
    """Point ``trainer.compute_metrics`` at the references of ``split`` (a tokenized Dataset)."""
    config = (trainer.model or trainer.model_init()).config
    trainer.compute_metrics = kind_of(config).compute_metrics(trainer.processing_class, config, split)


UNK_WARNING = 0.05  # warn above this share of <unk> among the training target tokens


def target_unk_rate(tokenizer, texts) -> float:
    """Share of ``<unk>`` among the target-side tokens of ``texts`` (special tokens not counted)."""
    ids = [i for row in tokenizer(text_target=list(texts), add_special_tokens=False)["input_ids"] for i in row]
    return sum(i == tokenizer.unk_token_id for i in ids) / max(len(ids), 1)


def build_tokenizer(train_split, model_args, training_args, source_lang: str, target_lang: str) -> OneLayerTranslatorTokenizer:
    """Train the vocabularies on the training split (columns ``source_lang`` / ``target_lang``, which the tokenizer
    records); under DDP the main process trains, the others load."""
    path = os.path.join(training_args.output_dir, "tokenizer")
    with training_args.main_process_first(desc="train tokenizer"):
        if training_args.process_index == 0:
            tokenizer = new_tokenizer(train_split, model_args, (source_lang, target_lang))
            tokenizer.save_pretrained(path)
        else:
            tokenizer = OneLayerTranslatorTokenizer.from_pretrained(path)
    return tokenizer


def train(model_args, data_args, training_args, command: str) -> dict:
    """Train a new model as the arguments say; returns the metrics saved as ``all_results.json``.

    ``command`` is recorded (tokens redacted) in the model card as what produced the run. Bad flags are
    refused before any data is read; ``output_dir`` is locked while the run writes to it.
    """
    check_training(model_args, data_args, training_args)
    if training_args.hub_token:  # never written (training_args.bin, run_args.json): Trainer reads HF_TOKEN too
        os.environ["HF_TOKEN"], training_args.hub_token = training_args.hub_token, None
    check_output_dir(training_args.output_dir)
    with output_dir_lock(training_args):
        training_args.resume_from_checkpoint = checkpoint_to_resume(training_args)
        return _train(model_args, data_args, training_args, redact(command))


# What a training run writes into its --output_dir (checkpoint-N/ and TensorBoard's runs/ too); anything else there is
# the user's, and a run, which overwrites its own files and deletes its tokenizer/ and old checkpoints, refuses it.
TOKENIZER_FILES = {"tokenizer_config.json", "source_tokenizer.json", "target_tokenizer.json", "special_tokens_map.json",
                   "added_tokens.json", "chat_template.jinja"}
RUN_FILES = TOKENIZER_FILES | {
    ".hf-onelayer.lock", "README.md", "all_results.json", "train_results.json", "eval_results.json",
    "test_results.json", "config.json", "generation_config.json", "model.safetensors", "run_args.json", "trainer_state.json",
    "training_args.bin"}
MODEL_CODE = {name for name in os.listdir(os.path.join(os.path.dirname(__file__), "models"))  # the remote code
              if name.endswith(".py") and name != "__init__.py"}
RUN_MARKERS = ("run_args.json", "all_results.json", "trainer_state.json")  # a folder holding these holds a run


def foreign_entries(folder: str) -> list[str]:
    """The entries of ``folder`` that no training run writes: files of other names, tokenizer/ files that are not a
    tokenizer's, and a README.md in a folder that holds no run (then it is not our model card)."""
    if not os.path.isdir(folder):
        return []
    names = sorted(os.listdir(folder))
    holds_run = any(name in RUN_MARKERS or re.fullmatch(r"checkpoint-\d+", name) for name in names)
    foreign = []
    for name in names:
        path = os.path.join(folder, name)
        if name == "tokenizer" and os.path.isdir(path):
            foreign += [f"tokenizer/{n}" for n in sorted(os.listdir(path)) if n not in TOKENIZER_FILES | MODEL_CODE]
        elif name == "README.md" and not holds_run:
            foreign.append(name)
        elif not (name in RUN_FILES or name in MODEL_CODE or re.fullmatch(r"checkpoint-\d+|runs", name)):
            foreign.append(name)
    return foreign


def check_output_dir(folder: str) -> None:
    """Refuse an ``--output_dir`` holding files that a run did not write (as transformers' example scripts refuse a
    non-empty one), with or without --overwrite_output_dir: nothing of the user's is overwritten or deleted."""
    foreign = foreign_entries(folder)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise UserError(f"--output_dir {folder} holds files that no hf-onelayer run wrote ({shown}); a run would "
                        "overwrite or delete them: choose an empty or new --output_dir")


@contextmanager
def output_dir_lock(args):
    """Hold an exclusive lock on ``output_dir`` (main process), so that a second run into it is refused."""
    if args.process_index != 0:
        yield
        return
    os.makedirs(args.output_dir, exist_ok=True)
    path = os.path.join(args.output_dir, ".hf-onelayer.lock")
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"--output_dir {args.output_dir}: another run is writing there (it holds {path}); "
                            "wait for it, or choose another --output_dir") from None
        yield


def _readable_state(checkpoint: str) -> bool:
    """Whether ``checkpoint``'s trainer_state.json (Trainer saves it last) holds whole JSON: a run killed while
    saving leaves it missing, empty or cut short."""
    try:
        with open(os.path.join(checkpoint, "trainer_state.json"), encoding="utf-8") as handle:
            return isinstance(json.load(handle), dict)
    except (OSError, ValueError):
        return False


def last_complete_checkpoint(folder: str) -> str | None:
    """The newest checkpoint-N in ``folder`` that was written to the end; one cut short by a kill is passed over,
    with a warning."""
    names = sorted((name for name in (os.listdir(folder) if os.path.isdir(folder) else [])
                    if re.fullmatch(r"checkpoint-\d+", name)), key=lambda name: int(name.split("-")[1]), reverse=True)
    for name in names:
        if _readable_state(os.path.join(folder, name)):
            return os.path.join(folder, name)
        logger.warning("%s was not saved to the end (a run killed while saving?): passed over",
                       os.path.join(folder, name))
    return None


def checkpoint_to_resume(args) -> str | None:
    """The checkpoint folder to resume from ('last': the newest in ``output_dir``); refuses to overwrite a run."""
    value, out = args.resume_from_checkpoint, args.output_dir
    last = last_complete_checkpoint(out)
    finished = not args.overwrite_output_dir and os.path.exists(os.path.join(out, "all_results.json"))
    if finished:  # resumed or not, a finished run's results are never rewritten without --overwrite_output_dir
        raise UserError(f"--output_dir {out} holds a finished run (all_results.json); pass --overwrite_output_dir "
                        "true to replace it, or choose another --output_dir")
    if value in ("last", "true", "True"):
        if last is None:
            raise UserError(f"--resume_from_checkpoint {value}: no checkpoint-N folder saved to the end in "
                            f"--output_dir {out}")
        return last
    if value:
        if not os.path.isfile(os.path.join(value, "trainer_state.json")):
            raise UserError(f"--resume_from_checkpoint {value}: not a checkpoint folder (no trainer_state.json); "
                            "give a checkpoint-N folder, or 'last' for the newest in --output_dir")
        if not _readable_state(value):
            raise UserError(f"--resume_from_checkpoint {value}: its trainer_state.json is cut short (a run killed "
                            "while saving?); give an earlier checkpoint, or 'last' for the newest complete one")
        return value
    if not args.overwrite_output_dir and last is not None:
        raise UserError(f"--output_dir {out} holds {os.path.basename(last)} of an unfinished run; pass "
                        "--resume_from_checkpoint last to go on, or --overwrite_output_dir true to start over")
    return None


def _train(model_args, data_args, training_args, command: str) -> dict:
    raw = read_data(data_args)
    train_raw = raw["train"]
    resume = training_args.resume_from_checkpoint
    if resume and os.path.isfile(os.path.join(resume, "tokenizer_config.json")):
        # the checkpoint's own vocabulary: retraining it on changed data would not fit the saved weights
        tokenizer = OneLayerTranslatorTokenizer.from_pretrained(resume)
    else:
        tokenizer = build_tokenizer(train_raw, model_args, training_args, data_args.source_lang, data_args.target_lang)
    if (tokenizer.source_lang, tokenizer.target_lang) != (data_args.source_lang, data_args.target_lang):
        raise UserError(f"--resume_from_checkpoint {resume}: its tokenizer is {tokenizer.source_lang}->"
                        f"{tokenizer.target_lang}, not --source_lang {data_args.source_lang} --target_lang {data_args.target_lang}")
    train_unk = target_unk_rate(tokenizer, train_raw[tokenizer.target_lang])
    if train_unk > UNK_WARNING:
        logger.warning("the target vocabulary (%d types, --min_frequency %d) leaves %.1f %% of the training target "
                       "tokens <unk>: perplexity is then low for the wrong reason; lower --min_frequency",
                       tokenizer.tgt_vocab_size, model_args.min_frequency, 100 * train_unk)
    model = make_model(tokenizer, model_args, train_raw, training_args.seed)
    tokenizer.model_max_length = model.config.max_position_embeddings  # one length, saved with the model
    config = model.config
    logger.info("model: %s parameters, config %s", f"{model.num_parameters():,}", config.to_json_string())

    splits, truncated = tokenize_splits(raw, tokenizer, config.max_position_embeddings, config.is_encoder_decoder)

    if "validation" not in splits:
        training_args.eval_strategy = "no"
        training_args.load_best_model_at_end = False
    trainer = build_trainer(
        model, tokenizer, training_args, splits["train"], splits.get("validation"),
        data_args.pad_to_multiple_of, data_args.fixed_length,
    )
    if data_args.fixed_length:
        check_fixed_length(trainer, splits, data_args.fixed_length)
    train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model()  # model, tokenizer and their remote code
    trainer.save_state()  # trainer_state.json: the per-epoch eval history
    if trainer.is_world_process_zero():
        shutil.rmtree(os.path.join(training_args.output_dir, "tokenizer"), ignore_errors=True)  # saved above it
        save_pipeline(trainer.model, tokenizer, training_args.output_dir)

    metrics = dict(train_result.metrics)
    metrics.update(truncated)
    metrics.update(world_size=training_args.world_size, train_samples=len(splits["train"]), train_unk_rate=train_unk)
    searches = kind_of(config).final_searches(model)
    for name, prefix in (("validation", "eval"), ("test", "test")):
        if name in splits:
            use_metrics_for(trainer, splits[name])
            for suffix, generation in searches:
                metrics.update(trainer.evaluate(splits[name], metric_key_prefix=prefix + suffix, **generation))
            metrics[f"{prefix}_samples"] = len(splits[name])
    trainer.log_metrics("all", metrics)
    trainer.save_metrics("all", metrics, combined=False)
    if trainer.is_world_process_zero():
        with open(os.path.join(training_args.output_dir, "run_args.json"), "w", encoding="utf-8") as handle:
            json.dump({"model": asdict(model_args), "data": asdict(data_args), "training": training_args.to_dict()},
                      handle, indent=2, default=str)
        build_card(training_args.output_dir, command).save(os.path.join(training_args.output_dir, "README.md"))
    return metrics


def check_fixed_length(trainer, splits: dict, fixed_length: int) -> None:
    """Refuse a ``--fixed_length`` that a sentence of ``splits`` does not fit in, before training starts (the
    course model's collators would refuse its batch mid-run)."""
    for name, split in splits.items():
        collator = trainer.data_collator if name == "train" else trainer.eval_data_collator
        needed = collator.needed_width([{"input_ids": ids, "labels": labels}
                                        for ids, labels in zip(split["input_ids"], split["labels"])])
        if needed > fixed_length:
            raise UserError(f"--fixed_length {fixed_length}: the {name} split needs {needed} positions (its longest "
                            f"sentence pair, tokenized{', with its decoding length' if name != 'train' else ''}); "
                            f"give at least {needed}, or drop the flag")


def save_pipeline(model, tokenizer, folder: str) -> None:
    """Save ``model`` and ``tokenizer`` with the translation pipeline's code and its ``custom_pipelines`` entry,
    so that ``pipeline(model=folder, trust_remote_code=True)`` translates. The saved tokenizer's ``model_max_length``
    is the model's ``max_position_embeddings``."""
    tokenizer.model_max_length = model.config.max_position_embeddings
    register()  # the task's custom_pipelines entry comes from the pipeline registry
    OneLayerTranslationPipeline(model=model, tokenizer=tokenizer).save_pretrained(folder)


def evaluate_model(model, tokenizer, dataset, batch_size: int = 256, num_beams: int | None = None,
                   **generate_kwargs) -> dict:
    """Metrics of ``model`` on ``dataset`` (columns ``tokenizer.source_lang`` and ``target_lang``): the same
    evaluation as training's.

    ``num_beams`` and ``generate_kwargs`` (``max_length``, ``length_penalty``): the encoder–decoder's search
    (None: its generation config's; the course model has none).
    """
    kind = kind_of(model)
    generation = kind.search(num_beams, strict=False, **generate_kwargs)
    tokenized = tokenize_split(dataset, tokenizer, model.config.max_position_embeddings, desc="tokenize",
                               decoder=kind.is_encoder_decoder)
    with tempfile.TemporaryDirectory() as tmp:
        args = Seq2SeqTrainingArguments(output_dir=tmp, per_device_eval_batch_size=batch_size, report_to="none",
                                        predict_with_generate=True)
        trainer = build_trainer(model, tokenizer, args, eval_split=tokenized.dataset)
        metrics = trainer.evaluate(metric_key_prefix="eval", **generation)
    result = {k[len("eval_"):]: v for k, v in metrics.items() if k.startswith("eval_")  # not Trainer's "epoch"
              and k not in ("eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second",
                            "eval_model_preparation_time")}
    if kind.is_encoder_decoder:
        result["num_beams"] = generation.get("num_beams", model.generation_config.num_beams)
    return {**result, "n_sentences": len(dataset), "n_truncated": tokenized.n_truncated}
