"""``hf-onelayer distill``: a teacher's beam translations of the training split, for a student (resumable).

    hf-onelayer distill --teacher runs/teacher --data_dir ../shared/data/multi30k --output_dir runs/distilled
    hf-onelayer train training/configs/seq2seq.json --data_dir runs/distilled
"""

import json
from dataclasses import dataclass, field
from typing import Literal

from ..arguments import parse
from ..distill import distill
from .translate import ENGINES


@dataclass
class DistillArguments:
    teacher: str = field(metadata={"help": "the teacher: a saved encoder-decoder (or, with --engine ctranslate2, "
                                           "its export-ct2 folder)"})
    data_dir: str = field(metadata={"help": "Multi30k raw files: train.<src> is translated, the other splits copied"})
    output_dir: str = field(metadata={"help": "the distilled folder, in the same layout"})
    num_beams: int = 5
    batch_size: int = 64
    chunk_size: int = field(default=1000, metadata={"help": "sentences per chunk: a killed run resumes at its chunk"})
    engine: Literal[ENGINES] = "transformers"
    with_references: bool = field(default=False, metadata={"help": "keep the human references too: each source twice, "
                                                                   "once with the teacher's line, once with its own"})


def main(argv: list[str] | None = None) -> dict:
    (args,) = parse(DistillArguments, argv, "hf-onelayer distill")
    summary = distill(args.teacher, args.data_dir, args.output_dir, args.num_beams, args.chunk_size, args.batch_size,
                      args.engine, args.with_references)
    print(json.dumps(summary))
    return summary
