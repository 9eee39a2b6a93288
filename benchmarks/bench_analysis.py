"""Benchmark of the attention Monte Carlo (issue goal: 100,000 samples at n=32, d=64 in under 2 s here).

    make bench            # or: .venv/bin/python benchmarks/bench_analysis.py

Times the study-4 core (norm-varying key, one head and two heads) with the study-3 baseline off,
best of 3 runs after a warm-up, and prints one JSON line.
"""

import json
import os
import platform
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


if __name__ == "__main__":
    main()
