"""``hf-onelayer COMMAND [ARGS]``: each command parses its own arguments with HfArgumentParser.

A user error (bad flag, file, config value; see ``errors.py``) ends with one line on stderr and exit
code 2; ``--debug`` anywhere on the line shows the traceback instead.

``COMMAND --help`` prints the text that the command's parser wrote at the versions pinned here
(``commands/help/``, rewritten by ``make help-texts`` and checked by a test), so that it answers without importing
torch and transformers; with other versions installed it asks the parser itself.
"""

import contextlib
import importlib
import io
import json
import os
import sys
from importlib.metadata import version
from pathlib import Path

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
    saved = saved_help(command, argv)
    if saved is not None:
        print(saved, end="")
        return 0
    try:
        importlib.import_module(f"hf_onelayer.commands.{command.replace('-', '_')}").main(argv)
    except Exception as error:
        if debug or not is_user_error(error):
            raise
        return report(f"hf-onelayer {command}", error)
    return 0


HELP_DIR = Path(__file__).parent / "commands" / "help"
HELP_VERSIONS = HELP_DIR / "versions.json"
HELP_COLUMNS = "100"  # the width the saved texts are written at


def _help_key(command: str, argv: list[str]) -> str | None:
    """The saved text's name for ``hf-onelayer COMMAND [SUBCOMMAND] --help``, or None when no help is asked for."""
    if not {"-h", "--help"} & set(argv):
        return None
    sub = argv[0] if argv and not argv[0].startswith("-") else None
    return f"{command}_{sub}" if sub else command


def _versions() -> dict:
    return {name: version(name) for name in ("hf-onelayer", "transformers")}


def saved_help(command: str, argv: list[str]) -> str | None:
    """The saved ``--help`` text of this command line, if it asks for help, one is saved, and it was written at the
    versions installed; else None (then the command's parser answers)."""
    key = _help_key(command, argv)
    path = HELP_DIR / f"{key}.txt"
    if key is None or not path.is_file() or not HELP_VERSIONS.is_file():
        return None
    if json.loads(HELP_VERSIONS.read_text(encoding="utf-8")) != _versions():
        return None
    return path.read_text(encoding="utf-8")


def live_help(command: str, sub: str | None = None) -> str:
    """What the command's parser prints for ``--help``, at the saved texts' width."""
    out, columns = io.StringIO(), os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            module = importlib.import_module(f"hf_onelayer.commands.{command.replace('-', '_')}")
            module.main([*([sub] if sub else []), "--help"])
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return out.getvalue()


def help_lines() -> dict[str, tuple[str, str | None]]:
    """Every saved text's name -> (command, subcommand): each command, and each of analyze's subcommands."""
    from .commands.analyze import SUBCOMMANDS

    lines = {command: (command, None) for command in COMMANDS}
    lines.update({f"analyze_{sub}": ("analyze", sub) for sub in SUBCOMMANDS})
    return lines


def write_help_texts() -> None:
    """Rewrite ``commands/help/`` from the parsers (``make help-texts``)."""
    HELP_DIR.mkdir(exist_ok=True)
    for old in HELP_DIR.glob("*.txt"):
        old.unlink()
    for key, (command, sub) in help_lines().items():
        (HELP_DIR / f"{key}.txt").write_text(live_help(command, sub), encoding="utf-8")
    HELP_VERSIONS.write_text(json.dumps(_versions(), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
