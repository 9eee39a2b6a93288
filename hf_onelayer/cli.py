"""``hf-onelayer COMMAND [ARGS]``: each command parses its own arguments with HfArgumentParser.

A user error (bad flag, file, config value; see ``errors.py``) ends with one line on stderr and exit
code 2; ``--debug`` anywhere on the line shows the traceback instead.
"""

import importlib
import sys

from .errors import is_user_error, report
from .utils import command_argv

# each command's module is hf_onelayer.commands.<name, '-' as '_'>, with a main(argv)
COMMANDS = {
    "train": "train a model with transformers.Trainer",
    "search": "hyper-parameter search (Trainer + Optuna), resumable; --report_dir for tables/plots",
    "evaluate": "perplexity, BLEU, chrF and token accuracy on a split, as JSON",
    "translate": "translate arguments or stdin lines",
    "pretrain-vectors": "word2vec and GloVe vectors trained on the training split",
    "model-card": "write the model card of a trained run from its metrics",
    "push": "push a saved model (weights, tokenizer, code, card) to the Hub; token from HF_TOKEN",
    "analyze": "attention studies (simulate --study N) and trained-model analysis (model)",
    "distill": "a teacher's beam translations of the training split, for a student (resumable)",
    "average": "the mean of several checkpoints' weights as one saved model",
    "export-ct2": "a saved encoder-decoder as a CTranslate2 folder (int8/int16/float32) for fast CPU translation",
    "explore": "the attention explorer in the browser (Gradio): translate, heatmaps, Problem 1 live",
}


def main(argv: list[str] | None = None) -> int:
    argv = command_argv(argv)
    if not argv or argv[0] not in COMMANDS:
        lines = [f"  {name:<10} {help_}" for name, help_ in COMMANDS.items()]
        usage = "usage: hf-onelayer COMMAND [--help] [--debug] [ARGS]\n\ncommands:\n" + "\n".join(lines)
        if argv and argv[0] in ("-h", "--help"):
            print(usage)
            return 0
        print(f"hf-onelayer: unknown command {argv[0]!r}; one of {', '.join(COMMANDS)}" if argv else usage,
              file=sys.stderr)
        return 2
    return run(argv[0], argv[1:])


def run(command: str, argv: list[str]) -> int:
    """Run one command; a user error becomes one line on stderr and exit code 2 (unless ``--debug``)."""
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        importlib.import_module(f"hf_onelayer.commands.{command.replace('-', '_')}").main(argv)
    except Exception as error:
        if debug or not is_user_error(error):
            raise
        return report(f"hf-onelayer {command}", error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
