"""The hyper-parameter study: ``Trainer.hyperparameter_search`` (Optuna backend, ``model_init``).

    hf-onelayer search training/configs/default.json --data_dir ../shared/data/multi30k \
        --output_dir runs/search --n_trials 20
    hf-onelayer search ... --report_dir reports/hparam_search     # table + Optuna plots, no training

Every trial trains for the config's fixed epoch budget (``num_train_epochs`` is not searched) and is
scored by its best val perplexity so far (never label-smoothed); the encoder–decoder's by its best
val BLEU (``--model_type onelayer_seq2seq``). Each epoch's score goes to Optuna's
pruner at step = epoch, so trials with different batch sizes are compared at the same point. The
study lives in SQLite (``--storage``): a killed search resumes where it stopped, and a trial that
was running when it died is retried (Optuna's heartbeat + ``RetryHeartbeatStaleTrialCallback``).

Searched: learning rate, batch size, scheduler and warmup, dropouts, weight decay, label smoothing,
hidden size, heads, q/k and v dims, FFN size, the tokenizer's ``min_frequency``, pre/post norm and the
embedding init (``space.py``). ``min_frequency`` stops at 3 because a smaller vocabulary buys
perplexity with ``<unk>`` (each trial records its val ``unk_rate``). ``min_frequency`` changes the
vocabulary, so each value gets its own tokenizer and tokenized splits (cached), swapped into the
Trainer when the trial starts.
"""

import json
import logging
import os
from dataclasses import dataclass, field, replace

from ..arguments import ModelArguments, check_training
from ..errors import UserError
from ..factory import make_model
from ..kinds import KINDS
from ..run import new_tokenizer, positions, read_data, tokenize_splits
from ..trainer import build_trainer, use_metrics_for
from .space import MODEL_KEYS, SPACE, TRAINING_KEYS, search_space

logger = logging.getLogger(__name__)


@dataclass
class SearchArguments:
    n_trials: int = field(default=20, metadata={"help": "trials in the study in all (finished ones count on resume)"})
    study_name: str = "onelayer"
    storage: str | None = field(default=None, metadata={"help": "Optuna storage URL (default sqlite:///OUTPUT_DIR/study.db)"})
    vectors_dir: str | None = field(
        default=None, metadata={"help": "`hf-onelayer pretrain-vectors` output: adds word2vec/GloVe to the embedding choices"}
    )
    bert: str | None = field(default=None, metadata={"help": "BERT folder: adds bert-tgt to the embedding choices"})
    enqueue_defaults: bool = field(
        default=True, metadata={"help": "run the given config as the first trial (the baseline)"}
    )
    prune_after: int = field(default=2, metadata={"help": "the first epoch at which a trial may be pruned"})
    sampler_seed: int = 0
    timeout_s: float | None = field(default=None, metadata={"help": "start no new trial after this many seconds"})
    report_dir: str | None = field(default=None, metadata={"help": "only write the trials table and plots here"})
    enqueue: str | None = field(
        default=None, metadata={"help": "JSON list of full parameter sets to try before sampling (each added once)"}
    )


def embedding_choices(search_args: SearchArguments) -> dict[str, dict]:
    """Embedding-init name -> ModelArguments fields, for the inits whose files are at hand."""
    choices = {"random": {}}
    vec = search_args.vectors_dir
    if vec and os.path.exists(os.path.join(vec, "word2vec.en.bin")):
        choices["word2vec"] = {"src_embeddings": f"word2vec:{vec}/word2vec.de.bin",
                               "tgt_embeddings": f"word2vec:{vec}/word2vec.en.bin"}
    if vec and os.path.exists(os.path.join(vec, "glove.en.txt")):
        choices["glove"] = {"src_embeddings": f"glove:{vec}/glove.de.txt", "tgt_embeddings": f"glove:{vec}/glove.en.txt"}
    if search_args.bert:
        choices["bert-tgt"] = {"tgt_embeddings": f"bert:{search_args.bert}"}
    return choices


def objective(model_args: ModelArguments) -> tuple[str, str]:
    """(val metric, direction) a study ranks trials by: the course model's perplexity, the encoder–decoder's BLEU."""
    kind = KINDS[model_args.model_type]
    return kind.selection, "maximize" if kind.greater_is_better else "minimize"


