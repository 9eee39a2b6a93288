"""``hf-onelayer pretrain-vectors``: word2vec and GloVe vectors trained on the training split.

    hf-onelayer pretrain-vectors --data_dir ../shared/data/multi30k --out runs/vectors --dim 128
"""

import json
from dataclasses import dataclass, field

from ..arguments import parse
from ..data import DEFAULT_SOURCE_LANG, DEFAULT_TARGET_LANG, load_translation_data
from ..errors import UserError
from ..embeddings.pretrain import pretrain_vectors


@dataclass
class PretrainArguments:
    out: str = field(metadata={"help": "output folder for the vector files"})
    data_dir: str | None = field(default=None, metadata={"help": "Multi30k raw files folder (train split used)"})
    dim: int = field(default=128, metadata={"help": "vector size (128 = the model's hidden size)"})
    min_count: int = 2
    word2vec_epochs: int = 10
    glove_epochs: int = 50
    seed: int = 0
    languages: list[str] = field(default_factory=lambda: [DEFAULT_SOURCE_LANG, DEFAULT_TARGET_LANG],
                                 metadata={"help": "source and target language codes (file suffixes)"})


def main(argv: list[str] | None = None) -> dict:
    (args,) = parse(PretrainArguments, argv, "hf-onelayer pretrain-vectors")
    if len(args.languages) != 2:
        raise UserError(f"--languages takes a source and a target code, got {args.languages}")
    train = load_translation_data(args.data_dir, splits=("train",), source_lang=args.languages[0],
                                  target_lang=args.languages[1])["train"]
    report = pretrain_vectors(train, args.out, args.dim, args.min_count, args.word2vec_epochs, args.glove_epochs,
                              args.seed, args.languages)
    print(json.dumps(report))
    return report
