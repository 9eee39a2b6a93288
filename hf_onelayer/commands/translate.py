"""``hf-onelayer translate``: translate arguments, or stdin lines, with a saved model.

    hf-onelayer translate "Ein Mann fährt Fahrrad." "Zwei Hunde spielen im Schnee."   # the released model
    echo "Ein Hund rennt." | hf-onelayer translate --model DIR
    hf-onelayer translate --engine ctranslate2 --model CT2_DIR "Ein Hund rennt."      # from hf-onelayer export-ct2
"""

import io
import sys
from dataclasses import dataclass, field
from typing import Literal

from ..errors import UserError
from ..utils import byte_lines, command_argv
from . import MODEL_HELP, parse_light, require_at_least_one

ENGINES = ("transformers", "ctranslate2")


@dataclass
class TranslateArguments:
    model: str | None = field(default=None, metadata={"help": MODEL_HELP + "; with --engine ctranslate2 a folder "
                                                              "written by hf-onelayer export-ct2"})
    engine: Literal[ENGINES] = field(default="transformers", metadata={
        "help": "'transformers' (generate()) or 'ctranslate2' (an export-ct2 folder; pip install 'hf-onelayer[ct2]')"})
    batch_size: int = 64
    num_beams: int | None = field(default=None, metadata={"help": "encoder-decoder: beam width (default: the model's, 5)"})
    max_length: int | None = field(default=None, metadata={"help": "encoder-decoder: at most this many output "
                                                                   "positions, <s> included (default: the model's)"})
    length_penalty: float | None = field(default=None, metadata={"help": "encoder-decoder: beam scores divided by "
                                                                         "length**length_penalty (default: the model's)"})


def translator(args):
    """A function texts -> translations for ``args`` (engine, model and search flags); the course model takes none
    of the search flags."""
    search = {"num_beams": args.num_beams, "max_length": args.max_length, "length_penalty": args.length_penalty}
    if args.engine == "ctranslate2":
        if args.model is None:
            raise UserError("--engine ctranslate2 needs --model: a folder written by hf-onelayer export-ct2")
        from ..ct2 import Translator

        engine = Translator(args.model)

        def run(texts):
            return engine.translate(texts, batch_size=args.batch_size, **search)
        run.engine = engine
        return run
    from ..kinds import kind_of
    from ..translation import load, translate

    model, tokenizer = load(args.model)
    kind_of(model).search(**search)  # a course model refuses a search before any text is read
    return lambda texts: translate(model, tokenizer, texts, args.batch_size, **search)


def main(argv: list[str] | None = None) -> list[str]:
    # no transformers here: the CTranslate2 engine starts without it (parse_light)
    args, texts = parse_light(TranslateArguments, command_argv(argv), "hf-onelayer translate")
    unknown = [t for t in texts if t.startswith("--")]
    if unknown:
        raise UserError(f"unknown option {unknown[0]} (--help lists the flags)")
    require_at_least_one({"batch_size": args.batch_size, "num_beams": args.num_beams, "max_length": args.max_length})
    run = translator(args)
    if not texts:  # one output line per input line, blank ones included, read as files are (utils.byte_lines)
        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
        texts = [line for _, line in byte_lines(io.BytesIO(data), "<stdin>", UserError)]
    outputs = run(texts)
    for line in outputs:
        print(line)
    return outputs
