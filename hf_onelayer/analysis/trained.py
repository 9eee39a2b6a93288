r"""Study 5: what the attention heads of a trained translator do.

For every sentence, the eager attention weights :math:`\alpha^{(h)}_{t,s}` of head h (query
position t, key position s) are read for the real source tokens. Per head:

* entropy :math:`H_t = -\sum_s \alpha_{t,s}\log\alpha_{t,s}` of each query row (distribution, mean);
* share of peaked rows, :math:`\max_s \alpha_{t,s} > 0.9` (heads that copy one position);
* diagonal mass :math:`\alpha_{t,t}` (attending to the token at the output position itself);
* mean attention distance :math:`\sum_s \alpha_{t,s}|t-s|`;
* the spread (std) of a row's pre-softmax scores, read back as the std of :math:`\log\alpha_{t,\cdot}`;
* the largest weight any padded key receives in padded batches (it must be exactly 0).
"""

import os
from contextlib import ExitStack, contextmanager

import torch

from ..kinds import kind_of
from ..utils import figure, save_figure
from .attention_math import entropy


@torch.no_grad()
def collect_attention(model, tokenizer, sentences: list[str], batch_size: int = 64):
    """Per sentence: (source ids (n,), weights (heads, n, n) over the real tokens); and the padded-key max weight.

    Runs the model in eval mode with ``output_attentions=True`` (the eager path), in padded batches.
    """
    model = model.eval()
    rows, pad_max = [], 0.0
    limit = model.config.max_position_embeddings
    for start in range(0, len(sentences), batch_size):
        enc = tokenizer(sentences[start : start + batch_size], padding=True, truncation=True, max_length=limit,
                        return_tensors="pt")
        weights = model(**enc, output_attentions=True).attentions[0]  # (B, nh, T, T)
        mask = enc["attention_mask"].bool()
        if (~mask).any():
            pad_max = max(pad_max, weights.masked_select(~mask[:, None, None, :].expand_as(weights)).max().item())
        for b in range(len(mask)):
            n = int(mask[b].sum())
            rows.append((enc["input_ids"][b, :n], weights[b, :, :n, :n]))
    return rows, pad_max


def head_statistics(rows, peak_threshold: float = 0.9) -> dict:
    """Per-head statistics over all query rows of all sentences (see the module docstring)."""
    heads = rows[0][1].shape[0]
    stats = {"heads": []}
    for h in range(heads):
        ent, peak, diag, dist, spread = [], [], [], [], []
        for _, w in rows:
            a = w[h]  # (n, n)
            # std of the pre-softmax scores of a row: log alpha = z - logsumexp(z), so std(log alpha) = std(z)
            spread.append(a.clamp_min(1e-30).log().std(-1) if a.shape[-1] > 1 else torch.zeros(1))
            n = a.shape[0]
            pos = torch.arange(n, dtype=a.dtype)
            ent.append(entropy(a))
            peak.append(a.max(-1).values > peak_threshold)
            diag.append(a.diagonal())
            dist.append((a * (pos[:, None] - pos[None, :]).abs()).sum(-1))
        ent, peak, diag, dist, spread = (torch.cat(x).double() for x in (ent, peak, diag, dist, spread))
        stats["heads"].append({
            "head": h,
            "rows": len(ent),
            "entropy_mean": ent.mean().item(),
            "entropy_quartiles": ent.quantile(torch.tensor([0.25, 0.5, 0.75], dtype=ent.dtype)).tolist(),
            "effective_support_mean": ent.exp().mean().item(),
            "peaked_share": peak.mean().item(),
            "diagonal_mass": diag.mean().item(),
            "mean_distance": dist.mean().item(),
            "score_std": spread.mean().item(),
        })
    # uniform attention over the same query rows (each row of an n-token sentence: log n)
    lengths = torch.tensor([w.shape[-1] for _, w in rows], dtype=torch.double)
    stats["uniform_entropy_mean"] = ((lengths * lengths.log()).sum() / lengths.sum()).item()
    stats["sentences"] = len(rows)
    return stats


def entropies_by_head(rows) -> list[torch.Tensor]:
    return [torch.cat([entropy(w[h]) for _, w in rows]) for h in range(rows[0][1].shape[0])]


