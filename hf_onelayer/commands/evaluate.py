"""``hf-onelayer evaluate``: perplexity, BLEU (lowercased and cased), chrF of a saved model on a split, as JSON.

    hf-onelayer evaluate --model DIR --data_dir ../shared/data/multi30k --split val [--num_beams 5]
    hf-onelayer evaluate --model DIR --data_dir FOLDER --split test_2017_flickr     # any NAME.de / NAME.en pair
    hf-onelayer evaluate --model DIR --source_file sources.de --reference_file references.en
    hf-onelayer evaluate --engine ctranslate2 --model CT2_DIR --data_dir FOLDER --split test   # BLEU, chrF
    hf-onelayer evaluate --model DIR --data_dir FOLDER --sweep length_penalty=0.6,0.8,1.0,1.2 num_beams=4,5,8

The language pair is the model's (its tokenizer's ``source_lang`` / ``target_lang``): a French model reads
``NAME.fr`` / ``NAME.en``.

For the course model it also gives token accuracy and splits the perplexity by how much target and
source lengths differ (``perplexity_len_diff_*``, see ``metrics.py``). It runs the same Trainer evaluation as training, so
the numbers match.
"""

import itertools
import json
import os
from dataclasses import dataclass, field
from typing import Literal

from tqdm.auto import tqdm

from ..arguments import parse
from ..errors import UserError
from ..kinds import kind_of
from ..data import DEFAULT_HUB_DATASET
from ..metrics import corpus_scores
from ..run import read_split
from ..trainer import evaluate_model
from ..translation import load
from . import MODEL_HELP, require_at_least_one
from .translate import ENGINES, translator


@dataclass
class EvaluateArguments:
    model: str | None = field(default=None, metadata={"help": MODEL_HELP})
    data_dir: str | None = field(default=None, metadata={"help": "folder of Multi30k raw files"})
    dataset_name: str = field(default=DEFAULT_HUB_DATASET, metadata={"help": "Hub dataset id (without data_dir)"})
    test_file: str | None = field(default=None, metadata={"help": "JSON lines to evaluate instead of a split"})
    source_file: str | None = field(default=None, metadata={"help": "plain text, one source sentence a line "
                                                                   "(with --reference_file, instead of a split)"})
    reference_file: str | None = field(default=None, metadata={"help": "plain text, the reference of each line"})
    split: str = field(default="val", metadata={"help": "val, test, or any NAME with NAME.{source}/NAME.{target} "
                                                        "files (the model's languages) in --data_dir"})
    batch_size: int = 256
    max_samples: int | None = None
    engine: Literal[ENGINES] = field(default="transformers", metadata={
        "help": "'transformers' (Trainer, generate()) or 'ctranslate2' (an export-ct2 folder: BLEU and chrF, no "
                "perplexity)"})
    num_beams: int | None = field(default=None, metadata={"help": "encoder-decoder: beam width (default: the model's, 5)"})
    max_length: int | None = field(default=None, metadata={"help": "encoder-decoder: output positions, <s> included"})
    length_penalty: float | None = field(default=None, metadata={"help": "encoder-decoder: beam length penalty"})
    sweep: list[str] = field(default_factory=list, metadata={
        "help": "encoder-decoder: NAME=V1,V2 ... for num_beams and length_penalty; every combination is scored on "
                "--split (val), the table written beside the model, the best BLEU's values into its "
                "generation_config.json"})


SWEEPABLE = {"num_beams": int, "length_penalty": float}


def sweep_grid(args) -> list[dict]:
    """Every combination of the ``--sweep NAME=V1,V2`` values ([] without --sweep), refusing what cannot be swept."""
    if not args.sweep:
        return []
    if args.model is None or not os.path.isdir(args.model):
        raise UserError(f"--sweep writes the chosen values into a model folder: --model {args.model} is not a folder")
    axes = {}
    for item in args.sweep:
        name, _, values = item.partition("=")
        if name not in SWEEPABLE or not values:
            raise UserError(f"--sweep {item}: give NAME=V1,V2 with NAME one of {', '.join(SWEEPABLE)}")
        try:
            axes[name] = [SWEEPABLE[name](v) for v in values.split(",")]
        except ValueError:
            raise UserError(f"--sweep {item}: {name} takes {SWEEPABLE[name].__name__} values") from None
        if name == "num_beams" and min(axes[name]) < 1:
            raise UserError(f"--sweep {item}: num_beams must be >= 1")
        if getattr(args, name) is not None:
            raise UserError(f"--{name} and --sweep {name}=...: give one")
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


