r"""Monte-Carlo studies of attention behaviour (studies 1-4 of the analysis module).

Each ``study_*`` function is vectorised over samples (batched torch, a fixed seed), returns a dict
of plain numbers (JSON-ready) and, given ``out_dir``, writes its figures as PNG there. Loops run
only over the points of a sweep, never over samples. Scores are the plain dot product
:math:`z_i = k_i^\top q` (no 1/sqrt(d)), as in the questions these studies answer.
"""

import math
import os

import torch

from ..utils import figure, save_figure
from .attention_math import attend, bootstrap_ratio, effective_support, entropy, peaked_lower_bound


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _orthonormal(n: int, d: int, g: torch.Generator) -> torch.Tensor:
    """n orthonormal vectors in R^d (rows), from the QR decomposition of a Gaussian matrix."""
    if n > d:
        raise ValueError(f"need n <= d for orthonormal means, got n={n}, d={d}")
    q, _ = torch.linalg.qr(torch.randn(d, n, generator=g))
    return q.T.contiguous()  # (n, d)


def _summary(x: torch.Tensor) -> dict:
    x = x.double()
    return {"mean": x.mean().item(), "std": x.std().item(), "q05": x.quantile(0.05).item(),
            "q95": x.quantile(0.95).item()}


def _figure(ncols: int, width: float = 4.6, height: float = 3.6):
    fig, axes = figure(1, ncols, width, height)
    return fig, axes[0]


def _save(fig, out_dir: str | None, name: str) -> str | None:
    """Save under ``out_dir`` (None: only close the figure)."""
    if out_dir is None:
        import matplotlib.pyplot as plt

        plt.close(fig)
        return None
    return save_figure(fig, os.path.join(out_dir, name))


# --------------------------------------------------------------------------------------------
# Study 1: attention is a categorical distribution
# --------------------------------------------------------------------------------------------
def study_categorical(n: int = 16, d: int = 32, samples: int = 20000, scales=(0.1, 1.0, 3.0, 10.0),
                      seed: int = 0, out_dir: str | None = None) -> dict:
    """Random queries and keys at several score scales: weights are >= 0 and sum to 1; entropy in [0, log n].

    Scores ``z = K q`` with ``q ~ N(0, I_d)`` and keys ``~ N(0, s^2 I_d / d)``, so ``z_i`` has std ~ s.
    """
    g = _generator(seed)
    results, supports = [], []
    for s in scales:
        q = torch.randn(samples, d, generator=g)
        keys = torch.randn(samples, n, d, generator=g) * (s / math.sqrt(d))
        alpha, _ = attend(q, keys, torch.zeros(samples, n, 1))
        h = entropy(alpha)
        supports.append(effective_support(alpha))
        results.append({
            "score_scale": s,
            "min_weight": alpha.min().item(),
            "max_abs_sum_minus_1": (alpha.sum(-1) - 1).abs().max().item(),
            "entropy": _summary(h),
            "effective_support": _summary(supports[-1]),
            "entropy_within_bounds": bool((h >= -1e-6).all() and (h <= math.log(n) + 1e-5).all()),
        })
    out = {"study": 1, "n": n, "d": d, "samples": samples, "log_n": math.log(n), "by_scale": results}
    fig, (ax,) = _figure(1, width=6)
    for s, sup in zip(scales, supports):
        ax.hist(sup.numpy(), bins=60, range=(1, n), alpha=0.6, label=f"score std ≈ {s:g}")
    ax.set(xlabel="effective support exp(H(α))", ylabel="samples", title=f"Study 1: spread of α (n={n})")
    ax.legend()
    out["figures"] = [_save(fig, out_dir, "study1_effective_support.png")]
    return out


