"""Per-token perplexity from the negative log-likelihoods of the scored target tokens (hf-onelayer)."""

import math

import datasets
import evaluate

_DESCRIPTION = "exp of the mean negative log-likelihood (nats) over the scored target tokens, summed in float64."
_KWARGS_DESCRIPTION = """
Args:
    predictions: the NLL of each scored target token (float), e.g. of every label that is not -100.
Returns:
    perplexity, n_tokens.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TokenPerplexity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description=_DESCRIPTION, citation="", inputs_description=_KWARGS_DESCRIPTION,
                                   features=datasets.Features({"predictions": datasets.Value("float64")}))

    def _compute(self, predictions, **unused):
        if len(predictions) == 0:
            raise ValueError("perplexity needs at least one scored token (every label was -100)")
        return {"perplexity": math.exp(math.fsum(predictions) / len(predictions)), "n_tokens": len(predictions)}
