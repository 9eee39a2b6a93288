"""``hf-onelayer average``: the mean of several checkpoints' weights as one complete saved model.

    hf-onelayer average --checkpoints runs/x/checkpoint-900 runs/x/checkpoint-1350 --output_dir runs/avg
    hf-onelayer average --run runs/x --last 3 --output_dir runs/avg      # train with --save_total_limit 3
"""

from dataclasses import dataclass, field

from ..arguments import parse
from ..distill import average, checkpoints_of
from ..errors import UserError
from ..utils import command_argv, redact


@dataclass
class AverageArguments:
    output_dir: str = field(metadata={"help": "where the averaged model goes"})
    checkpoints: list[str] = field(default_factory=list, metadata={"help": "saved folders of one model"})
    run: str | None = field(default=None, metadata={"help": "a training run whose newest checkpoints to average"})
    last: int | None = field(default=None, metadata={"help": "with --run: how many checkpoints"})


def main(argv: list[str] | None = None) -> str:
    (args,) = parse(AverageArguments, argv, "hf-onelayer average")
    if bool(args.checkpoints) == bool(args.run):
        raise UserError("give --checkpoints A B ... or --run DIR --last N")
    if args.run and (args.last is None or args.last < 2):
        raise UserError(f"--last must be >= 2 with --run, got {args.last}")
    checkpoints = args.checkpoints or checkpoints_of(args.run, args.last)
    out = average(checkpoints, args.output_dir, redact("hf-onelayer average " + " ".join(command_argv(argv))))
    print(out)
    return out
