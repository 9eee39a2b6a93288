"""Evaluation metrics: perplexity, token accuracy, BLEU and chrF.

* ``perplexity`` = exp(token-weighted mean NLL over every target token whose label is not -100).
  The data pipeline gives the leading BOS the label -100, so it is "every non-pad target token
  except the leading BOS", and never with label smoothing.
* ``token_accuracy``: share of those tokens whose argmax is right.
* ``unk_rate``: share of those tokens that are ``<unk>`` (a smaller vocabulary lowers perplexity
  partly by predicting more ``<unk>``; compare perplexities only with this beside them).
* ``perplexity_len_diff_{0,1,2,3plus}`` and ``share_len_diff_*``: perplexity over the sentences whose
  target and source lengths (in tokens) differ by 0, 1, 2, or 3 and more, and their share of the
  tokens. The model predicts target token t at source position t, so these show how much of the
  perplexity comes from sentences whose words cannot line up position by position.
* ``bleu`` / ``chrf``: sacrebleu on the decoded greedy translations (exactly what ``translate``
  outputs) against the raw reference sentences, both lowercased; ``bleu_cased`` as written.

Each is an ``evaluate`` module of ``hf_onelayer.metric_modules`` (BLEU and chrF combined with
``evaluate.combine``), so the same numbers come from ``evaluate.load(path)`` outside this package.

:func:`preprocess_logits_for_metrics` reduces each eval batch to (B, T, 2) = (NLL, argmax), so
evaluation never holds (N, T, V) logits.
"""


import numpy as np
import torch

from .metric_modules import load as load_metric
from .models.modeling_onelayer import cut_at_eos, decode_length


def preprocess_logits_for_metrics(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B, T, V) logits -> (B, T, 2): per-position NLL of the label, and the argmax id."""
    if isinstance(logits, tuple):
        logits = logits[0]
    log_probs = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    nll = -log_probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (B, T)
    return torch.stack([nll, logits.argmax(dim=-1).float()], dim=-1)


def perplexity(nll: np.ndarray, mask: np.ndarray) -> float:
    """exp of the mean NLL over the positions where ``mask`` is True (the ``token_perplexity`` module)."""
    return load_metric("token_perplexity").compute(predictions=nll[mask].astype(np.float64))["perplexity"]


LENGTH_GROUPS = ("0", "1", "2", "3plus")


def perplexity_by_length_difference(nll: np.ndarray, labels: np.ndarray, source_lengths) -> dict[str, float]:
    """Perplexity per group of |target length - source length| (0, 1, 2, 3+), and each group's token share.

    ``nll`` and ``labels`` are (N, T), with -100 where nothing is scored; the target length counts
    the unscored leading BOS too, as the source length counts its BOS. Groups without tokens are left out.
    """
    mask = labels != -100
    target_lengths = mask.sum(axis=1) + 1
    difference = np.minimum(np.abs(target_lengths - np.asarray(source_lengths)), 3)
    total = int(mask.sum())
    out = {}
    for value, name in enumerate(LENGTH_GROUPS):
        rows = mask & (difference == value)[:, None]
        n = int(rows.sum())
        if n:
            out[f"perplexity_len_diff_{name}"] = perplexity(nll, rows)
            out[f"share_len_diff_{name}"] = n / total
    return out


def corpus_scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """sacrebleu BLEU (lowercased, and cased) and chrF (lowercased), one reference per hypothesis."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    import evaluate

    scores = evaluate.combine({"bleu": load_metric("translation_bleu", "lowercase"),
                               "bleu_cased": load_metric("translation_bleu"),
                               "chrf": load_metric("translation_chrf", "lowercase")}, force_prefix=True)
    result = scores.compute(predictions=list(hypotheses), references=[[r] for r in references])
    return {name: result[f"{name}_score"] for name in ("bleu", "bleu_cased", "chrf")}


class GeneratedTranslationMetrics:
    """``compute_metrics`` for Seq2SeqTrainer with ``predict_with_generate``: BLEU and chrF of the generated
    ids against the raw ``references`` of one eval split, in dataset order."""

    # with the loss and perplexity of Seq2SeqTranslationTrainer's evaluation loop
    names = ("loss", "perplexity", "bleu", "bleu_cased", "chrf", "unk_rate")

    def __init__(self, tokenizer, references: list[str]):
        self.tokenizer, self.references = tokenizer, list(references)

    def __call__(self, eval_pred) -> dict[str, float]:
        ids = np.asarray(eval_pred.predictions)
        ids = np.where(ids < 0, self.tokenizer.pad_token_id, ids)  # -100: padding between batches
        metrics = corpus_scores(self.tokenizer.batch_decode(ids, skip_special_tokens=True), self.references)
        if eval_pred.label_ids is not None:
            labels = np.asarray(eval_pred.label_ids)
            metrics["unk_rate"] = float((labels[labels != -100] == self.tokenizer.unk_token_id).mean())
        return metrics


class TranslationMetrics:
    """``compute_metrics`` for Trainer over one eval split, in dataset order.

    ``references`` are the raw target sentences, ``source_lengths`` the encoded source lengths,
    which fix how many output positions each sentence may use (see ``decode_length``).
    """

    names = ("loss", "perplexity", "token_accuracy", "bleu", "bleu_cased", "chrf", "unk_rate")

    def __init__(self, tokenizer, config, references: list[str], source_lengths: list[int]):
        self.tokenizer = tokenizer
        self.config = config
        self.references = list(references)
        self.source_lengths = list(source_lengths)
        self.limits = [decode_length(n, config) for n in source_lengths]

    def __call__(self, eval_pred) -> dict[str, float]:
        stacked, labels = eval_pred.predictions, eval_pred.label_ids
        if len(stacked) != len(self.references):
            raise ValueError(f"got {len(stacked)} predictions for {len(self.references)} references")
        nll, predicted = stacked[..., 0], stacked[..., 1].astype(np.int64)
        mask = labels != -100
        n_tokens = int(mask.sum())
        metrics = {
            "perplexity": perplexity(nll, mask),
            "token_accuracy": load_metric("token_accuracy").compute(predictions=predicted[mask],
                                                                    references=labels[mask])["accuracy"],
            "n_tokens": n_tokens,
            # perplexities over vocabularies of different sizes compare only with this beside them
            "unk_rate": float((labels[mask] == self.config.unk_token_id).mean()),
        }
        metrics.update(perplexity_by_length_difference(nll, labels, self.source_lengths))
        ids = [cut_at_eos(row[1:limit].tolist(), self.config.eos_token_id) for row, limit in zip(predicted, self.limits)]
        hypotheses = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        metrics.update(corpus_scores(hypotheses, self.references))
        return metrics