# --------------------------------------------------------------------------------------------
# Study 2: peaked vs diffuse weights, and copying
# --------------------------------------------------------------------------------------------
def study_peaked(n: int = 16, d: int = 32, dv: int = 16, samples: int = 4000, q_norm: float = 4.0,
                 margins=tuple(0.5 * i for i in range(25)), q_norms=(0.25, 0.5, 1, 2, 4, 8, 16, 32),
                 seed: int = 0, out_dir: str | None = None) -> dict:
    """When does alpha put almost all its weight on one key, and is c then the copy of its value?

    Margin sweep: ``q = ||q|| u``; keys ``~ N(0, I/d)``; key 0 is then moved along ``u`` until its
    score beats the best other by exactly ``margin`` (the other keys, values and queries are the
    same draws at every margin). Norm sweep: key 0 = ``u`` (aligned with q), the others random;
    the margin is ``||q|| (1 - max_i k_i.u)`` and grows with the query norm.
    """
    g = _generator(seed)
    u = torch.nn.functional.normalize(torch.randn(samples, d, generator=g), dim=-1)  # (S, d)
    keys = torch.randn(samples, n, d, generator=g) / math.sqrt(d)  # (S, n, d)
    values = torch.randn(samples, n, dv, generator=g)  # (S, n, dv)
    q = q_norm * u
    z = torch.einsum("snd,sd->sn", keys, q)
    best_other = z[:, 1:].max(dim=1).values  # (S,)
    spread = (values - values[:, :1]).norm(dim=-1).max(dim=1).values  # max_i ||v_i - v_0||

    by_margin = []
    for m in margins:
        shifted = keys.clone()
        shifted[:, 0] += ((best_other + m - z[:, 0]) / q_norm)[:, None] * u
        alpha, c = attend(q, shifted, values)
        copy_error = (c - values[:, 0]).norm(dim=-1)
        by_margin.append({
            "margin": m,
            "max_weight": alpha.max(-1).values.mean().item(),
            "top_weight_min": alpha[:, 0].min().item(),
            "lower_bound": peaked_lower_bound(m, n),
            "entropy": entropy(alpha).mean().item(),
            "copy_error": copy_error.mean().item(),
            "copy_error_bound": ((1 - alpha[:, 0]) * spread).mean().item(),
            "relative_copy_error": (copy_error / values[:, 0].norm(dim=-1)).mean().item(),
        })

    by_norm = []
    aligned = torch.nn.functional.normalize(torch.randn(samples, d, generator=g), dim=-1)
    for size in (4, n, 64):
        ks = torch.randn(samples, size, d, generator=g) / math.sqrt(d)
        ks[:, 0] = aligned
        vs = torch.randn(samples, size, dv, generator=g)
        for norm in q_norms:
            alpha, c = attend(norm * aligned, ks, vs)
            by_norm.append({"n": size, "q_norm": norm, "max_weight": alpha.max(-1).values.mean().item(),
                            "top_is_key0": (alpha.argmax(-1) == 0).float().mean().item(),
                            "copy_error": (c - vs[:, 0]).norm(dim=-1).mean().item()})

    out = {"study": 2, "n": n, "d": d, "dv": dv, "samples": samples, "q_norm": q_norm,
           "by_margin": by_margin, "by_q_norm": by_norm}
    fig, axes = _figure(3)
    ms = [r["margin"] for r in by_margin]
    axes[0].plot(ms, [r["max_weight"] for r in by_margin], "o-", label="max α (mean)")
    axes[0].plot(ms, [r["lower_bound"] for r in by_margin], "--", label="1/(1+(n-1)e^{-margin})")
    axes[0].set(xlabel="margin z_top - max other z", ylabel="weight", title="Study 2: peakedness")
    axes[0].legend()
    axes[1].plot(ms, [r["entropy"] for r in by_margin], "o-")
    axes[1].axhline(math.log(n), ls=":", c="grey")
    axes[1].set(xlabel="margin", ylabel="entropy H(α) [nats]", title="diffuse → peaked")
    axes[2].semilogy(ms, [r["copy_error"] for r in by_margin], "o-", label="‖c − v_top‖")
    axes[2].semilogy(ms, [r["copy_error_bound"] for r in by_margin], "--", label="(1−α_top)·max‖v_i−v_top‖")
    axes[2].set(xlabel="margin", ylabel="distance", title="copying: c → v_top")
    axes[2].legend()
    figures = [_save(fig, out_dir, "study2_peaked.png")]
    fig, (ax,) = _figure(1, width=6)
    for size in (4, n, 64):
        rows = [r for r in by_norm if r["n"] == size]
        ax.semilogx([r["q_norm"] for r in rows], [r["max_weight"] for r in rows], "o-", label=f"n={size}")
    ax.set(xlabel="‖q‖ (key 0 aligned with q)", ylabel="max α (mean)", title="Study 2: larger ‖q‖ → peaked")
    ax.legend()
    figures.append(_save(fig, out_dir, "study2_query_norm.png"))
    out["figures"] = figures
    return out


