"""``hf-onelayer search``: hyper-parameter search (Trainer + Optuna), resumable; ``--report_dir`` writes
the trials table and plots instead.

    hf-onelayer search training/configs/default.json --data_dir ../shared/data/multi30k \
        --output_dir runs/search --n_trials 20
    hf-onelayer search ... --report_dir reports/hparam_search     # table + Optuna plots, no training
"""

import json
import logging

import transformers
from transformers import set_seed

from ..arguments import DataArguments, ModelArguments, OneLayerTrainingArguments, parse
from ..search.study import SearchArguments, run_search, write_search_report
from ..utils import command_argv


def main(argv: list[str] | None = None):
    argv = command_argv(argv)
    model_args, data_args, training_args, search_args = parse(
        (ModelArguments, DataArguments, OneLayerTrainingArguments, SearchArguments), argv, prog="hf-onelayer search",
    )
    if search_args.report_dir:
        base = {}
        if argv and argv[0].endswith(".json"):
            with open(argv[0], encoding="utf-8") as handle:
                base = json.load(handle)
        return write_search_report(search_args, training_args.output_dir, base)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity_warning()
    set_seed(training_args.seed)
    return run_search(model_args, data_args, training_args, search_args)


if __name__ == "__main__":
    main()
