"""``hf-onelayer translate``: translate arguments, or stdin lines, with a saved model.

    hf-onelayer translate "Ein Mann fährt Fahrrad." "Zwei Hunde spielen im Schnee."   # the released model
    echo "Ein Hund rennt." | hf-onelayer translate --model DIR
"""

import sys
from dataclasses import dataclass, field

from ..arguments import parse, require_at_least_one
from ..errors import UserError
from ..translation import load, translate
from . import MODEL_HELP


@dataclass
class TranslateArguments:
    model: str | None = field(default=None, metadata={"help": MODEL_HELP})
    batch_size: int = 64
    num_beams: int | None = field(default=None, metadata={"help": "encoder-decoder: beam width (default: the model's, 5)"})


def main(argv: list[str] | None = None) -> list[str]:
    args, texts = parse(TranslateArguments, argv, "hf-onelayer translate", allow_remaining=True)
    unknown = [t for t in texts if t.startswith("--")]
    if unknown:
        raise UserError(f"unknown option {unknown[0]} (--help lists the flags)")
    require_at_least_one({"batch_size": args.batch_size, "num_beams": args.num_beams})
    model, tokenizer = load(args.model)
    if args.num_beams and not model.config.is_encoder_decoder:
        raise UserError("--num_beams applies to the encoder-decoder; the course model is greedy")
    if not texts:  # one output line per input line, blank ones included
        texts = [line.rstrip("\r\n") for line in sys.stdin]
    outputs = translate(model, tokenizer, texts, args.batch_size, num_beams=args.num_beams)
    for line in outputs:
        print(line)
    return outputs