def sweep(args, grid: list[dict], dataset, languages: tuple[str, str], run=None, model=None, tokenizer=None) -> dict:
    """Score every setting of ``grid`` on ``dataset`` (columns ``languages``: source, target) with the CTranslate2
    ``run`` or ``model`` and ``tokenizer``; write the table beside the model and the best BLEU's values
    into its generation_config.json (the first of equal scores wins)."""
    from transformers import GenerationConfig

    references = list(dataset[languages[1]])
    rows = []
    for setting in tqdm(grid, desc="sweep"):
        search = {"max_length": args.max_length, **setting}
        if run is not None:  # the CTranslate2 path: one translator, a new search each time
            scores = corpus_scores(run.engine.translate(list(dataset[languages[0]]), batch_size=args.batch_size,
                                                        **search), references)
        else:
            scores = evaluate_model(model, tokenizer, dataset, args.batch_size, **search)
        rows.append({**setting, **{k: scores[k] for k in ("bleu", "bleu_cased", "chrf")}})
    best = max(rows, key=lambda row: row["bleu"])
    chosen = {name: best[name] for name in grid[0]}
    config = GenerationConfig.from_pretrained(args.model)
    config.update(**chosen)
    if config.num_beams == 1:  # greedy: a length penalty means nothing, and transformers refuses to save one
        config.length_penalty = 1.0
    chosen = {name: getattr(config, name) for name in chosen}  # what generation_config.json now holds
    config.save_pretrained(args.model)
    names = list(grid[0])
    table = [f"| {' | '.join(names)} | BLEU | BLEU cased | chrF |", "|" + " --- |" * (len(names) + 3)]
    table += [f"| {' | '.join(str(row[n]) for n in names)} | {row['bleu']:.2f} | {row['bleu_cased']:.2f} | "
              f"{row['chrf']:.2f} |" for row in rows]
    stem = os.path.join(args.model, f"sweep_{args.split}")
    with open(stem + ".md", "w", encoding="utf-8") as handle:
        handle.write(f"Sweep on {args.split} ({len(references)} sentences), engine {args.engine}; chosen "
                     f"{chosen} (best BLEU), written to generation_config.json.\n\n" + "\n".join(table) + "\n")
    result = {"sweep": rows, "chosen": chosen, "split": args.split, "n_sentences": len(references),
              "engine": args.engine, "table": stem + ".md"}
    with open(stem + ".json", "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(json.dumps(result))
    return result


def main(argv: list[str] | None = None) -> dict:
    (args,) = parse(EvaluateArguments, argv, "hf-onelayer evaluate")
    require_at_least_one({flag: getattr(args, flag) for flag in ("batch_size", "max_samples", "num_beams", "max_length")})
    sources = [name for name in ("data_dir", "test_file", "source_file") if getattr(args, name)]
    if len(sources) > 1:
        raise UserError(f"--{sources[0]} and --{sources[1]}: give one source of sentences")
    if bool(args.source_file) != bool(args.reference_file):
        raise UserError("--source_file and --reference_file go together")
    grid = sweep_grid(args)
    search = {"num_beams": args.num_beams, "max_length": args.max_length, "length_penalty": args.length_penalty}
    if args.engine == "ctranslate2":
        run = translator(args)  # a bad --model fails before any data is read
        languages = (run.engine.source_lang, run.engine.target_lang)
    else:
        model, tokenizer = load(args.model)
        languages = (tokenizer.source_lang, tokenizer.target_lang)
        for setting in [{}, *grid]:  # a course model refuses a search before any data is read
            kind_of(model).search(**{**search, **setting})
    dataset = read_split(args, languages)
    if grid:
        if args.engine == "ctranslate2":
            return sweep(args, grid, dataset, languages, run=run)
        return sweep(args, grid, dataset, languages, model=model, tokenizer=tokenizer)
    if args.engine == "ctranslate2":
        hypotheses = run(list(dataset[languages[0]]))
        beams = args.num_beams or run.engine.generation.get("num_beams")
        result = {**corpus_scores(hypotheses, list(dataset[languages[1]])), "engine": "ctranslate2",
                  "quantization": run.engine.info["quantization"], "num_beams": beams,
                  "n_sentences": len(dataset), "n_truncated": run.engine.n_truncated}
    else:
        result = evaluate_model(model, tokenizer, dataset, args.batch_size, **search)
    print(json.dumps(result))
    return result