# --------------------------------------------------------------------------------------------
# Studies 3 and 4: averaging two values; a key of uncertain norm; multi-head
# --------------------------------------------------------------------------------------------
def sample_keys(samples: int, mu: torch.Tensor, alpha: float, g: torch.Generator, norm_var_key: int | None = None,
                norm_var: float = 0.5) -> tuple[torch.Tensor, torch.Tensor | None]:
    r"""Keys ``k_i ~ N(mu_i, alpha I)``; key ``norm_var_key`` (if given) has covariance
    :math:`\alpha I + \text{norm\_var}\, \mu_a \mu_a^\top`, i.e. ``k_a = mu_a + eps + xi mu_a`` with
    ``xi ~ N(0, norm_var)``: it points along mu_a but its norm varies. Returns (keys (S, n, d), xi or None).
    """
    n, d = mu.shape
    keys = mu + math.sqrt(alpha) * torch.randn(samples, n, d, generator=g)
    xi = None
    if norm_var_key is not None:
        xi = math.sqrt(norm_var) * torch.randn(samples, generator=g)
        keys[:, norm_var_key] += xi[:, None] * mu[norm_var_key]
    return keys, xi


def averaging_errors(n: int, d: int, alpha: float, betas, samples: int, seed: int, dv: int = 16) -> list[dict]:
    """Study 3 for one (n, d, alpha): ``||c - (v_a + v_b)/2||`` over samples, for each beta.

    ``relative_error`` divides by ``||v_a - v_b|| / 2``: 0 is the exact average, 1 is as far as v_a itself.
    """
    g = _generator(seed)
    mu = _orthonormal(n, d, g)
    values = torch.randn(n, dv, generator=g)
    target = 0.5 * (values[0] + values[1])
    half_gap = 0.5 * (values[0] - values[1]).norm()
    keys, _ = sample_keys(samples, mu, alpha, g)
    rows = []
    for beta in betas:
        _, c = attend(beta * (mu[0] + mu[1]), keys, values.expand(samples, n, dv))
        err = (c - target).norm(dim=-1)
        rows.append({"n": n, "d": d, "alpha": alpha, "beta": beta, "error": err.mean().item(),
                     "relative_error": (err / half_gap).mean().item(),
                     "error_std": err.std().item(), "error_q95": err.quantile(0.95).item()})
    return rows


def study_averaging(n: int = 8, d: int = 32, alpha: float = 1e-4, betas=(0.5, 1, 2, 4, 8, 16, 32, 64),
                    samples: int = 4000, alphas=(0.0, 1e-4, 1e-3, 1e-2), ns=(4, 8, 32), ds=(16, 32, 128),
                    seed: int = 0, out_dir: str | None = None) -> dict:
    r"""Study 3: with ``q = beta (mu_a + mu_b)``, does ``c`` approach ``(v_a + v_b)/2`` as beta grows?

    Scores: :math:`z_{a,b} = \beta(1 + \eta_{a,b})`, :math:`z_{i} = \beta\eta_i` otherwise, with
    :math:`\eta \sim N(0, 2\alpha)`. The n-2 other keys lose weight like :math:`e^{-\beta}`, while the
    a/b imbalance :math:`z_a - z_b \sim N(0, 4\alpha\beta^2)` grows with beta: the error falls,
    then rises again once :math:`\beta\sqrt{\alpha}` is no longer small.
    """
    main = averaging_errors(n, d, alpha, betas, samples, seed)
    by_alpha = [r for a in alphas for r in averaging_errors(n, d, a, betas, samples, seed + 1)]
    by_n = [r for m in ns for r in averaging_errors(m, max(d, m), alpha, betas, samples, seed + 2)]
    by_d = [r for dd in ds for r in averaging_errors(n, dd, alpha, betas, samples, seed + 3)]
    out = {"study": 3, "n": n, "d": d, "alpha": alpha, "samples": samples, "by_beta": main,
           "by_alpha": by_alpha, "by_n": by_n, "by_d": by_d}
    fig, axes = _figure(3)
    for ax, rows, key, label in ((axes[0], by_alpha, "alpha", "α"), (axes[1], by_n, "n", "n"), (axes[2], by_d, "d", "d")):
        for value in sorted({r[key] for r in rows}):
            sel = [r for r in rows if r[key] == value]
            b = [r["beta"] for r in sel]
            mean = torch.tensor([r["error"] for r in sel])
            std = torch.tensor([r["error_std"] for r in sel])  # sample-to-sample spread
            ax.loglog(b, mean, "o-", label=f"{label}={value:g}")
            ax.fill_between(b, (mean - std).clamp(min=1e-6), mean + std, alpha=0.15)
        ax.set(xlabel="β", ylabel="‖c − (v_a+v_b)/2‖", title=f"Study 3: effect of {label}")
        ax.legend()
    out["figures"] = [_save(fig, out_dir, "study3_averaging.png")]
    return out


