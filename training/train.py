"""Train the one-layer translator with transformers.Trainer.

    python training/train.py training/configs/default.json --data_dir ../shared/data/multi30k
    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \
        --dynamo_backend no --num_cpu_threads_per_process 1 training/train.py training/configs/default.json ...

Flags override the JSON file; see `python training/train.py --help`. The code lives in
hf_onelayer.trainer; the command is `hf-onelayer train` (bad input: one line, exit code 2).
"""

import sys

from hf_onelayer.cli import run

if __name__ == "__main__":
    sys.exit(run("train", sys.argv[1:]))
