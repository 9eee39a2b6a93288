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


# --- the evaluate modules (issue 13) ------------------------------------------------------------

HYPOTHESES = ["A dog runs on the grass .", "the Cat sleeps", "Two men play soccer in a park."]
REFERENCES = [["A dog runs on the grass.", "A dog is running on grass."], ["The cat sat.", "A cat sleeps."],
              ["Two men are playing football in the park.", "Two men play soccer in a park."]]


@pytest.mark.parametrize("lowercase", [True, False])
def test_the_bleu_module_equals_sacrebleu_called_as_the_hub_module_calls_it(lowercase):
    import evaluate
    import sacrebleu

    from hf_onelayer.metric_modules import path

    module = evaluate.load(path("translation_bleu"))  # by path, offline (HF_EVALUATE_OFFLINE=1 here)
    got = module.compute(predictions=HYPOTHESES, references=REFERENCES, lowercase=lowercase)
    streams = [[refs[i] for refs in REFERENCES] for i in range(2)]
    expected = sacrebleu.corpus_bleu(HYPOTHESES, streams, lowercase=lowercase)
    assert got["score"] == pytest.approx(expected.score, abs=1e-9) and got["counts"] == expected.counts
    assert 0 < got["score"] < 100


def test_the_chrf_module_equals_sacrebleu_and_the_lowercase_config_lowercases():
    import evaluate
    import sacrebleu

    from hf_onelayer.metric_modules import path

    streams = [[refs[i] for refs in REFERENCES] for i in range(2)]
    plain = evaluate.load(path("translation_chrf")).compute(predictions=HYPOTHESES, references=REFERENCES)
    assert plain["score"] == pytest.approx(sacrebleu.corpus_chrf(HYPOTHESES, streams).score, abs=1e-9)
    lower = evaluate.load(path("translation_chrf"), config_name="lowercase").compute(
        predictions=HYPOTHESES, references=REFERENCES)
    expected = sacrebleu.metrics.CHRF(lowercase=True).corpus_score(HYPOTHESES, streams).score
    assert lower["score"] == pytest.approx(expected, abs=1e-9) and lower["score"] != plain["score"]


def test_corpus_scores_combine_the_modules():
    from sacrebleu.metrics import BLEU, CHRF

    from hf_onelayer.metrics import corpus_scores

    refs = [r[0] for r in REFERENCES]
    got = corpus_scores(HYPOTHESES, refs)
    assert got == pytest.approx({"bleu": BLEU(lowercase=True).corpus_score(HYPOTHESES, [refs]).score,
                                 "bleu_cased": BLEU().corpus_score(HYPOTHESES, [refs]).score,
                                 "chrf": CHRF(lowercase=True).corpus_score(HYPOTHESES, [refs]).score})


def test_token_perplexity_and_accuracy_modules():
    import math

    from hf_onelayer.metric_modules import load

    assert load("token_perplexity").compute(predictions=[0.5, 1.0, 3.0])["perplexity"] == pytest.approx(math.exp(1.5))
    assert load("token_accuracy").compute(predictions=[1, 2, 3, 4], references=[1, 0, 3, 0])["accuracy"] == 0.5
    with pytest.raises(ValueError, match="at least one scored token"):
        load("token_perplexity").compute(predictions=[])
