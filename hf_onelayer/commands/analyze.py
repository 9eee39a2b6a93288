"""``hf-onelayer analyze simulate --study N``, ``hf-onelayer analyze model --model DIR`` and
``hf-onelayer analyze heads --runs DIR`` (studies 3 and 4 on trained models, e.g. from ``make heads-study``).

Each writes PNG figures, ``results.json`` and ``summary.md`` into ``--out``.
"""

import json
import os
from dataclasses import dataclass, field

from ..arguments import parse
from ..errors import UserError
from ..utils import command_argv


@dataclass
class SimulateArguments:
    study: int = field(metadata={"help": "1 categorical, 2 peaked/copying, 3 averaging, 4 uncertain norm + multi-head"})
    out: str = field(default="analysis", metadata={"help": "output folder"})
    seed: int = 0
    samples: int | None = field(default=None, metadata={"help": "Monte-Carlo samples (each study has a default)"})


@dataclass
class ModelAnalysisArguments:
    model: str | None = field(default=None, metadata={"help": "a model folder or Hub id, either model "
                                                                 "(default: release/course)"})
    compare: str | None = field(default=None, metadata={"help": "a second model to compare side by side"})
    data_dir: str | None = field(default=None, metadata={"help": "Multi30k raw files folder"})
    split: str = "val"
    max_sentences: int = 500
    heatmap_sentences: list[str] = field(default_factory=list, metadata={"help": "sentences for heatmaps"})
    out: str = "analysis"


@dataclass
class HeadsArguments:
    runs: str = field(metadata={"help": "a folder of trained model folders (1, 2, 4, 8 heads; several seeds)"})
    data_dir: str | None = field(default=None, metadata={"help": "Multi30k raw files folder"})
    split: str = "val"
    max_sentences: int | None = None
    seed: int = field(default=0, metadata={"help": "the draw of the source token whose key is scaled, and the bootstrap"})
    out: str = "analysis"


def _write(out: str, results: dict, summary: str) -> None:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    with open(os.path.join(out, "summary.md"), "w", encoding="utf-8") as handle:
        handle.write(summary)
    print(json.dumps({"out": out, "figures": results.get("figures", [])}))


def simulate(argv: list[str]) -> dict:
    from ..analysis.studies import STUDIES

    (args,) = parse(SimulateArguments, argv, "hf-onelayer analyze simulate")
    if args.study not in STUDIES:
        raise UserError(f"--study must be one of {sorted(STUDIES)}, got {args.study}")
    kwargs = {"seed": args.seed, "out_dir": args.out}
    if args.samples:
        kwargs["samples"] = args.samples
    results = STUDIES[args.study](**kwargs)
    summary = f"# Study {args.study}\n\n```json\n{json.dumps(results, indent=1)[:20000]}\n```\n"
    _write(args.out, results, summary)
    return results


def model(argv: list[str]) -> dict:
    from ..data import canonical_split, load_translation_data
    from ..analysis.trained import compare_models, summary_markdown
    from ..kinds import COURSE
    from ..translation import default_model, load

    (args,) = parse(ModelAnalysisArguments, argv, "hf-onelayer analyze model")
    loaded = [("model", *load(args.model, kind=COURSE.name))]
    if args.compare:
        loaded.append(("compare", *load(args.compare)))
    tokenizer = loaded[0][2]  # the first model's language pair
    data = load_translation_data(args.data_dir, splits=(args.split,), source_lang=tokenizer.source_lang,
                                 target_lang=tokenizer.target_lang)[canonical_split(args.split)]
    sentences = list(data[tokenizer.source_lang])[: args.max_sentences]
    heat = args.heatmap_sentences or sentences[:3]
    compared = compare_models(loaded, sentences, args.out, heat,
                              references=list(data[tokenizer.target_lang])[: args.max_sentences])
    paths = {"model": args.model or default_model(COURSE.name), "compare": args.compare}
    results = {"models": {label: compared[label] | {"path": paths[label]} for label, _, _ in loaded}}
    results["figures"] = [f for stats in results["models"].values() for f in stats["figures"]]
    results["figures"] += compared["figures"]
    summary = [f"# Attention of trained models ({len(sentences)} {args.split} sentences)", ""]
    summary += [summary_markdown(stats) for stats in results["models"].values()]
    _write(args.out, results, "\n".join(summary))
    return results


def heads(argv: list[str]) -> dict:
    from ..analysis.heads import head_study, perturbed_positions, plot_heads, run_info, summarize, summary_markdown
    from ..data import canonical_split, load_translation_data
    from ..translation import load
    from ..utils import first

    (args,) = parse(HeadsArguments, argv, "hf-onelayer analyze heads")
    folders = sorted(os.path.join(args.runs, name) for name in os.listdir(args.runs)
                     if os.path.isfile(os.path.join(args.runs, name, "config.json")))
    if not folders:
        raise UserError(f"--runs {args.runs}: no trained model folder (with config.json) in it")
    os.makedirs(os.path.join(args.out, "runs"), exist_ok=True)
    runs, splits = [], {}  # splits: one read per language pair
    for folder in folders:  # one JSON per run: an interrupted study goes on where it stopped
        cached = os.path.join(args.out, "runs", os.path.basename(folder) + ".json")
        if os.path.isfile(cached):
            with open(cached, encoding="utf-8") as handle:
                runs.append(json.load(handle))
            continue
        model, tokenizer = load(folder)
        pair = (tokenizer.source_lang, tokenizer.target_lang)
        if pair not in splits:
            splits[pair] = first(load_translation_data(args.data_dir, splits=(args.split,), source_lang=pair[0],
                                                       target_lang=pair[1])[canonical_split(args.split)],
                                 args.max_sentences)
        data = splits[pair]
        positions = perturbed_positions(tokenizer, list(data[tokenizer.source_lang]), model.config.max_position_embeddings,
                                        args.seed)
        result = run_info(folder) | {"path": folder} | head_study(model, tokenizer, data, positions)
        with open(cached, "w", encoding="utf-8") as handle:
            json.dump(result, handle)
        runs.append(result)
    summary = summarize(runs, seed=args.seed)
    sentences = len(runs[0]["key_scaling"][0]["kl_per_sentence"])
    results = {"sentences": sentences, "split": args.split, **summary, "figures": plot_heads(summary, runs, args.out)}
    _write(args.out, results, summary_markdown(summary, sentences, args.split))
    return results


SUBCOMMANDS = ("simulate", "model", "heads")


def main(argv: list[str] | None = None):
    argv = command_argv(argv)
    commands = dict(zip(SUBCOMMANDS, (simulate, model, heads)))
    if not argv or argv[0] not in commands:
        usage = "usage: hf-onelayer analyze {simulate --study N | model --model DIR | heads --runs DIR} [--out DIR] ..."
        if argv and argv[0] in ("-h", "--help"):
            print(usage)
            return None
        raise UserError(f"expected 'simulate', 'model' or 'heads' first; {usage}")
    return commands[argv[0]](argv[1:])
