"""Training and translation speed of our default path against a course-style baseline, in one run.

    make bench      # or: .venv/bin/python benchmarks/bench_training.py --data_dir ../shared/data/multi30k

On the same Multi30k training batches (batch 128, the same sentences for both) it measures:
* training target tokens/s (labelled tokens per second, collation included) of
  (a) our path: dynamic padding, SDPA attention with the key mask, feed-forward and head only at
      labelled positions (what TranslationTrainer runs), fused AdamW (training/configs/default.json);
  (b) the course-style baseline (benchmarks/course_baseline.py): per-head Linear layers, eager
      attention, every batch padded to 43, no mask, head and loss at every position, Adam;
  and their ratio (goal >= 3x). Rounds alternate between (a) and (b); medians are reported.
* MFU: our model FLOP/s (matmul FLOPs of the forward pass x 3, counted at the positions computed)
  over the fp32 matmul peak measured in this run with the same threads (goal >= 35 %).
* translation sentences/s on test_2016_flickr (1,000 sentences, batch 128), ours vs the baseline.
* peak RSS of `hf-onelayer train` (a short run in a subprocess: data, tokenizer, model, Trainer).
* wall time of the default 10-epoch training: projected from (a), and the measured train_runtime
  of a finished run when --run_dir has one.
Prints a markdown table and one JSON line (``--profile`` adds torch.profiler's table of our step).
Numbers move when other processes share the cores.
"""

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import torch
from course_baseline import COURSE_LENGTH, CourseModel, pad_to_course_length
from transformers import HfArgumentParser

from hf_onelayer import OneLayerTranslatorConfig, OneLayerTranslatorModel
from hf_onelayer.data import TranslationCollator, load_local_folder, tokenize_split
from hf_onelayer.models.tokenization_onelayer import OneLayerTranslatorTokenizer
from hf_onelayer.translation import translate


# `hf-onelayer ARGS` that prints its own peak RSS (VmHWM, kB) last on stderr. getrusage's ru_maxrss of a child
# would carry this process's peak over the exec.
PEAK_RSS_OF_CLI = """import atexit, sys
from hf_onelayer.cli import main
atexit.register(lambda: print("VmHWM_kB", next(line.split()[1] for line in open("/proc/self/status")
                                               if line.startswith("VmHWM:")), file=sys.stderr))
sys.exit(main(sys.argv[1:]))"""


@dataclass
class BenchArguments:
    data_dir: str = "../shared/data/multi30k"
    steps: int = field(default=12, metadata={"help": "timed steps per round"})
    rounds: int = 3
    batch_size: int = 128
    rss_steps: int = field(default=40, metadata={"help": "steps of the `hf-onelayer train` run measured for RSS (0: skip)"})
    run_dir: str = field(default="runs/default", metadata={"help": "a finished default run, for its measured wall time"})
    epochs: int = 10
    profile: bool = field(default=False, metadata={"help": "also print torch.profiler's table of 5 of our steps"})
    threads: int | None = field(default=None, metadata={"help": "torch threads (default: torch's, one per core)"})


def matmul_peak(threads: int, seconds: float = 2.0) -> float:
    """Best fp32 FLOP/s of square matmuls (n = 512 .. 2048) with the current thread count."""
    best = 0.0
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            a @ b
            reps += 1
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - start))
    return best


def step_flops(config, batch_size: int, width: int, n_out: int) -> float:
    """Matmul FLOPs of one training step (forward x 3): q, k, v and the scores over every position of
    a (batch_size, width) batch; the attention output, feed-forward and head at ``n_out`` positions."""
    B, T = batch_size, width
    C, nh, dqk, dv, F_, V = (config.hidden_size, config.num_attention_heads, config.head_dim_qk, config.head_dim_v,
                             config.intermediate_size, config.tgt_vocab_size)
    attention = 2 * B * T * C * (2 * nh * dqk + nh * dv) + 2 * B * nh * T * T * (dqk + dv)
    return 3 * (attention + n_out * (2 * nh * dv * C + 2 * C * F_ * 2 + 2 * C * V))


