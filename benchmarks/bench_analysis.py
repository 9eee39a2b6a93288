"""Benchmarks of the attention analysis, one JSON line each:

    make bench            # or: .venv/bin/python benchmarks/bench_analysis.py [--data_dir DIR]

1. the Monte Carlo (goal: 100,000 samples at n=32, d=64 in under 2 s): the study-4 core (norm-varying key,
   one head and two heads) with the study-3 baseline off, best of 3 runs after a warm-up;
2. the trained-model analysis over the 1,014 val sentences (goal: under 60 s): what
   ``make attention-report-seq2seq`` computes, i.e. the released encoder–decoder's cross-attention
   statistics, copying and heatmaps beside the released course model's self-attention, one run.
"""

import argparse
import json
import os
import platform
import tempfile
import time

import torch

from hf_onelayer.analysis.studies import uncertain_norm_projections


def main(samples: int = 100_000, n: int = 32, d: int = 64, repeats: int = 3) -> dict:
    uncertain_norm_projections(2000, n, d, 1e-4, 10.0, seed=0, include_fixed=False)  # warm-up
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        out = uncertain_norm_projections(samples, n, d, 1e-4, 10.0, seed=r, include_fixed=False)
        times.append(time.perf_counter() - start)
    result = {
        "benchmark": "attention Monte Carlo (study 4: 1 head and 2 heads)",
        "samples": samples, "n": n, "d": d, "best_s": min(times), "all_s": times, "goal_s": 2.0,
        "meets_goal": min(times) < 2.0, "var_single_over_multi": (out["p_single"].var() / out["p_multi"].var()).item(),
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "machine": platform.machine(),
    }
    print(json.dumps(result))
    return result


def trained(data_dir: str, goal_s: float = 60.0) -> dict:
    from hf_onelayer.analysis.trained import compare_models
    from hf_onelayer.data import load_translation_data
    from hf_onelayer.translation import load

    models = [("seq2seq", *load("release/seq2seq")), ("course", *load("release/course"))]
    tokenizer = models[0][2]  # the released models' language pair
    val = load_translation_data(data_dir, splits=("val",), source_lang=tokenizer.source_lang,
                                target_lang=tokenizer.target_lang)["validation"]
    sources, references = list(val[tokenizer.source_lang]), list(val[tokenizer.target_lang])
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        compare_models(models, sources, out, ["Der Mann, der das Fahrrad repariert, lacht."], references=references)
        seconds = time.perf_counter() - start
    result = {"benchmark": "trained-model attention analysis (release/seq2seq cross-attention + copying, "
                           "release/course self-attention, figures)", "sentences": len(sources), "seconds": seconds,
              "goal_s": goal_s, "meets_goal": seconds < goal_s, "torch_threads": torch.get_num_threads()}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", default="../shared/data/multi30k")
    args = parser.parse_args()
    main()
    if os.path.isfile(os.path.join(args.data_dir, "val.de")):
        trained(args.data_dir)