def analyze_model(model, tokenizer, sentences: list[str], heatmap_sentences: list[str] | None = None,
                  out_dir: str | None = None, label: str = "model", collected=None) -> dict:
    """Statistics, the padding check, and figures (entropy histograms, heatmaps) for one model.

    ``collected`` = the (rows, padded-key max) of :func:`collect_attention`, when already computed.
    """
    rows, pad_max = collected if collected is not None else collect_attention(model, tokenizer, sentences)
    stats = head_statistics(rows)
    stats["padded_key_max_weight"] = pad_max
    stats["label"] = label
    figures = []
    if out_dir is not None:
        figures.append(plot_entropy([(label, rows)], os.path.join(out_dir, f"{label}_entropy.png")))
        heat = heatmap_sentences or sentences[:3]
        figures.append(plot_heatmaps(model, tokenizer, heat, os.path.join(out_dir, f"{label}_heatmaps.png")))
    stats["figures"] = figures
    return stats


def plot_entropy(labelled_rows, path: str) -> str:
    """Histogram of per-row entropy for each head of each (label, rows) pair."""
    heads = labelled_rows[0][1][0][1].shape[0]
    fig, axes = figure(1, heads)
    for label, rows in labelled_rows:
        for h, ent in enumerate(entropies_by_head(rows)):
            axes[0][h].hist(ent.numpy(), bins=50, alpha=0.55, density=True, label=label)
    for h in range(heads):
        axes[0][h].set(xlabel="entropy of a query row [nats]", ylabel="density", title=f"head {h}")
        axes[0][h].legend()
    return save_figure(fig, path)


@torch.no_grad()
def plot_heatmaps(model, tokenizer, sentences: list[str], path: str) -> str:
    """One heatmap per (sentence, head): keys = source tokens, rows = source token -> predicted English token."""
    heads = model.config.num_attention_heads
    fig, axes = figure(len(sentences), heads, width=5.2, height=4.4)
    for i, sentence in enumerate(sentences):
        enc = tokenizer([sentence], return_tensors="pt")
        out = model(**enc, output_attentions=True)
        weights = out.attentions[0][0]  # (nh, n, n)
        src = tokenizer.convert_source_ids_to_tokens(enc["input_ids"][0].tolist())
        pred = tokenizer.convert_target_ids_to_tokens(out.logits[0].argmax(-1).tolist())
        ylabels = [f"{s} → {p}" for s, p in zip(src, pred)]
        for h in range(heads):
            ax = axes[i][h]
            ax.imshow(weights[h].numpy(), vmin=0, vmax=1, cmap="viridis")
            ax.set_xticks(range(len(src)), src, rotation=70, fontsize=7)
            ax.set_yticks(range(len(src)), ylabels, fontsize=7)
            ax.set_title(f"head {h}", fontsize=9)
    return save_figure(fig, path, dpi=100)


@torch.no_grad()
def cross_attention(model, tokenizer, sentence: str, num_beams: int | None = None, target: str | None = None) -> dict:
    """The encoder–decoder's translation of ``sentence`` (or the given ``target``) and where it looked while writing it.

    Returns ``source`` tokens (S), ``target`` tokens (T: each output token after ``<s>``, up to ``</s>``),
    ``translation`` (text) and ``weights`` (layers, heads, T, S): row t is the cross-attention of the step
    that wrote target token t, read back by teacher-forcing the model on its own output (eager path).
    Also ``output_ids`` (T, as labels: ``tok(text_target=...)``'s ids), ``decoder_input_ids`` (T, from ``<s>``),
    ``encoder_weights`` (L, nh, S, S) and ``decoder_weights``
    (L, nh, T, T: keys are the decoder's inputs, ``<s>`` and the tokens before t). A source longer than
    ``max_position_embeddings`` is cut to it.
    """
    enc = tokenizer([sentence], truncation=True, max_length=model.config.max_position_embeddings, return_tensors="pt")
    if target is None:
        written = model.generate(**enc, **({"num_beams": num_beams} if num_beams else {}))  # (1, T + 1), from <s>
        ids = written[:, 1:]  # (1, T)
    else:
        ids = tokenizer(text_target=[target], truncation=True, max_length=model.config.max_position_embeddings,
                        return_tensors="pt")["input_ids"]  # (1, T)
    decoder_input_ids = model.prepare_decoder_input_ids_from_labels(ids)  # (1, T): <s> and the tokens before t
    out = model(**enc, decoder_input_ids=decoder_input_ids, output_attentions=True)
    return {
        "source": tokenizer.convert_source_ids_to_tokens(enc["input_ids"][0]),
        "target": tokenizer.convert_target_ids_to_tokens(ids[0].tolist()),
        "translation": tokenizer.decode(ids[0], skip_special_tokens=True),
        "output_ids": ids[0],
        "decoder_input_ids": decoder_input_ids[0],
        "weights": torch.stack([w[0] for w in out.cross_attentions]),  # (L, nh, T, S)
        "encoder_weights": torch.stack([w[0] for w in out.encoder_attentions]),  # (L, nh, S, S)
        "decoder_weights": torch.stack([w[0] for w in out.decoder_attentions]),  # (L, nh, T, T)
    }


