"""Benchmark of streaming large vector files (issue goal: 400,000 words x 300 dims in under 30 s,
under 1 GiB peak RSS above the baseline).

    make bench       # or: .venv/bin/python benchmarks/bench_embeddings.py

Generates each file once (in $TMPDIR, reused), then loads it in a fresh process that keeps the 8,000
words of a vocabulary, and prints one JSON line each: seconds, baseline RSS, peak RSS, peak above
baseline. Files: a GloVe text file, and the same size as a sentence-transformers
``average_word_embeddings_*`` table (vocabulary JSON + ``model.safetensors``), the layout Hub
locations (``glove:hf://...``) read once downloaded.
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


def generate_table(folder: str) -> None:
    """The sentence-transformers layout: whitespacetokenizer_config.json + model.safetensors (emb_layer.weight)."""
    import numpy as np
    import torch
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "whitespacetokenizer_config.json"), "w", encoding="utf-8") as handle:
        json.dump({"vocab": [f"word{i}" for i in range(WORDS)], "stop_words": [], "do_lower_case": False}, handle)
    table = np.random.default_rng(0).uniform(-1, 1, size=(WORDS, DIM)).astype(np.float32)
    save_file({"emb_layer.weight": torch.from_numpy(table)}, os.path.join(folder, "model.safetensors.part"))
    os.replace(os.path.join(folder, "model.safetensors.part"), os.path.join(folder, "model.safetensors"))


CHILD_TABLE = CHILD.replace("from hf_onelayer.embeddings import read_vectors",
                            "from hf_onelayer.embeddings.hub import read_embedding_table").replace(
    'read_vectors("glove", sys.argv[1], wanted)',  # the vocabulary file is read inside the measured span
    'read_embedding_table(sys.argv[1] + "/model.safetensors", json.load(open(sys.argv[1] + '
    '"/whitespacetokenizer_config.json"))["vocab"], wanted)')


def measure(name: str, child: str, path: str, size_path: str) -> dict:
    out = subprocess.run([sys.executable, "-c", child % (WORDS, WORDS // KEEP), path], capture_output=True, text=True,
                         check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(benchmark=name, words_in_file=WORDS, file_mib=os.path.getsize(size_path) / 2**20,
                  goal_seconds=30, goal_peak_above_baseline_mib=1024,
                  meets_goal=result["seconds"] < 30 and result["peak_above_baseline_mib"] < 1024)
    print(json.dumps(result))
    return result


def main() -> list[dict]:
    path = os.path.join(tempfile.gettempdir(), f"hf_onelayer_bench_glove_{WORDS}x{DIM}.txt")
    if not os.path.exists(path):
        generate(path)
    folder = os.path.join(tempfile.gettempdir(), f"hf_onelayer_bench_st_{WORDS}x{DIM}")
    if not os.path.exists(os.path.join(folder, "model.safetensors")):
        generate_table(folder)
    return [measure("GloVe text streaming", CHILD, path, path),
            measure("sentence-transformers table (rows read on demand)", CHILD_TABLE, folder,
                    os.path.join(folder, "model.safetensors"))]


if __name__ == "__main__":
    main()