def uncertain_norm_projections(samples: int, n: int, d: int, alpha: float, beta: float, seed: int,
                               dv: int = 16, chunk: int = 25000, include_fixed: bool = True) -> dict[str, torch.Tensor]:
    """Study 4 core: projections ``p`` of c on ``v_a - v_b`` (``+1/2`` = v_a, ``-1/2`` = v_b), chunked over samples.

    Returns tensors of shape (samples,): ``p_fixed`` (study-3 keys, one head), ``p_single`` (norm-varying
    k_a, one head with q = beta (mu_a + mu_b)), ``p_multi`` (two heads q1 = beta mu_a, q2 = beta mu_b,
    c = (c1 + c2)/2), ``key_norm`` (||k_a||) and each c as ``c_*`` (samples, dv).
    ``include_fixed=False`` skips the study-3 baseline.
    """
    g = _generator(seed)
    mu = _orthonormal(n, d, g)
    values = torch.randn(n, dv, generator=g)
    w = values[0] - values[1]
    mid = 0.5 * (values[0] + values[1])
    names = ("fixed", "single", "multi") if include_fixed else ("single", "multi")
    out = {k: [] for k in ("key_norm", *(f"{p}_{name}" for name in names for p in ("p", "c")))}
    q_single, q1, q2 = beta * (mu[0] + mu[1]), beta * mu[0], beta * mu[1]
    for start in range(0, samples, chunk):
        size = min(chunk, samples - start)
        v = values.expand(size, n, dv)
        varying, _ = sample_keys(size, mu, alpha, g, norm_var_key=0)
        cs = {"single": attend(q_single, varying, v)[1],
              "multi": 0.5 * (attend(q1, varying, v)[1] + attend(q2, varying, v)[1])}
        if include_fixed:
            cs["fixed"] = attend(q_single, sample_keys(size, mu, alpha, g)[0], v)[1]
        for name, c in cs.items():
            out[f"p_{name}"].append((c - mid) @ w / w.dot(w))
            out[f"c_{name}"].append(c)
        out["key_norm"].append(varying[:, 0].norm(dim=-1))
    return {k: torch.cat(v) for k, v in out.items()}