def plot_cross_attention(model, tokenizer, sentences: list[str], path: str, layer: int = -1) -> str:
    """One heatmap per (sentence, head) of the encoder–decoder's cross-attention: columns = German source
    tokens, rows = the English tokens it wrote (``cross_attention``)."""
    heads = model.config.num_attention_heads
    fig, axes = figure(len(sentences), heads, width=4.4, height=4.0)
    for i, sentence in enumerate(sentences):
        seen = cross_attention(model, tokenizer, sentence)
        for h in range(heads):
            ax = axes[i][h]
            ax.imshow(seen["weights"][layer, h].numpy(), vmin=0, vmax=1, cmap="viridis")
            ax.set_xticks(range(len(seen["source"])), seen["source"], rotation=70, fontsize=7)
            ax.set_yticks(range(len(seen["target"])), seen["target"], fontsize=7)
            ax.set_title(f"cross-attention head {h}", fontsize=9)
    return save_figure(fig, path, dpi=100)


@torch.no_grad()
def collect_cross_attention(model, tokenizer, sources: list[str], targets: list[str], batch_size: int = 64):
    """The encoder–decoder's cross-attention, teacher-forced on the reference ``targets``.

    Per pair: (weights (layers, heads, T, S) over the T emitted target tokens and the S real source
    tokens; row t is the step that predicts target token t); and the largest weight any padded source
    key receives.
    """
    model = model.eval()
    limit = model.config.max_position_embeddings
    rows, pad_max = [], 0.0
    for start in range(0, len(sources), batch_size):
        src = tokenizer(sources[start : start + batch_size], padding=True, truncation=True, max_length=limit,
                        return_tensors="pt")
        tgt = tokenizer(text_target=targets[start : start + batch_size], padding=True, truncation=True,
                        max_length=limit, return_tensors="pt")
        out = model(**src, decoder_input_ids=model.prepare_decoder_input_ids_from_labels(tgt["input_ids"]),
                    output_attentions=True, use_cache=False)
        weights = torch.stack(out.cross_attentions, dim=1)  # (B, L, nh, T, S)
        mask = src["attention_mask"].bool()
        if (~mask).any():
            pad_max = max(pad_max, weights.masked_select(~mask[:, None, None, None, :].expand_as(weights)).max().item())
        for b, (n, t) in enumerate(zip(mask.sum(1).tolist(), tgt["attention_mask"].sum(1).tolist())):
            rows.append(weights[b, :, :, :t, :n])
    return rows, pad_max


