"""Issue 24's goals for the distilled 1+1 student, one JSON line:

    make bench-distill    # or: .venv/bin/python benchmarks/bench_distill.py [--data_dir runs/distilled_refs] [--run DIR]

Trains the release's student recipe (``training/configs/seq2seq.json``, 4 epochs) on ``--data_dir``, a teacher's
translations beside the references (``make teacher && make distill DISTILLED=runs/distilled_refs
ARGS=--with_references``), unless ``--run`` names a finished run; then reads the run's ``all_results.json``.
Goals: test2016 BLEU (lowercased, beam 5) >= 41 with <= 4.5 M parameters, and ``train_runtime`` <= 20 minutes,
beside a 2-thread matmul peak measured in the same run (a slow machine shows there, not in the goal).
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import torch
from transformers import AutoModelForSeq2SeqLM, HfArgumentParser

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_training import matmul_peak  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (measured key, label, target, at least?): the goals of issue 24
GOALS = (("test_bleu", "test2016 BLEU (lowercased, beam 5)", 41.0, True), ("parameters", "parameters", 4.5e6, False),
         ("train_runtime", "train_runtime (s)", 20 * 60, False))


@dataclass
class BenchArguments:
    data_dir: str = field(default="runs/distilled_refs", metadata={"help": "a folder written by hf-onelayer distill"})
    run: str | None = field(default=None, metadata={"help": "a finished student run to read instead of training one"})
    output_dir: str = field(default="runs/bench_distill", metadata={"help": "where the student trains"})
    seed: int = 42
    num_train_epochs: float = 4
    out: str | None = field(default=None, metadata={"help": "also write the JSON line to this file"})


def train_student(args: BenchArguments) -> str:
    """The release's recipe on ``args.data_dir`` into ``args.output_dir`` (replaced), through training/train.py."""
    command = [sys.executable, os.path.join(ROOT, "training", "train.py"),
               os.path.join(ROOT, "training", "configs", "seq2seq.json"), "--data_dir", args.data_dir,
               "--output_dir", args.output_dir, "--seed", str(args.seed), "--num_train_epochs",
               str(args.num_train_epochs), "--overwrite_output_dir", "true", "--disable_tqdm", "true"]
    subprocess.run(command, check=True)
    return args.output_dir


def main():
    (args,) = HfArgumentParser(BenchArguments).parse_args_into_dataclasses()
    made = os.path.join(args.data_dir, "distill.json")
    if args.run is None and not os.path.isfile(made):
        sys.exit(f"bench_distill.py: --data_dir {args.data_dir} has no distill.json; run `make teacher && make distill "
                 f"DISTILLED={args.data_dir} ARGS=--with_references` first, or pass --run")
    torch.set_num_threads(2)
    peak = matmul_peak(2)
    start = time.perf_counter()
    run = args.run or train_student(args)
    wall = time.perf_counter() - start
    results_path = os.path.join(run, "all_results.json")
    if not os.path.isfile(results_path):
        sys.exit(f"bench_distill.py: --run {run}: no all_results.json (not a finished hf-onelayer train run)")
    with open(results_path) as f:
        results = json.load(f)
    parameters = AutoModelForSeq2SeqLM.from_pretrained(run, trust_remote_code=True).num_parameters()
    measured = {"test_bleu": results["test_bleu"], "parameters": parameters, "train_runtime": results["train_runtime"]}
    met = {key: measured[key] >= target if at_least else measured[key] <= target for key, _, target, at_least in GOALS}
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
    line = json.dumps({"run": run, "trained_here": args.run is None, "wall_s": round(wall, 1),
                       "data_dir": args.data_dir, "val_bleu": results.get("eval_bleu"), **measured,
                       "goals": {key: target for key, _, target, _ in GOALS}, "met": met,
                       "matmul_peak_gflops_2_threads": round(peak / 1e9, 1), "commit": commit.strip()})
    show = lambda v: f"{int(v):,}" if float(v).is_integer() else f"{v:,.2f}"  # noqa: E731
    rows = [f"| {label} | {show(measured[key])} | {'>=' if at_least else '<='} {show(target)} | {met[key]} |"
            for key, label, target, at_least in GOALS]
    print("| goal | measured | target | met |\n| --- | --- | --- | --- |\n" + "\n".join(rows)
          + f"\n(matmul peak, 2 threads, this run: {peak / 1e9:.0f} GFLOP/s)", file=sys.stderr)
    print(line)
    if args.out:
        with open(args.out, "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
