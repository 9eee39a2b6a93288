"""Start-up: the time from process start to the first line of output, one JSON line and a table.

    make bench            # or: .venv/bin/python benchmarks/bench_startup.py [--repeats 5] [--out FILE]

Rows, each the median of ``--repeats`` fresh processes (the first, which warms the disk cache, is not counted):
``hf-onelayer --help`` and every ``COMMAND --help`` (goal: <= 0.5 s each), ``hf-onelayer translate --engine
ctranslate2`` of one sentence with the int8 export of release/seq2seq (goal: <= 1 s), and beside them, measured in
the same run: ``import ctranslate2``, ``import transformers``, ``import hf_onelayer`` and the transformers path
(``hf-onelayer translate --model release/seq2seq``, which loads torch, transformers and the model).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SENTENCE = "Zwei Hunde spielen im Schnee."
HELP_GOAL_S, CT2_GOAL_S = 0.5, 1.0


def first_line_s(argv: list[str]) -> float:
    """Seconds from starting ``argv`` to its first line on stdout (then it is let finish)."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    line = child.stdout.readline()
    elapsed = time.perf_counter() - start
    child.communicate()
    if child.returncode != 0 or not line:
        raise RuntimeError(f"{' '.join(argv)} failed (exit {child.returncode})")
    return elapsed


def median_s(argv: list[str], repeats: int) -> float:
    first_line_s(argv)  # warm the disk cache
    return statistics.median(first_line_s(argv) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default=os.path.join(REPO, "release", "seq2seq"))
    parser.add_argument("--out", default=None, help="also write the JSON line here")
    args = parser.parse_args()
    py = sys.executable
    cli = [py, "-m", "hf_onelayer.cli"]
    sys.path.insert(0, REPO)
    from hf_onelayer.cli import help_lines

    rows = []  # (label, argv, goal or None)
    rows.append(("import ctranslate2", [py, "-c", "import ctranslate2; print(1)"], None))
    rows.append(("import transformers", [py, "-c", "import transformers; print(1)"], None))
    rows.append(("import hf_onelayer", [py, "-c", "import hf_onelayer; print(1)"], None))
    rows.append(("hf-onelayer --help", [*cli, "--help"], HELP_GOAL_S))
    for command, sub in help_lines().values():
        words = [command, *([sub] if sub else [])]
        rows.append((f"hf-onelayer {' '.join(words)} --help", [*cli, *words, "--help"], HELP_GOAL_S))
    with tempfile.TemporaryDirectory() as tmp:
        ct2_dir = os.path.join(tmp, "ct2")
        subprocess.run([*cli, "export-ct2", "--model", args.model, "--output_dir", ct2_dir], check=True,
                       capture_output=True, cwd=REPO)
        rows.append(("translate --engine ctranslate2 (int8)",
                     [*cli, "translate", "--engine", "ctranslate2", "--model", ct2_dir, SENTENCE], CT2_GOAL_S))
        rows.append(("translate (transformers, generate())", [*cli, "translate", "--model", args.model, SENTENCE],
                     None))
        results = [(label, median_s(argv, args.repeats), goal) for label, argv, goal in rows]

    print(f"| start-up, {args.repeats} runs' median (first output line) | seconds | goal |")
    print("| --- | --- | --- |")
    for label, seconds, goal in results:
        verdict = "" if goal is None else f"<= {goal} s: {'met' if seconds <= goal else 'MISSED'}"
        print(f"| `{label}` | {seconds:.3f} | {verdict} |")
    record = {"bench": "startup", "repeats": args.repeats, "cpus": len(os.sched_getaffinity(0)),
              "rows": {label: round(seconds, 4) for label, seconds, _ in results},
              "goals_met": all(goal is None or seconds <= goal for _, seconds, goal in results)}
    line = json.dumps(record)
    print(line)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(line + "\n")


if __name__ == "__main__":
    main()
