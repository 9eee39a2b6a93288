r"""Studies 3 and 4 on trained translators: one head or several, and a key of uncertain norm.

Study 3 (Problem 1B). Models with 1, 2, 4 and 8 heads at one total attention width (:math:`n_h d_h`
fixed), several seeds each: val BLEU (greedy) and perplexity, the entropy of each head's weights, and
what is lost when one head's output is masked (:func:`~.trained.ablated_heads`), as in "Are Sixteen
Heads Really Better than One?". The encoder–decoder's heads are its cross-attention heads, the course
model's its one self-attention.

Study 4 (Problem 1B ii). In each model the key of one source token per sentence (a content token drawn
with a fixed seed, the same draw for every model) is multiplied by s. The output distribution moves by

.. math::

    \mathrm{KL}_i(s) = \frac{1}{T_i}\sum_{t} \mathrm{KL}\big(p(\cdot \mid t) \,\|\, p_s(\cdot \mid t)\big),

averaged over the output steps of sentence i (teacher-forced on the reference). Its mean and variance over
sentences, and the BLEU change, say how robust a model is; the ratio of the single-head models' mean
KL to the multi-head models', with a bootstrap interval over sentences, answers whether several heads make
trained models more robust, as the simulation (study 4) predicts.
"""

import json
import os
from collections import defaultdict

import torch
from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled
from matplotlib.ticker import NullFormatter
from tqdm.auto import tqdm

from ..kinds import kind_of
from ..metrics import corpus_scores
from ..trainer import evaluate_model
from ..translation import translate_ids
from ..utils import figure, save_figure
from .attention_math import bootstrap_ratio
from .trained import (
    ablated_heads, attention_modules, collect_attention, collect_cross_attention, cross_attention_statistics,
    head_statistics, scaled_key,
)

SCALES = (0.25, 0.5, 2.0, 4.0)  # s = 1 is the unperturbed model
BLEU_SCALES = (0.25, 4.0)  # a greedy decode each: the two ends only


def perturbed_positions(tokenizer, sources: list[str], max_length: int, seed: int = 0) -> torch.Tensor:
    """One source position per sentence whose key is scaled: a content token (not a special one), drawn
    uniformly with a fixed seed. The draw u_i is the same for every model, so tokenizers of the same
    length pick the same token."""
    u = torch.rand(len(sources), generator=torch.Generator().manual_seed(seed)).tolist()
    specials = set(tokenizer.all_special_ids)
    out = []
    for ui, ids in zip(u, tokenizer(sources, truncation=True, max_length=max_length)["input_ids"]):
        content = [p for p, i in enumerate(ids) if i not in specials] or [0]
        out.append(content[int(ui * len(content))])
    return torch.tensor(out)


