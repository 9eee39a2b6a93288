"""Share of scored target tokens whose predicted id is the label (hf-onelayer)."""

import datasets
import evaluate

_DESCRIPTION = "Token accuracy: the share of scored target tokens whose argmax id equals the label."
_KWARGS_DESCRIPTION = """
Args:
    predictions: the predicted id of each scored target token (int).
    references: its label (int).
Returns:
    accuracy.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TokenAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description=_DESCRIPTION, citation="", inputs_description=_KWARGS_DESCRIPTION,
                                   features=datasets.Features({"predictions": datasets.Value("int64"),
                                                               "references": datasets.Value("int64")}))

    def _compute(self, predictions, references):
        if len(predictions) == 0:
            raise ValueError("accuracy needs at least one scored token")
        return {"accuracy": sum(int(p == r) for p, r in zip(predictions, references)) / len(predictions)}