def study_uncertain_norm(n: int = 8, d: int = 32, alpha: float = 1e-4, beta: float = 10.0, samples: int = 100000,
                         betas=(1, 2, 4, 8, 16, 32), seed: int = 0, out_dir: str | None = None) -> dict:
    r"""Study 4: key a has covariance :math:`\alpha I + \tfrac12 \mu_a\mu_a^\top` (its norm varies).

    With one head and ``q = beta (mu_a + mu_b)``, :math:`z_a - z_b \approx \beta\xi`, ``xi ~ N(0, 1/2)``:
    c swings to v_a or v_b depending on the sampled norm of k_a. Two heads, ``q1 = beta mu_a`` and
    ``q2 = beta mu_b``, each find their own key whatever its norm (as long as ``1 + xi`` stays
    clearly positive), and their average stays near ``(v_a + v_b)/2``.
    """
    g = _generator(seed + 100)
    r = uncertain_norm_projections(samples, n, d, alpha, beta, seed)
    var = {name: r[f"p_{name}"].var().item() for name in ("fixed", "single", "multi")}
    trace = {name: r[f"c_{name}"].var(dim=0).sum().item() for name in ("fixed", "single", "multi")}
    lo, hi = bootstrap_ratio(r["p_single"][:20000], r["p_multi"][:20000], g)
    sweep = []
    for b in betas:
        rb = uncertain_norm_projections(20000, n, d, alpha, float(b), seed + 1)
        ratio = rb["p_single"].var().item() / rb["p_multi"].var().item()
        blo, bhi = bootstrap_ratio(rb["p_single"], rb["p_multi"], g, resamples=200)
        sweep.append({"beta": b, "var_single": rb["p_single"].var().item(), "var_multi": rb["p_multi"].var().item(),
                      "var_fixed": rb["p_fixed"].var().item(), "ratio": ratio, "ratio_ci95": [blo, bhi]})
    out = {
        "study": 4, "n": n, "d": d, "alpha": alpha, "beta": beta, "samples": samples,
        "projection_variance": var, "covariance_trace": trace,
        "variance_ratio_single_over_multi": var["single"] / var["multi"],
        "variance_ratio_ci95": [lo, hi],
        "variance_ratio_single_over_study3": var["single"] / var["fixed"],
        "share_near_va": (r["p_single"] > 0.4).float().mean().item(),
        "share_near_vb": (r["p_single"] < -0.4).float().mean().item(),
        # two heads fail only where head 1 loses k_a (1 + xi small or negative): c drifts below 0
        "multi_fallback_share": (r["p_multi"] < -0.1).float().mean().item(),
        "multi_fallback_median_key_norm": r["key_norm"][r["p_multi"] < -0.1].median().item(),
        "projection": {name: _summary(r[f"p_{name}"]) for name in ("fixed", "single", "multi")},
        "by_beta": sweep,
    }
    fig, axes = _figure(3)
    bins = torch.linspace(-0.75, 0.75, 91).numpy()
    for name, label, color in (("fixed", "study 3 keys, 1 head", "C2"), ("single", "varying ‖k_a‖, 1 head", "C0"),
                               ("multi", "varying ‖k_a‖, 2 heads", "C1")):
        axes[0].hist(r[f"p_{name}"].numpy(), bins=bins, alpha=0.55, label=label, density=True, color=color)
    axes[0].set(xlabel="projection of c on v_a − v_b  (+½ = v_a, −½ = v_b)", ylabel="density",
                title=f"Study 4: c over {samples:,} samples (β={beta:g})")
    axes[0].legend(fontsize=8)
    show = slice(0, 5000)
    axes[1].scatter(r["key_norm"][show].numpy(), r["p_single"][show].numpy(), s=3, alpha=0.4, label="1 head")
    axes[1].scatter(r["key_norm"][show].numpy(), r["p_multi"][show].numpy(), s=3, alpha=0.4, label="2 heads")
    axes[1].axvline(1.0, ls=":", c="grey")
    axes[1].set(xlabel="sampled ‖k_a‖", ylabel="projection", title="c swings with the norm of k_a")
    axes[1].legend()
    bs = [row["beta"] for row in sweep]
    axes[2].loglog(bs, [row["var_single"] for row in sweep], "o-", label="1 head")
    axes[2].loglog(bs, [row["var_multi"] for row in sweep], "o-", label="2 heads")
    axes[2].loglog(bs, [row["var_fixed"] for row in sweep], "o--", color="C2", label="study 3 keys, 1 head")
    axes[2].set(xlabel="β", ylabel="variance of the projection", title="variance vs β")
    axes[2].legend()
    out["figures"] = [_save(fig, out_dir, "study4_uncertain_norm.png")]
    return out


STUDIES = {1: study_categorical, 2: study_peaked, 3: study_averaging, 4: study_uncertain_norm}