def cross_attention_statistics(rows, peak_threshold: float = 0.9) -> dict:
    """Per (layer, head): mean entropy of a target step's weights over the source, the share of peaked steps
    (max weight > ``peak_threshold``), and how monotone the argmax path over source positions is (the share
    of consecutive steps whose argmax does not move back)."""
    layers, heads = rows[0].shape[:2]
    stats = {"heads": []}
    for layer in range(layers):
        for h in range(heads):
            ent, peak, forward = [], [], []
            for w in rows:
                a = w[layer, h]  # (T, S)
                ent.append(entropy(a))
                peak.append(a.max(-1).values > peak_threshold)
                path = a.argmax(-1)
                forward.append(path[1:] >= path[:-1])
            ent, peak, forward = (torch.cat(x).double() for x in (ent, peak, forward))
            stats["heads"].append({"layer": layer, "head": h, "rows": len(ent), "entropy_mean": ent.mean().item(),
                                   "effective_support_mean": ent.exp().mean().item(),
                                   "peaked_share": peak.mean().item(), "monotone_share": forward.mean().item()})
    sizes = torch.tensor([[w.shape[-2], w.shape[-1]] for w in rows], dtype=torch.double)  # (steps, source length)
    stats["uniform_entropy_mean"] = ((sizes[:, 0] * sizes[:, 1].log()).sum() / sizes[:, 0].sum()).item()
    stats["sentences"] = len(rows)
    return stats


def find_copies(source_ids: list[int], target_ids: list[int], copyable: set[int]) -> list[tuple[int, int]]:
    """(target step, source position) for each target token that copies a source token verbatim: the same id,
    and an id in ``copyable`` (tokens with a letter or digit: names, numbers, words spelt alike). When the token
    occurs more than once in the source, its first occurrence is taken."""
    first_at = {}
    for s, i in enumerate(source_ids):
        first_at.setdefault(i, s)
    return [(t, first_at[i]) for t, i in enumerate(target_ids) if i in copyable and i in first_at]


def copyable_ids(tokenizer, sources: list[str], frequent: int = 100) -> set[int]:
    """Ids of a joint vocabulary that can be copied: tokens with a letter or a digit (not punctuation or specials),
    leaving out the ``frequent`` commonest tokens of ``sources`` (function words such as "in" that both
    languages share are ordinary words, not copies)."""
    from collections import Counter

    counts = Counter(i for row in tokenizer(sources, add_special_tokens=False)["input_ids"] for i in row)
    common = {i for i, _ in counts.most_common(frequent)}
    specials = set(tokenizer.all_special_ids)
    return {i for token, i in tokenizer.target.get_vocab().items()
            if i not in specials and i not in common and any(ch.isalnum() for ch in token)}


@torch.no_grad()
def copying_in_the_wild(model, tokenizer, sources: list[str], batch_size: int = 64, peak_threshold: float = 0.9) -> dict:
    """Problem 1A on real data: at each step where the encoder–decoder writes a token that copies a source
    token verbatim, the cross-attention weight (each head, last layer) on that source token; against the
    largest weight of the other steps. Translations are the model's own (greedy), read back teacher-forced."""
    if not tokenizer.is_joint:
        raise ValueError("copies are read as equal token ids, so the model needs a joint vocabulary")
    copyable = copyable_ids(tokenizer, sources)
    copy_weight, copy_max, other_max, examples = [], [], [], []
    for start in range(0, len(sources), batch_size):
        batch = sources[start : start + batch_size]
        enc = tokenizer(batch, padding=True, return_tensors="pt")
        ids = model.generate(**enc, num_beams=1)  # (B, 1 + T)
        out = model(**enc, decoder_input_ids=ids[:, :-1], output_attentions=True, use_cache=False)
        weights = out.cross_attentions[-1]  # (B, nh, T, S)
        for b in range(len(batch)):
            n = int(enc["attention_mask"][b].sum())
            emitted = ids[b, 1:].tolist()
            emitted = emitted[: emitted.index(tokenizer.eos_token_id) + 1] if tokenizer.eos_token_id in emitted else emitted
            copies = find_copies(enc["input_ids"][b, :n].tolist(), emitted, copyable)
            copied_steps = {t for t, _ in copies}
            w = weights[b, :, : len(emitted), :n]  # (nh, T, S)
            for t, s in copies:
                copy_weight.append(w[:, t, s])
                copy_max.append(w[:, t].max(-1).values)
                if len(examples) < 20:
                    examples.append(tokenizer.convert_target_ids_to_tokens([emitted[t]])[0])
            other_max += [w[:, t].max(-1).values for t in range(len(emitted)) if t not in copied_steps]
    if not copy_weight:
        return {"sentences": len(sources), "copy_steps": 0, "other_steps": len(other_max), "copy_examples": [],
                "heads": []}
    copy_weight, copy_max, other_max = (torch.stack(x).double() for x in (copy_weight, copy_max, other_max))
    heads = []
    for h in range(copy_weight.shape[1]):
        heads.append({"head": h, "copy_weight_on_source_token": copy_weight[:, h].mean().item(),
                      "copy_peaked_share": (copy_weight[:, h] > peak_threshold).float().mean().item(),
                      "copy_max_weight": copy_max[:, h].mean().item(),
                      "other_max_weight": other_max[:, h].mean().item(),
                      "other_peaked_share": (other_max[:, h] > peak_threshold).float().mean().item()})
    best = copy_weight.max(dim=1).values  # the head that looks hardest at the copied token
    return {"sentences": len(sources), "copy_steps": len(copy_weight), "other_steps": len(other_max),
            "copy_examples": examples, "heads": heads,
            "any_head_weight_on_copied_token": best.mean().item(),
            "any_head_peaked_share": (best > peak_threshold).float().mean().item(),
            "other_steps_any_head_max": other_max.max(dim=1).values.mean().item()}