def baseline_trial(model_args: ModelArguments, training_args) -> dict:
    """The configuration the search starts from (its JSON file + flags) as a point of the space: trial 0."""
    if model_args.src_embeddings or model_args.tgt_embeddings:
        raise UserError("search from a config without --src_embeddings/--tgt_embeddings: the search picks the init")
    if model_args.tokenizer_model != "word" and objective(model_args)[0] == "perplexity":
        raise UserError(f"--tokenizer_model {model_args.tokenizer_model}: the search ranks trials by perplexity, "
                         "which compares only within word-level vocabularies (it searches min_frequency); use 'word'")
    config = KINDS[model_args.model_type].config_class(**model_args.architecture())
    trial = {k: getattr(training_args, k) for k in TRAINING_KEYS}
    trial["lr_scheduler_type"] = getattr(trial["lr_scheduler_type"], "value", trial["lr_scheduler_type"])
    trial["warmup_steps"] = float(trial["warmup_steps"])
    trial.update({k: getattr(config, k) for k in MODEL_KEYS})
    trial.update(min_frequency=model_args.min_frequency, embedding_init="random")
    return trial


class SearchData:
    """Tokenizer and tokenized splits per ``min_frequency``, built once each."""

    def __init__(self, raw, model_args: ModelArguments, languages: tuple[str, str]):
        self.raw, self.model_args, self.cache, self.languages = raw, model_args, {}, languages

    def get(self, min_frequency: int):
        if min_frequency not in self.cache:
            tokenizer = new_tokenizer(self.raw["train"], self.model_args, self.languages, min_frequency)
            splits, _ = tokenize_splits(self.raw, tokenizer, positions(self.model_args),
                                        KINDS[self.model_args.model_type].is_encoder_decoder,
                                        ("train", "validation"), f" (min_frequency {min_frequency})")
            self.cache[min_frequency] = (tokenizer, splits)
        return self.cache[min_frequency]


class SearchMixin:
    """A trainer that swaps in the trial's vocabulary and reports (best val metric so far, epoch) to Optuna."""

    def __init__(self, *args, search_data: SearchData, embeddings: list[str], metric: str = "perplexity",
                 direction: str = "minimize", **kwargs):
        super().__init__(*args, **kwargs)
        self.search_data, self.embeddings, self.metric = search_data, embeddings, metric
        self.better = min if direction == "minimize" else max
        self.best = None

    def _hp_search_setup(self, trial):
        super()._hp_search_setup(trial)
        if trial is None:
            return
        self.best = None
        tokenizer, splits = self.search_data.get(search_space(trial, self.embeddings)["min_frequency"])
        self.processing_class, self.train_dataset, self.eval_dataset = tokenizer, splits["train"], splits["validation"]
        use_metrics_for(self, splits["validation"])

    def best_so_far(self, metrics: dict) -> float:
        """Objective: the best val metric up to this evaluation (the model kept is the best epoch's)."""
        value = metrics[f"eval_{self.metric}"]
        self.best = value if self.best is None else self.better(self.best, value)
        return self.best

    def _report_to_hp_search(self, trial, step, metrics):
        if trial is None or not hasattr(trial, "report"):
            return super()._report_to_hp_search(trial, step, metrics)
        import optuna

        self.objective = self.best_so_far(metrics)
        epoch = round(self.state.epoch)
        trial.report(self.objective, epoch)
        trial.set_user_attr(f"epoch{epoch}", {k: metrics.get(f"eval_{k}") for k in ("perplexity", "bleu", "unk_rate")})
        trial.set_user_attr("epochs_run", epoch)
        trial.set_user_attr("n_parameters", self.model.num_parameters())
        if trial.should_prune():
            self.callback_handler.on_train_end(self.args, self.state, self.control)
            raise optuna.TrialPruned()


def enqueue_from_file(study, path: str) -> int:
    """Queue the parameter sets listed in ``path`` that the study has not seen yet; returns how many."""
    with open(path, encoding="utf-8") as handle:
        wanted = json.load(handle)
    if not isinstance(wanted, list) or not all(isinstance(p, dict) for p in wanted):
        raise UserError(f"{path}: expected a JSON list of objects (parameter name -> value)")
    known = [t.params or t.system_attrs.get("fixed_params", {}) for t in study.trials]
    added = 0
    for i, params in enumerate(wanted):
        unknown = set(params) ^ set(SPACE)
        if unknown:
            raise UserError(f"{path}: entry {i}: parameters {sorted(unknown)} missing or unknown")
        if params not in known:
            study.enqueue_trial(params)
            known.append(params)
            added += 1
    return added


