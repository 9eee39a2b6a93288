"""The perplexity split by |target length - source length| (metrics.perplexity_by_length_difference)."""

import math

import numpy as np
import pytest

from hf_onelayer.metrics import perplexity_by_length_difference


def test_groups_by_length_difference_and_weights_by_tokens():
    # three sentences, sources of 4 tokens each; targets of 4, 5 and 8 tokens (BOS unscored)
    labels = np.full((3, 8), -100)
    labels[0, 1:4] = 7
    labels[1, 1:5] = 7
    labels[2, 1:8] = 7
    nll = np.zeros((3, 8))
    nll[0, 1:4] = [1.0, 2.0, 3.0]          # |diff| 0: mean 2
    nll[1, 1:5] = 0.5                      # |diff| 1: mean 0.5
    nll[2, 1:8] = 4.0                      # |diff| 4 -> "3plus": mean 4
    nll[:, 0] = 99.0                       # unscored positions must not count
    out = perplexity_by_length_difference(nll, labels, [4, 4, 4])
    assert out["perplexity_len_diff_0"] == pytest.approx(math.exp(2.0))
    assert out["perplexity_len_diff_1"] == pytest.approx(math.exp(0.5))
    assert out["perplexity_len_diff_3plus"] == pytest.approx(math.exp(4.0))
    assert "perplexity_len_diff_2" not in out  # no sentence there
    assert out["share_len_diff_0"] == pytest.approx(3 / 14)
    assert sum(v for k, v in out.items() if k.startswith("share_")) == pytest.approx(1.0)
    # the groups' NLLs, weighted by their token shares, give back the overall mean NLL
    overall = nll[labels != -100].mean()
    mixed = sum(out[f"share_len_diff_{g}"] * math.log(out[f"perplexity_len_diff_{g}"]) for g in ("0", "1", "3plus"))
    assert mixed == pytest.approx(overall)


def test_shorter_targets_group_by_absolute_difference():
    labels = np.full((1, 6), -100)
    labels[0, 1:3] = 5  # target of 3 tokens against a source of 6
    out = perplexity_by_length_difference(np.ones((1, 6)), labels, [6])
    assert set(out) == {"perplexity_len_diff_3plus", "share_len_diff_3plus"}
