"""Benchmark of streaming large vector files (issue goal: 400,000 words x 300 dims in under 30 s,
under 1 GiB peak RSS above the baseline).

    make bench       # or: .venv/bin/python benchmarks/bench_embeddings.py

Generates each file once (in $TMPDIR, reused; about 4.2 GB in all), then loads it in a fresh process that keeps the 8,000
words of a vocabulary, and prints one JSON line each: seconds, baseline RSS, peak RSS, peak above
baseline. Files: a GloVe text file; the same size as a sentence-transformers
``average_word_embeddings_*`` table (vocabulary JSON + ``model.safetensors``), the layout Hub
locations (``glove:hf://...``) read once downloaded; and a fastText ``.bin`` model of as many words
plus fastText's 2,000,000 n-gram rows (a kept word's vector averages its row with its n-grams' rows).
``--with_gensim`` adds gensim's loader on that file, for comparison.
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


# Peak RSS is this process's VmHWM: getrusage's ru_maxrss would carry the parent's peak over the exec.
CHILD = """
import json, sys, time
from hf_onelayer.embeddings import read_vectors
def peak_mib():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) / 1024
wanted = {f"word{i}" for i in range(0, %d, %d)}
base = peak_mib()
start = time.perf_counter()
vectors = read_vectors("glove", sys.argv[1], wanted)
seconds = time.perf_counter() - start
peak = peak_mib()
print(json.dumps({"seconds": seconds, "kept": len(vectors.words), "dim": vectors.dim,
                  "baseline_rss_mib": base, "peak_rss_mib": peak, "peak_above_baseline_mib": peak - base}))
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


BUCKET = 2_000_000  # fastText's default number of character n-gram rows


def generate_fasttext(path: str) -> None:
    """Facebook's ``.bin`` layout (what ``facebook/fasttext-*-vectors`` repos hold as ``model.bin``): header,
    dictionary, then the (WORDS + BUCKET, DIM) input matrix; the output matrix, which no reader here reads, is left out."""
    import struct

    import numpy as np

    from hf_onelayer.embeddings.vectors import FASTTEXT_HEAD, FASTTEXT_MAGIC

    rng = np.random.default_rng(0)
    with open(path + ".part", "wb") as handle:
        handle.write(FASTTEXT_HEAD.pack(FASTTEXT_MAGIC, 12, DIM, 5, 5, 5, 10, 1, 2, 1, BUCKET, 3, 6, 100, 1e-4,
                                        WORDS, WORDS, 0, 10 * WORDS, -1))
        handle.write(b"".join(f"word{i}".encode() + b"\0" + struct.pack("<qb", 10, 0) for i in range(WORDS)))
        handle.write(struct.pack("<?2q", False, WORDS + BUCKET, DIM))
        for start in range(0, WORDS + BUCKET, 100_000):
            rows = min(100_000, WORDS + BUCKET - start)
            handle.write(rng.uniform(-1, 1, size=(rows, DIM)).astype("<f4").tobytes())
    os.replace(path + ".part", path)


CHILD_FASTTEXT = CHILD.replace('read_vectors("glove", sys.argv[1], wanted)', 'read_vectors("fasttext", sys.argv[1], wanted)')
# For comparison (--with_gensim): gensim's Facebook loader, which reads the whole input matrix
CHILD_GENSIM = CHILD.replace('vectors = read_vectors("glove", sys.argv[1], wanted)', """
from types import SimpleNamespace
from gensim.models.fasttext import load_facebook_vectors
kv = load_facebook_vectors(sys.argv[1])
vectors = SimpleNamespace(words=[w for w in wanted if w in kv.key_to_index], dim=kv.vector_size)""")


def measure(name: str, child: str, path: str, size_path: str) -> dict:
    out = subprocess.run([sys.executable, "-c", child % (WORDS, WORDS // KEEP), path], capture_output=True, text=True,
                         check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(benchmark=name, words_in_file=WORDS, file_mib=os.path.getsize(size_path) / 2**20,
                  goal_seconds=30, goal_peak_above_baseline_mib=1024,
                  meets_goal=result["seconds"] < 30 and result["peak_above_baseline_mib"] < 1024)
    print(json.dumps(result))
    return result


def main(with_gensim: bool = False) -> list[dict]:
    path = os.path.join(tempfile.gettempdir(), f"hf_onelayer_bench_glove_{WORDS}x{DIM}.txt")
    if not os.path.exists(path):
        generate(path)
    folder = os.path.join(tempfile.gettempdir(), f"hf_onelayer_bench_st_{WORDS}x{DIM}")
    if not os.path.exists(os.path.join(folder, "model.safetensors")):
        generate_table(folder)
    fasttext = os.path.join(tempfile.gettempdir(), f"hf_onelayer_bench_fasttext_{WORDS}x{DIM}_{BUCKET}.bin")
    if not os.path.exists(fasttext):
        generate_fasttext(fasttext)
    results = [measure("GloVe text streaming", CHILD, path, path),
               measure("sentence-transformers table (rows read on demand)", CHILD_TABLE, folder,
                       os.path.join(folder, "model.safetensors")),
               measure(f"fastText .bin, {BUCKET:,} n-gram rows (rows read on demand)", CHILD_FASTTEXT, fasttext,
                       fasttext)]
    if with_gensim:
        results.append(measure("the same fastText .bin through gensim's load_facebook_vectors", CHILD_GENSIM, fasttext,
                               fasttext))
    return results


if __name__ == "__main__":
    main(with_gensim="--with_gensim" in sys.argv[1:])