def make_model_init(search_data: SearchData, model_args: ModelArguments, choices: dict, seed: int, baseline: dict):
    def model_init(trial=None):
        params = baseline if trial is None else search_space(trial, list(choices))
        tokenizer, splits = search_data.get(params["min_frequency"])
        fields = {k: params[k] for k in MODEL_KEYS}
        fields.update(src_embeddings=None, tgt_embeddings=None, min_frequency=params["min_frequency"])
        fields.update(choices[params["embedding_init"]])
        return make_model(tokenizer, replace(model_args, **fields), search_data.raw["train"], seed)

    return model_init


def open_study(search_args: SearchArguments, output_dir: str):
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    url = search_args.storage or f"sqlite:///{os.path.join(output_dir, 'study.db')}"
    os.makedirs(output_dir, exist_ok=True)
    storage = RDBStorage(url, heartbeat_interval=60, grace_period=180,
                         heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1))
    return dict(
        study_name=search_args.study_name, storage=storage, load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=search_args.sampler_seed, n_startup_trials=6, multivariate=True),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=search_args.prune_after),
    )


def write_search_report(search_args: SearchArguments, output_dir: str, base_config: dict) -> list[dict]:
    """The trials table, plots and ``tuned.json`` of the study in ``output_dir`` (no training)."""
    import optuna

    from .report import write_report

    storage = open_study(search_args, output_dir)["storage"]
    study = optuna.load_study(study_name=search_args.study_name, storage=storage)
    return write_report(study, search_args.report_dir, base_config, embedding_choices(search_args))


def run_search(model_args, data_args, training_args, search_args: SearchArguments):
    """Run (or resume) the study until it holds ``n_trials`` finished trials; returns the best run or None."""
    import optuna

    baseline = baseline_trial(model_args, training_args)  # refuses bad flags before the study is made
    check_training(model_args, data_args, training_args)  # the same checks as a training run's
    study_kwargs = open_study(search_args, training_args.output_dir)
    metric, direction = objective(model_args)
    study = optuna.create_study(direction=direction, **study_kwargs)
    if search_args.enqueue_defaults and not study.trials:
        study.enqueue_trial(baseline)
    if search_args.enqueue:
        enqueue_from_file(study, search_args.enqueue)
    done = [t for t in study.trials if t.state.is_finished()]
    remaining = search_args.n_trials - len(done)
    logger.info("study %s: %d trials finished, %d to run", search_args.study_name, len(done), max(remaining, 0))
    if remaining <= 0:
        return None
    budget = study.user_attrs.get("num_train_epochs")
    if budget is not None and budget != training_args.num_train_epochs:
        raise UserError(f"study {search_args.study_name} trains {budget} epochs per trial; "
                         f"--num_train_epochs {training_args.num_train_epochs} would break its fixed budget")
    study.set_user_attr("num_train_epochs", training_args.num_train_epochs)  # the budget tuned.json keeps

    raw = read_data(data_args)
    search_data = SearchData(raw, model_args, (data_args.source_lang, data_args.target_lang))
    # pretrained initialisers serve the course model only so far
    choices = {"random": {}} if KINDS[model_args.model_type].is_encoder_decoder else embedding_choices(search_args)
    logger.info("embedding choices: %s", json.dumps(choices))

    # trials save nothing; the epoch budget is the config's, the same for every trial
    training_args.save_strategy = "no"
    training_args.load_best_model_at_end = False
    training_args.report_to = []
    tokenizer, splits = search_data.get(model_args.min_frequency)
    model_init = make_model_init(search_data, model_args, choices, training_args.seed, baseline)
    trainer = build_trainer(None, tokenizer, training_args, splits["train"], splits["validation"],
                            mixin=SearchMixin,
                            model_init=model_init, search_data=search_data, embeddings=list(choices), metric=metric,
                            direction=direction)

    best = trainer.hyperparameter_search(
        hp_space=lambda trial: {k: v for k, v in search_space(trial, list(choices)).items() if k in TRAINING_KEYS},
        compute_objective=trainer.best_so_far, n_trials=remaining, direction=direction, backend="optuna",
        timeout=search_args.timeout_s, **study_kwargs,
    )
    logger.info("best trial %s: val %s %.2f, %s", best.run_id, metric, best.objective, best.hyperparameters)
    return best