def analyze_seq2seq(model, tokenizer, sources: list[str], targets: list[str], heatmap_sentences: list[str] | None = None,
                    out_dir: str | None = None, label: str = "model") -> dict:
    """Cross-attention statistics, the padding check, copying (joint vocabularies) and heatmaps of the encoder–decoder."""
    rows, pad_max = collect_cross_attention(model, tokenizer, sources, targets)
    stats = cross_attention_statistics(rows)
    stats.update(padded_key_max_weight=pad_max, label=label, kind="cross-attention")
    if tokenizer.is_joint:
        stats["copying"] = copying_in_the_wild(model, tokenizer, sources)
    stats["figures"] = [] if out_dir is None else [plot_cross_attention(
        model, tokenizer, heatmap_sentences or sources[:3], os.path.join(out_dir, f"{label}_cross_attention.png"))]
    return stats


def attention_modules(model, kind: str = "cross"):
    """The attention modules of ``kind``: "cross" or "self" (the encoder–decoder), or the course model's one."""
    return kind_of(model).attention_modules(model, kind)


@contextmanager
def ablated_heads(model, heads: list[tuple[int, int]], kind: str = "cross"):
    """Within the block, (layer, head) pairs of ``kind`` attention give no output: their slice of the
    concatenated heads is zeroed before the output projection (as in "Are Sixteen Heads Really Better than One?")."""
    with ExitStack() as hooks:  # each hook handle is removed on exit
        for index, module in enumerate(attention_modules(model, kind)):
            dropped = [h for layer, h in heads if layer == index]
            if not dropped:
                continue

            def zero_heads(_, args, dropped=dropped, d_v=module.d_v):
                (context,) = args  # (B, T, nh * d_v)
                context = context.clone()
                for h in dropped:
                    context[..., h * d_v : (h + 1) * d_v] = 0
                return (context,)

            hooks.enter_context(module.output.register_forward_pre_hook(zero_heads))
        yield model


@contextmanager
def scaled_key(model, position: int | torch.Tensor, scale: float, kind: str = "cross"):
    """Within the block, the key of source position ``position`` in every ``kind`` attention is multiplied by
    ``scale`` (a key of uncertain norm, Problem 1B ii); ``scale=1`` changes nothing. ``position``: one for
    every row, or a (B,) tensor with one per row of the batch."""
    def scale_key(_, args, output):  # (B, S, nh * d_qk)
        rows = torch.arange(output.shape[0])
        where = torch.as_tensor(position).expand(output.shape[0])
        inside = where < output.shape[1]
        output = output.clone()
        output[rows[inside], where[inside]] *= scale
        return output

    with ExitStack() as hooks:
        for module in attention_modules(model, kind):
            hooks.enter_context(module.key.register_forward_hook(scale_key))
        yield model


