"""Benchmark of streaming a large GloVe file (issue goal: 400,000 words x 300 dims in under 30 s,
under 1 GiB peak RSS above the baseline).

    make bench       # or: .venv/bin/python benchmarks/bench_embeddings.py

Generates the file once (in $TMPDIR, reused), then loads it in a fresh process that keeps the 8,000
words of a vocabulary, and prints one JSON line: seconds, baseline RSS, peak RSS, peak above baseline.
"""

import json
import os
import random
import subprocess
import sys
import tempfile

WORDS, DIM, KEEP = 400_000, 300, 8_000


def generate(path: str) -> None:
    rng = random.Random(0)
    block = [" ".join(f"{rng.uniform(-1, 1):.5f}" for _ in range(DIM)) for _ in range(997)]
    with open(path + ".part", "w", encoding="utf-8") as handle:
        for i in range(WORDS):
            handle.write(f"word{i} {block[i % len(block)]}\n")
    os.replace(path + ".part", path)


CHILD = """
import json, resource, sys, time
from hf_onelayer.embeddings import read_vectors
wanted = {f"word{i}" for i in range(0, %d, %d)}
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
vectors = read_vectors("glove", sys.argv[1], wanted)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "kept": len(vectors.words), "dim": vectors.dim,
                  "baseline_rss_mib": base / 1024, "peak_rss_mib": peak / 1024, "peak_above_baseline_mib": (peak - base) / 1024}))
"""


def main() -> dict:
    path = os.path.join(tempfile.gettempdir(), f"hf_onelayer_bench_glove_{WORDS}x{DIM}.txt")
    if not os.path.exists(path):
        generate(path)
    out = subprocess.run([sys.executable, "-c", CHILD % (WORDS, WORDS // KEEP), path], capture_output=True, text=True,
                         check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(benchmark="GloVe text streaming", words_in_file=WORDS, file_mib=os.path.getsize(path) / 2**20,
                  goal_seconds=30, goal_peak_above_baseline_mib=1024,
                  meets_goal=result["seconds"] < 30 and result["peak_above_baseline_mib"] < 1024)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
