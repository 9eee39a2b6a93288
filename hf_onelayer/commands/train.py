"""``hf-onelayer train``: train a new translator with ``transformers.Trainer``.

    hf-onelayer train training/configs/default.json --data_dir ../shared/data/multi30k
    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \
        --dynamo_backend no --num_cpu_threads_per_process 1 training/train.py training/configs/default.json ...

Flags override the JSON file; ``--help`` lists them.
"""

import logging

import torch
import transformers
from transformers import set_seed

from ..arguments import DataArguments, ModelArguments, OneLayerTrainingArguments, parse
from ..trainer import train
from ..utils import command_argv


def main(argv: list[str] | None = None) -> dict:
    argv = command_argv(argv)
    model_args, data_args, training_args = parse(
        (ModelArguments, DataArguments, OneLayerTrainingArguments), argv, prog="hf-onelayer train"
    )
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    if training_args.should_log:
        transformers.utils.logging.set_verbosity_info()
    set_seed(training_args.seed)
    try:
        return train(model_args, data_args, training_args, command="hf-onelayer train " + " ".join(argv))
    finally:
        # under `accelerate launch`, a gloo process group still alive at exit can abort a finished process
        # ("terminate called without an active exception"): close it, as torch asks
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
