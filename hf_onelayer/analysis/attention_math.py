r"""Attention as a categorical distribution: the maths every study builds on.

For a query :math:`q` and keys :math:`k_1..k_n` with values :math:`v_1..v_n`

.. math::

    \alpha_i = \frac{\exp(k_i^\top q)}{\sum_j \exp(k_j^\top q)}, \qquad c = \sum_i \alpha_i v_i .

Each :math:`\alpha_i = \exp(z_i) / \sum_j \exp(z_j) > 0` and :math:`\sum_i \alpha_i = 1`, so
:math:`\alpha` is a categorical distribution over the n positions and :math:`c = E_{i\sim\alpha}[v_i]`
is the expected value under it. All functions take batches: leading dimensions are sample dims,
the last is the key dimension n. No Python loops over samples.
"""

import math

import torch


def attention_weights(scores: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``softmax(scores)`` over the last dim; ``key_mask`` False -> weight exactly 0. (..., n) -> (..., n)."""
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1)


def attend(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, scale: float = 1.0):
    """``alpha = softmax(scale * K q)`` and ``c = alpha V``.

    q: (..., d), keys: (..., n, d), values: (..., n, dv) -> alpha (..., n), c (..., dv).
    The studies use ``scale=1`` (the plain dot product of the issue); the model uses 1/sqrt(d_qk).
    """
    scores = torch.einsum("...nd,...d->...n", keys, q) * scale  # (..., n)
    alpha = attention_weights(scores)
    return alpha, torch.einsum("...n,...nv->...v", alpha, values)


def entropy(alpha: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r""":math:`H(\alpha) = -\sum_i \alpha_i \log \alpha_i` in nats (0 log 0 = 0); ranges over [0, log n]."""
    return -torch.special.xlogy(alpha, alpha).sum(dim)


def effective_support(alpha: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r""":math:`\exp H(\alpha)`: how many positions the weight is spread over, from 1 (one-hot) to n (uniform)."""
    return torch.exp(entropy(alpha, dim))


def peaked_lower_bound(margin: torch.Tensor | float, n: int) -> torch.Tensor | float:
    r"""Lower bound on the top weight when its score beats each of the other n-1 by at least ``margin``.

    :math:`\alpha_j = 1 / (1 + \sum_{i\ne j} e^{z_i - z_j}) \ge 1 / (1 + (n-1) e^{-\Delta})`.
    """
    if isinstance(margin, torch.Tensor):
        return 1.0 / (1.0 + (n - 1) * torch.exp(-margin))
    return 1.0 / (1.0 + (n - 1) * math.exp(-margin))


def bootstrap_ratio(x: torch.Tensor, y: torch.Tensor, g: torch.Generator, resamples: int = 400, level: float = 0.95,
                    statistic: str = "var") -> tuple[float, float]:
    """Percentile bootstrap CI of statistic(x) / statistic(y) ("var" or "mean"), pairs (x_i, y_i) resampled
    together, all resamples at once (x, y: (S,))."""
    idx = torch.randint(0, len(x), (resamples, len(x)), generator=g)
    ratios = getattr(x[idx], statistic)(dim=1) / getattr(y[idx], statistic)(dim=1)
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    return ratios.quantile(lo).item(), ratios.quantile(hi).item()