def seconds(step, batches) -> float:
    start = time.perf_counter()
    for features in batches:
        step(features)
    return time.perf_counter() - start


def profile(step, batches) -> str:
    """torch.profiler's table of ``step`` over ``batches``, the ops that took the most time first."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for features in batches:
            step(features)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)


def main():
    (args,) = HfArgumentParser(BenchArguments).parse_args_into_dataclasses()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    raw = load_local_folder(args.data_dir, splits=("train", "test"))
    tok = OneLayerTranslatorTokenizer.train_new(raw["train"]["de"], raw["train"]["en"], min_frequency=2,
                                                model_max_length=64)
    train = tokenize_split(raw["train"], tok, 64).dataset
    rng = random.Random(0)
    order = list(range(len(train)))
    rng.shuffle(order)
    n_batches = args.rounds * args.steps + 2
    batches = [[train[i] for i in order[k * args.batch_size:(k + 1) * args.batch_size]] for k in range(n_batches)]
    tokens_per_batch = [sum(sum(1 for t in f["labels"] if t != -100) for f in b) for b in batches]

    torch.manual_seed(0)
    config = OneLayerTranslatorConfig(src_vocab_size=tok.src_vocab_size, tgt_vocab_size=tok.tgt_vocab_size,
                                      attn_implementation="sdpa")
    ours = OneLayerTranslatorModel(config).train()
    ours_opt = torch.optim.AdamW(ours.parameters(), lr=1e-3, weight_decay=0.0, fused=True)  # optim adamw_torch_fused
    collate = TranslationCollator(pad_token_id=config.source_pad_token_id)
    base = CourseModel(tok.src_vocab_size, tok.tgt_vocab_size).train()
    base_opt = torch.optim.Adam(base.parameters(), lr=1e-3)

    def ours_step(features):
        loss = ours(**collate(features), loss_positions_only=True).loss
        loss.backward()
        ours_opt.step()
        ours_opt.zero_grad(set_to_none=True)

    def base_step(features):
        batch = pad_to_course_length(features)
        loss = base.loss(batch["input_ids"], batch["labels"])
        loss.backward()
        base_opt.step()
        base_opt.zero_grad(set_to_none=True)

    for step in (ours_step, base_step):  # warm-up
        for features in batches[-2:]:
            step(features)
    rounds = [batches[r * args.steps:(r + 1) * args.steps] for r in range(args.rounds)]
    ours_s, base_s = [], []
    for chunk in rounds:  # alternate, so background load hits both alike
        ours_s.append(seconds(ours_step, chunk))
        base_s.append(seconds(base_step, chunk))
    widths = [collate(features)["input_ids"].shape[1] for features in batches]
    ours_work = [step_flops(config, len(b), w, n) for b, w, n in zip(batches, widths, tokens_per_batch)]
    base_work = step_flops(config, args.batch_size, COURSE_LENGTH, args.batch_size * COURSE_LENGTH)
    labelled_share = sum(tokens_per_batch) / sum(len(b) * w for b, w in zip(batches, widths))
    steps = args.steps

    def per_round(values):
        return [sum(values[r * steps:(r + 1) * steps]) for r in range(args.rounds)]

    ours_tps = statistics.median(t / s for t, s in zip(per_round(tokens_per_batch), ours_s))
    base_tps = statistics.median(t / s for t, s in zip(per_round(tokens_per_batch), base_s))
    ours_flops_per_s = statistics.median(f / s for f, s in zip(per_round(ours_work), ours_s))
    base_flops_per_s = statistics.median(base_work * steps / s for s in base_s)
    flop_ratio = base_work * len(ours_work) / sum(ours_work)  # work per step, baseline / ours
    peak = matmul_peak(threads)
    if args.profile:
        print(profile(ours_step, batches[:5]))

    # translation throughput on test_2016_flickr
    ours.eval(), base.eval()
    texts = list(raw["test"]["de"])
    start = time.perf_counter()
    translate(ours, tok, texts, batch_size=128)
    ours_sps = len(texts) / (time.perf_counter() - start)
    start = time.perf_counter()
    with torch.inference_mode():
        for k in range(0, len(texts), 128):
            enc = tok(texts[k:k + 128], truncation=True, max_length=43)
            ids = pad_to_course_length([{"input_ids": i, "labels": []} for i in enc["input_ids"]])["input_ids"]
            tok.batch_decode(base(ids).argmax(-1).tolist(), skip_special_tokens=True)
    base_sps = len(texts) / (time.perf_counter() - start)

    rss_mib = None
    if args.rss_steps:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-c", PEAK_RSS_OF_CLI, "train", "training/configs/default.json", "--data_dir",
                   args.data_dir, "--output_dir", tmp, "--max_steps", str(args.rss_steps), "--eval_strategy", "no",
                   "--save_strategy", "no", "--load_best_model_at_end", "false", "--report_to", "none",
                   "--disable_tqdm", "true"]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        rss_mib = int(out.stderr.strip().splitlines()[-1].split()[-1]) / 1024

    epoch_tokens = sum(sum(1 for t in ids if t != -100) for ids in train["labels"])
    projected = args.epochs * epoch_tokens / ours_tps
    measured = None
    results_path = os.path.join(args.run_dir, "all_results.json")
    if os.path.exists(results_path):
        with open(results_path) as handle:
            measured = json.load(handle).get("train_runtime")

    result = {
        "threads": threads, "ours_tokens_per_s": ours_tps, "baseline_tokens_per_s": base_tps,
        "speedup": ours_tps / base_tps, "ours_model_flops_per_s": ours_flops_per_s, "matmul_peak_flops_per_s": peak,
        "mfu": ours_flops_per_s / peak, "baseline_mfu": base_flops_per_s / peak, "flop_ratio": flop_ratio, "labelled_share": labelled_share,
        "ours_translate_sentences_per_s": ours_sps,
        "baseline_translate_sentences_per_s": base_sps, "train_peak_rss_mib": rss_mib,
        "projected_10_epoch_train_s": projected, "measured_train_runtime_s": measured, "measured_run": results_path,
    }
    rows = [
        ("training target tokens/s, ours (dynamic padding, masked SDPA, head at labelled positions)", f"{ours_tps:,.0f}", ""),
        ("training target tokens/s, course-style baseline (per-head Linear, pad to 43, no mask)", f"{base_tps:,.0f}", ""),
        ("speed-up", f"{ours_tps / base_tps:.2f}x", ">= 3x"),
        ("MFU: our model FLOP/s / measured fp32 matmul peak",
         f"{ours_flops_per_s / 1e9:.1f} / {peak / 1e9:.1f} GFLOP/s = {100 * ours_flops_per_s / peak:.0f} %", ">= 35 %"),
        ("the same, baseline", f"{base_flops_per_s / 1e9:.1f} GFLOP/s = {100 * base_flops_per_s / peak:.0f} %", ""),
        ("matmul work per batch, baseline / ours (the speed-up at equal FLOP/s)", f"{flop_ratio:.2f}x", ""),
        ("positions of our dynamically padded batches that carry a label", f"{100 * labelled_share:.0f} %", ""),
        ("translate test_2016_flickr, sentences/s: ours / baseline", f"{ours_sps:,.0f} / {base_sps:,.0f}", ""),
        (f"peak RSS of `hf-onelayer train` ({args.rss_steps} steps)", f"{rss_mib:,.0f} MiB" if rss_mib else "skipped", ""),
        (f"default {args.epochs}-epoch training: projected from tokens/s", f"{projected / 60:.1f} min", ""),
        (f"measured train_runtime of {results_path}", f"{measured / 60:.1f} min" if measured else "no run", ""),
    ]
    print(f"| benchmark ({threads} threads) | result | goal |\n| --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
