"""``hf-onelayer export-ct2``: a saved encoder-decoder as a CTranslate2 model folder, for fast CPU translation.

    hf-onelayer export-ct2 --model release/seq2seq --output_dir runs/ct2 [--quantization int8|int16|float32]
    hf-onelayer translate --engine ctranslate2 --model runs/ct2 "Zwei Hunde spielen im Schnee."
"""

from dataclasses import dataclass, field

from ..arguments import parse
from ..ct2 import QUANTIZATIONS, export
from . import MODEL_HELP


@dataclass
class ExportArguments:
    output_dir: str = field(metadata={"help": "the CTranslate2 model folder to write"})
    model: str | None = field(default=None, metadata={"help": MODEL_HELP})
    quantization: str = field(default="int8", metadata={"help": f"weights: {', '.join(QUANTIZATIONS)}"})


def main(argv: list[str] | None = None) -> str:
    (args,) = parse(ExportArguments, argv, "hf-onelayer export-ct2")
    path = export(args.model, args.output_dir, args.quantization)
    print(path)
    return path
