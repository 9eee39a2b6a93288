"""``hf-onelayer translate``: translate arguments, or stdin lines, with a saved model.

    hf-onelayer translate "Ein Mann fährt Fahrrad." "Zwei Hunde spielen im Schnee."   # the released model
    echo "Ein Hund rennt." | hf-onelayer translate --model DIR
"""

import sys
from dataclasses import dataclass, field

from ..arguments import parse
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
        raise SystemExit(f"hf-onelayer translate: unknown option {unknown[0]}")
    if not texts:
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    model, tokenizer = load(args.model)
    if args.num_beams and not model.config.is_encoder_decoder:
        raise SystemExit("hf-onelayer translate: --num_beams applies to the encoder-decoder; the course model is greedy")
    outputs = translate(model, tokenizer, texts, args.batch_size, num_beams=args.num_beams)
    for line in outputs:
        print(line)
    return outputs