def compare_models(models: list[tuple[str, object, object]], sentences: list[str], out_dir: str,
                   heatmap_sentences: list[str] | None = None, references: list[str] | None = None) -> dict:
    """Per-model statistics and figures of several (label, model, tokenizer): the course model's self-attention,
    the encoder–decoder's cross-attention (teacher-forced on ``references``); side-by-side entropy
    histograms of the course models."""
    results, labelled = {}, []
    for label, model, tokenizer in models:
        if kind_of(model).source_attention == "cross":
            if references is None:
                raise ValueError("the encoder-decoder's cross-attention is read on reference translations: pass references")
            results[label] = analyze_seq2seq(model, tokenizer, sentences, references, heatmap_sentences, out_dir, label)
            continue
        collected = collect_attention(model, tokenizer, sentences)
        labelled.append((label, collected[0]))
        results[label] = analyze_model(model, tokenizer, sentences, heatmap_sentences, out_dir, label, collected)
    results["figures"] = [plot_entropy(labelled, os.path.join(out_dir, "side_by_side_entropy.png"))] if len(labelled) > 1 else []
    return results


def summary_markdown(stats: dict) -> str:
    """A markdown table of the per-head statistics of one model."""
    if stats.get("kind") == "cross-attention":
        lines = [f"### {stats['label']}: cross-attention, {stats['sentences']} sentences (teacher-forced on the references)",
                 "", "| layer | head | mean entropy (nats) | effective support | steps with max α > 0.9 "
                 "| argmax path monotone |", "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {h['layer']} | {h['head']} | {h['entropy_mean']:.3f} | {h['effective_support_mean']:.2f} | "
                  f"{100 * h['peaked_share']:.1f} % | {100 * h['monotone_share']:.1f} % |" for h in stats["heads"]]
        lines += ["", f"Uniform attention over the same source sentences would have mean entropy "
                      f"{stats['uniform_entropy_mean']:.3f} nats. Largest weight on a padded source key: "
                      f"{stats['padded_key_max_weight']:.3g}.", ""]
        copying = stats.get("copying")
        if copying and copying["copy_steps"]:
            lines += [f"Copying, on the model's own greedy translations (last layer): {copying['copy_steps']} written "
                      f"tokens copy a source token verbatim (e.g. {', '.join(copying['copy_examples'][:10])}); "
                      f"{copying['other_steps']} other steps.", "",
                      "| head | weight on the copied token | copies with weight > 0.9 | max weight, copies "
                      "| max weight, other steps | other steps with max > 0.9 |", "| --- | --- | --- | --- | --- | --- |"]
            lines += [f"| {h['head']} | {h['copy_weight_on_source_token']:.3f} | {100 * h['copy_peaked_share']:.1f} % | "
                      f"{h['copy_max_weight']:.3f} | {h['other_max_weight']:.3f} | {100 * h['other_peaked_share']:.1f} % |"
                      for h in copying["heads"]]
            lines += ["", f"The head that looks hardest at the copied token gives it {copying['any_head_weight_on_copied_token']:.3f} "
                          f"on average (> 0.9 for {100 * copying['any_head_peaked_share']:.1f} % of copies); at other steps "
                          f"the hardest-looking head's largest weight is {copying['other_steps_any_head_max']:.3f}.", ""]
        return "\n".join(lines)
    lines = [f"### {stats.get('label', 'model')}: {stats['sentences']} sentences", "",
             "| head | mean entropy (nats) | effective support | rows with max α > 0.9 | diagonal mass | mean distance "
             "| score std in a row |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for h in stats["heads"]:
        lines.append(f"| {h['head']} | {h['entropy_mean']:.3f} | {h['effective_support_mean']:.2f} | "
                     f"{100 * h['peaked_share']:.1f} % | {h['diagonal_mass']:.3f} | {h['mean_distance']:.2f} | "
                     f"{h['score_std']:.2f} |")
    lines += ["", f"Uniform attention over the same sentences would have mean entropy "
                  f"{stats['uniform_entropy_mean']:.3f} nats. Largest weight on a padded key: "
                  f"{stats['padded_key_max_weight']:.3g}.", ""]
    return "\n".join(lines)


__all__ = ["collect_attention", "head_statistics", "analyze_model", "compare_models", "summary_markdown",
           "collect_cross_attention", "cross_attention_statistics", "analyze_seq2seq", "cross_attention",
           "plot_cross_attention",
           "plot_heatmaps", "plot_entropy"]