def _batches(tokenizer, sources, targets, max_length: int, batch_size: int):
    for start in range(0, len(sources), batch_size):
        src = tokenizer(sources[start : start + batch_size], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt")
        tgt = tokenizer(text_target=targets[start : start + batch_size], padding=True, truncation=True,
                        max_length=max_length, return_tensors="pt")
        yield start, src, tgt


def _log_probs(model, src, tgt):
    """(B, T, V) output log-probabilities and the (B, T) mask of real output steps: the encoder–decoder
    teacher-forced on the reference, the course model at every source position."""
    scored = kind_of(model).score(model, src, tgt["input_ids"], tgt["attention_mask"])
    return torch.log_softmax(scored.logits.double(), -1), scored.mask  # double: KL >= 0 to 1e-15


@torch.no_grad()
def key_scaling_shift(model, tokenizer, sources: list[str], targets: list[str], positions: torch.Tensor,
                      scales=SCALES, batch_size: int = 64) -> dict[float, torch.Tensor]:
    """Per scale s, the (N,) per-sentence mean KL(p || p_s) of the output distributions when the key of
    ``positions[i]`` in sentence i is multiplied by s (see the module docstring)."""
    model = model.eval()
    limit = model.config.max_position_embeddings
    shifts = {s: [] for s in scales}
    for start, src, tgt in _batches(tokenizer, sources, targets, limit, batch_size):
        base, mask = _log_probs(model, src, tgt)
        rows = positions[start : start + len(mask)]
        for s in scales:
            with scaled_key(model, rows, s):
                moved, _ = _log_probs(model, src, tgt)
            kl = (base.exp() * (base - moved)).sum(-1)  # (B, T)
            shifts[s].append((kl * mask).sum(1) / mask.sum(1))
    return {s: torch.cat(v).double() for s, v in shifts.items()}


@torch.no_grad()
def translate_with_scaled_key(model, tokenizer, sources: list[str], positions: torch.Tensor, scale: float,
                              batch_size: int = 64) -> list[str]:
    """Greedy translations with the key of ``positions[i]`` scaled by ``scale`` in sentence i."""
    limit, out = model.config.max_position_embeddings, []
    for start in range(0, len(sources), batch_size):
        enc = tokenizer(sources[start : start + batch_size], padding=True, truncation=True, max_length=limit,
                        return_tensors="pt")
        with scaled_key(model, positions[start : start + len(enc["input_ids"])], scale):
            out += tokenizer.batch_decode(translate_ids(model, enc, num_beams=1), skip_special_tokens=True)
    return out


def head_entropies(model, tokenizer, sources: list[str], targets: list[str]) -> list[float]:
    """Mean entropy (nats) of each head's weights: the encoder–decoder's cross-attention (teacher-forced),
    the course model's self-attention; (layer, head) in order."""
    if kind_of(model).source_attention == "cross":
        stats = cross_attention_statistics(collect_cross_attention(model, tokenizer, sources, targets)[0])
    else:
        stats = head_statistics(collect_attention(model, tokenizer, sources)[0])
    return [h["entropy_mean"] for h in stats["heads"]]


def head_study(model, tokenizer, dataset, positions: torch.Tensor, scales=SCALES, bleu_scales=BLEU_SCALES) -> dict:
    """Studies 3 and 4 for one trained model on ``dataset`` (columns ``tokenizer.source_lang`` / ``target_lang``):
    BLEU and perplexity; per head its entropy and the BLEU / perplexity change when it alone is ablated;
    per scale the KL shift (mean, variance, per sentence) and, for ``bleu_scales``, the BLEU change."""
    bars = is_progress_bar_enabled()
    disable_progress_bar()  # a tokenize bar per ablated head is noise
    try:
        return _head_study(model, tokenizer, dataset, positions, scales, bleu_scales)
    finally:
        if bars:
            enable_progress_bar()


def _head_study(model, tokenizer, dataset, positions, scales, bleu_scales) -> dict:
    sources, references = list(dataset[tokenizer.source_lang]), list(dataset[tokenizer.target_lang])
    base = evaluate_model(model, tokenizer, dataset, num_beams=1)
    out = {"bleu": base["bleu"], "perplexity": base["perplexity"], "heads": []}
    entropies = head_entropies(model, tokenizer, sources, references)
    pairs = [(layer, h) for layer, module in enumerate(attention_modules(model)) for h in range(module.num_heads)]
    for (layer, h), ent in zip(tqdm(pairs, desc="ablate heads", leave=False), entropies):
        with ablated_heads(model, [(layer, h)]):
            ablated = evaluate_model(model, tokenizer, dataset, num_beams=1)
        out["heads"].append({"layer": layer, "head": h, "entropy_mean": ent,
                             "bleu_drop": base["bleu"] - ablated["bleu"],
                             "perplexity_increase": ablated["perplexity"] - base["perplexity"]})
    shifts = key_scaling_shift(model, tokenizer, sources, references, positions, scales)
    out["key_scaling"] = []
    for s in scales:
        row = {"scale": s, "kl_mean": shifts[s].mean().item(), "kl_var": shifts[s].var().item(),
               "kl_per_sentence": shifts[s].tolist()}
        if s in bleu_scales:
            moved = translate_with_scaled_key(model, tokenizer, sources, positions, s)
            row["bleu_change"] = corpus_scores(moved, references)["bleu"] - base["bleu"]
        out["key_scaling"].append(row)
    return out


def _mean_spread(values: list[float]) -> tuple[float, float]:
    t = torch.tensor(values, dtype=torch.double)
    return t.mean().item(), (t.std().item() if len(t) > 1 else 0.0)


def summarize(runs: list[dict], seed: int = 0, resamples: int = 2000) -> dict:
    """Group per-run results by (model, heads): mean ± std over seeds; and per model and scale, the ratio of
    the single-head models' mean KL to each multi-head count's (KL per sentence averaged over seeds first),
    with a paired percentile bootstrap interval over sentences."""
    groups = defaultdict(list)
    for run in runs:
        groups[(run["model"], run["num_heads"])].append(run)
    rows = []
    for (name, heads), members in sorted(groups.items()):
        row = {"model": name, "num_heads": heads, "head_dim": members[0]["head_dim"],
               "seeds": sorted(m["seed"] for m in members)}
        for key in ("bleu", "perplexity"):
            row[key] = _mean_spread([m[key] for m in members])
        every_head = [h for m in members for h in m["heads"]]
        row["entropy_range"] = [min(h["entropy_mean"] for h in every_head), max(h["entropy_mean"] for h in every_head)]
        row["entropy"] = _mean_spread([h["entropy_mean"] for h in every_head])
        row["max_bleu_drop"] = _mean_spread([max(h["bleu_drop"] for h in m["heads"]) for m in members])
        row["mean_bleu_drop"] = _mean_spread([sum(h["bleu_drop"] for h in m["heads"]) / len(m["heads"]) for m in members])
        row["max_perplexity_increase"] = _mean_spread([max(h["perplexity_increase"] for h in m["heads"]) for m in members])
        row["key_scaling"] = []
        for i, scaling in enumerate(members[0]["key_scaling"]):
            entry = {"scale": scaling["scale"], "kl_mean": _mean_spread([m["key_scaling"][i]["kl_mean"] for m in members]),
                     "kl_var": _mean_spread([m["key_scaling"][i]["kl_var"] for m in members])}
            if "bleu_change" in scaling:
                entry["bleu_change"] = _mean_spread([m["key_scaling"][i]["bleu_change"] for m in members])
            row["key_scaling"].append(entry)
        rows.append(row)

    g = torch.Generator().manual_seed(seed)
    ratios = []
    for name in sorted({run["model"] for run in runs}):
        per_heads = {heads: members for (model, heads), members in groups.items() if model == name}
        if 1 not in per_heads:
            continue
        for i, scaling in enumerate(per_heads[1][0]["key_scaling"]):
            kl = {heads: torch.tensor([m["key_scaling"][i]["kl_per_sentence"] for m in members],
                                      dtype=torch.double).mean(0) for heads, members in per_heads.items()}
            for heads in sorted(h for h in kl if h != 1):
                ratio = {"model": name, "scale": scaling["scale"], "num_heads": heads,
                         "mean_ratio": (kl[1].mean() / kl[heads].mean()).item(),
                         "mean_ratio_ci95": bootstrap_ratio(kl[1], kl[heads], g, resamples, statistic="mean"),
                         "var_ratio": (kl[1].var() / kl[heads].var()).item(),
                         "var_ratio_ci95": bootstrap_ratio(kl[1], kl[heads], g, resamples, statistic="var")}
                ratios.append(ratio)
    return {"groups": rows, "robustness": ratios}


def plot_heads(summary: dict, runs: list[dict], out_dir: str) -> list[str]:
    """Three PNGs: BLEU against the head count; the BLEU drop of each ablated head; the KL shift against s."""
    models = sorted({row["model"] for row in summary["groups"]})
    fig, axes = figure(1, len(models))
    for ax, name in zip(axes[0], models):
        rows = [r for r in summary["groups"] if r["model"] == name]
        ax.errorbar([r["num_heads"] for r in rows], [r["bleu"][0] for r in rows], [r["bleu"][1] for r in rows],
                    marker="o", capsize=3)
        ax.set(xscale="log", xlabel="heads (same total attention width)", ylabel="val BLEU (greedy)", title=name)
        ax.set_xticks([r["num_heads"] for r in rows], [str(r["num_heads"]) for r in rows])
        ax.xaxis.set_minor_formatter(NullFormatter())
    paths = [save_figure(fig, os.path.join(out_dir, "heads_bleu.png"))]

    seeds = sorted({run["seed"] for run in runs}, key=str)
    fig, axes = figure(1, len(models))
    for ax, name in zip(axes[0], models):
        labelled = set()
        for run in (r for r in runs if r["model"] == name):
            drops, k = [h["bleu_drop"] for h in run["heads"]], seeds.index(run["seed"])
            ax.scatter([run["num_heads"] * (1 + 0.04 * k)] * len(drops), drops, s=14, alpha=0.7, color=f"C{k}",
                       label=None if k in labelled else f"seed {run['seed']}")
            labelled.add(k)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set(xscale="log", xlabel="heads", ylabel="BLEU drop when one head is ablated", title=name)
        ax.set_xticks([1, 2, 4, 8], ["1", "2", "4", "8"])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
    paths.append(save_figure(fig, os.path.join(out_dir, "heads_ablation.png")))

    fig, axes = figure(1, len(models))
    for ax, name in zip(axes[0], models):
        for row in (r for r in summary["groups"] if r["model"] == name):
            scales = [k["scale"] for k in row["key_scaling"]]
            ax.errorbar(scales, [k["kl_mean"][0] for k in row["key_scaling"]],
                        [k["kl_mean"][1] for k in row["key_scaling"]], marker="o", capsize=3,
                        label=f"{row['num_heads']} head{'s' if row['num_heads'] > 1 else ''}")
        ax.set(xscale="log", yscale="log", xlabel="key scale s of one source token",
               ylabel="mean KL(p ‖ p_s) per output step [nats]", title=name)
        ax.set_xticks(scales, [f"{s:g}" for s in scales])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
    paths.append(save_figure(fig, os.path.join(out_dir, "heads_key_scaling.png")))
    return paths


def _pm(pair, digits: int = 2) -> str:
    return f"{pair[0]:.{digits}f} ± {pair[1]:.{digits}f}"


def summary_markdown(summary: dict, sentences: int, split: str) -> str:
    """Tables of the summary: one row per (model, heads), then the robustness ratios."""
    scales = [k["scale"] for k in summary["groups"][0]["key_scaling"]]
    lines = [f"# One head or several, trained ({sentences} {split} sentences)", "",
             "Mean ± std over seeds. Ablation: one head's output masked, greedy BLEU lost. Key scaling: the key "
             "of one content token per sentence multiplied by s; KL per output step, teacher-forced.", "",
             "| model | heads × d | seeds | BLEU | perplexity | head entropy (nats), min–max | BLEU drop, worst head "
             "| BLEU drop, mean head | perplexity rise, worst head | " + " | ".join(f"KL s={s:g}" for s in scales) + " | "
             + " | ".join(f"ΔBLEU s={s:g}" for s in BLEU_SCALES) + " |",
             "| --- " * (9 + len(scales) + len(BLEU_SCALES)) + "|"]
    for row in summary["groups"]:
        kl = [_pm(k["kl_mean"], 4) for k in row["key_scaling"]]
        bleu = [_pm(k["bleu_change"]) for k in row["key_scaling"] if "bleu_change" in k]
        lines.append(f"| {row['model']} | {row['num_heads']} × {row['head_dim']} | {len(row['seeds'])} | "
                     f"{_pm(row['bleu'])} | {_pm(row['perplexity'])} | {row['entropy'][0]:.2f} "
                     f"({row['entropy_range'][0]:.2f}–{row['entropy_range'][1]:.2f}) | {_pm(row['max_bleu_drop'])} | "
                     f"{_pm(row['mean_bleu_drop'])} | {_pm(row['max_perplexity_increase'])} | " + " | ".join(kl + bleu) + " |")
    lines += ["", "Robustness: mean KL of the 1-head models over that of the h-head models (per-sentence KL "
              "averaged over seeds; > 1: several heads move less), 95 % paired bootstrap interval over sentences.", "",
              "| model | s | h | mean-KL ratio 1 / h | 95 % CI | KL-variance ratio | 95 % CI |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in summary["robustness"]:
        lines.append(f"| {r['model']} | {r['scale']:g} | {r['num_heads']} | {r['mean_ratio']:.2f} | "
                     f"{r['mean_ratio_ci95'][0]:.2f}–{r['mean_ratio_ci95'][1]:.2f} | {r['var_ratio']:.2f} | "
                     f"{r['var_ratio_ci95'][0]:.2f}–{r['var_ratio_ci95'][1]:.2f} |")
    return "\n".join(lines) + "\n"


def run_info(folder: str) -> dict:
    """Model kind, head count, head width and seed of a training run folder (config.json, run_args.json)."""
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    seed = None
    if os.path.isfile(os.path.join(folder, "run_args.json")):
        with open(os.path.join(folder, "run_args.json"), encoding="utf-8") as handle:
            seed = json.load(handle)["training"]["seed"]
    return {"model": kind_of(config).label, "num_heads": config["num_attention_heads"], "head_dim": config["head_dim_v"],
            "seed": seed}


__all__ = ["perturbed_positions", "key_scaling_shift", "translate_with_scaled_key", "head_entropies", "head_study",
           "summarize", "plot_heads", "summary_markdown", "run_info", "SCALES"]
