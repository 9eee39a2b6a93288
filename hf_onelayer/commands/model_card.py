"""``hf-onelayer model-card``: write the model card of a trained run from its metrics.

    hf-onelayer model-card --model runs/default --command "make train" --out model_card.md
"""

import importlib.util
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


def measure_ct2(model_dir: str, model, tokenizer, sources: list[str], references: list[str]) -> dict:
    """Test BLEU and sentences/s of the int8 CTranslate2 export and of ``generate()``: beam 5, batches of 64."""
    import tempfile
    import time

    import torch

    from ..ct2 import Translator, export
    from ..metrics import corpus_scores

    sources, measured = list(sources), {"threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in (("generate", lambda: translate(model, tokenizer, sources, 64, num_beams=5)),
                          ("ct2_int8", lambda: Translator(export(model_dir, tmp, "int8")).translate(
                              sources, num_beams=5, batch_size=64))):  # the export's time counts
            start = time.perf_counter()
            hypotheses = run()
            measured[f"{name}_sentences_per_s"] = len(sources) / (time.perf_counter() - start)
            measured[f"{name}_bleu"] = corpus_scores(hypotheses, list(references))["bleu"]
    measured["speedup"] = measured["ct2_int8_sentences_per_s"] / measured["generate_sentences_per_s"]
    return measured


def main(argv: list[str] | None = None) -> str:
    (args,) = parse(CardArguments, argv, "hf-onelayer model-card")
    examples = fast_cpu = None
    if args.data_dir:
        model, tokenizer = load(args.model)
        full = load_local_folder(args.data_dir, ("test",), tokenizer.source_lang, tokenizer.target_lang)["test"]
        test = first(full, args.example_pool)
        sources = test[tokenizer.source_lang]
        examples = pick_examples(sources, test[tokenizer.target_lang], translate(model, tokenizer, sources), args.n_examples)
        if model.config.is_encoder_decoder and importlib.util.find_spec("ctranslate2"):
            fast_cpu = measure_ct2(args.model, model, tokenizer, full[tokenizer.source_lang],
                                   full[tokenizer.target_lang])
    card = build_card(args.model, args.command, args.repo, args.machine, examples, args.allow_pickle, fast_cpu)
    out = args.out or os.path.join(args.model, "README.md")
    card.save(out)
    print(out)
    return out
