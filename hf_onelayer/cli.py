"""``hf-onelayer COMMAND [ARGS]``: each command parses its own arguments with HfArgumentParser."""

import importlib
import sys

from .utils import command_argv

COMMANDS = {
    "train": ("hf_onelayer.commands.train", "train a model with transformers.Trainer"),
    "search": ("hf_onelayer.commands.search", "hyper-parameter search (Trainer + Optuna), resumable; --report_dir for tables/plots"),
    "evaluate": ("hf_onelayer.commands.evaluate", "perplexity, BLEU, chrF and token accuracy on a split, as JSON"),
    "translate": ("hf_onelayer.commands.translate", "translate arguments or stdin lines"),
    "pretrain-vectors": ("hf_onelayer.commands.pretrain_vectors", "word2vec and GloVe vectors trained on the training split"),
    "model-card": ("hf_onelayer.commands.model_card", "write the model card of a trained run from its metrics"),
    "push": ("hf_onelayer.commands.push", "push a saved model (weights, tokenizer, code, card) to the Hub; token from HF_TOKEN"),
    "analyze": ("hf_onelayer.commands.analyze", "attention studies (simulate --study N) and trained-model analysis (model)"),
}


def main(argv: list[str] | None = None):
    argv = command_argv(argv)
    if not argv or argv[0] not in COMMANDS:
        lines = [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
        print("usage: hf-onelayer COMMAND [--help] [ARGS]\n\ncommands:\n" + "\n".join(lines), file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    module.main(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
