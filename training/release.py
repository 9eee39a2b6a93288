"""Publish a finished run as a released model: ``release/seq2seq`` or ``release/course`` in the repository.

    python training/release.py --run runs/release --data_dir ../shared/data/multi30k --command "make release" \
        --out release/course

Copies the files `hf-onelayer push` would upload (weights, config, tokenizer, code, metrics; no
pickles, checkpoints or logs) into ``--out`` after writing the model card from the run's metrics
(with best/worst examples from test_2016_flickr), refuses a model over 25 MB, and with ``--card``
writes the same card there (``model_card.md`` is the card of the default model, the encoder–decoder).
"""

import os
import shutil
from dataclasses import dataclass, field

from transformers import HfArgumentParser

from hf_onelayer.commands.model_card import main as model_card
from hf_onelayer.hub.push import files_to_push

LIMIT_MB = 25


@dataclass
class ReleaseArguments:
    run: str = field(metadata={"help": "a finished `hf-onelayer train` output folder"})
    data_dir: str = field(metadata={"help": "Multi30k raw files (for the card's examples)"})
    command: str = field(metadata={"help": "the command that produced the run, for the card"})
    out: str = "release/seq2seq"
    card: str | None = None


def main():
    (args,) = HfArgumentParser(ReleaseArguments).parse_args_into_dataclasses()
    size_mb = os.path.getsize(os.path.join(args.run, "model.safetensors")) / 2**20
    if size_mb > LIMIT_MB:
        raise SystemExit(f"{args.run}/model.safetensors is {size_mb:.1f} MB, over the {LIMIT_MB} MB limit for {args.out}")
    model_card(["--model", args.run, "--command", args.command, "--data_dir", args.data_dir])  # run/README.md
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    for name in files_to_push(args.run):
        shutil.copy2(os.path.join(args.run, name), os.path.join(args.out, name))
    if args.card:
        shutil.copy2(os.path.join(args.out, "README.md"), args.card)
    print(f"{args.out}/ ({size_mb:.1f} MB of weights) written" + (f", and {args.card}" if args.card else ""))


if __name__ == "__main__":
    main()
