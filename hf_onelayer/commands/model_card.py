"""``hf-onelayer model-card``: write the model card of a trained run from its metrics.

    hf-onelayer model-card --model runs/default --command "make train" --out model_card.md
"""

import os
from dataclasses import dataclass, field

from ..arguments import parse
from ..data import load_local_folder
from ..hub.model_card import build_card, pick_examples
from ..translation import load, translate
from ..utils import first


@dataclass
class CardArguments:
    model: str = field(metadata={"help": "a trained model folder (with all_results.json)"})
    command: str = field(default="make train", metadata={"help": "the command that produced the run"})
    out: str | None = field(default=None, metadata={"help": "write here (default: MODEL/README.md)"})
    repo: str | None = None
    machine: str | None = field(default=None, metadata={"help": "where it trained, shown beside the wall time"})
    data_dir: str | None = field(default=None, metadata={"help": "Multi30k folder, for example translations"})
    n_examples: int = field(default=6, metadata={"help": "examples in the card: the best half and the worst half"})
    example_pool: int = field(default=200, metadata={"help": "pick them from the first N test sentences"})
    allow_pickle: bool = field(default=False, metadata={"help": "read training_args.bin (a pickle) of runs you trust"})


def main(argv: list[str] | None = None) -> str:
    (args,) = parse(CardArguments, argv, "hf-onelayer model-card")
    examples = None
    if args.data_dir:
        model, tokenizer = load(args.model)
        test = first(load_local_folder(args.data_dir, ("test",), tokenizer.source_lang, tokenizer.target_lang)["test"],
                     args.example_pool)
        sources = test[tokenizer.source_lang]
        examples = pick_examples(sources, test[tokenizer.target_lang], translate(model, tokenizer, sources), args.n_examples)
    card = build_card(args.model, args.command, args.repo, args.machine, examples, args.allow_pickle)
    out = args.out or os.path.join(args.model, "README.md")
    card.save(out)
    print(out)
    return out
