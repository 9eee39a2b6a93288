"""chrF through sacrebleu, with the interface of the Hub's ``chrf`` module (hf-onelayer)."""

import evaluate
from sacrebleu.metrics import CHRF

from .sacrebleu_common import lowercase_default, metric_info, reference_streams

_DESCRIPTION = "sacrebleu's chrF (chrF++ with word_order=2). Config 'lowercase' makes lowercase=True the default."
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of translations (str).
    references: one list of reference translations per prediction.
    char_order, word_order, beta, lowercase, whitespace, eps_smoothing: as sacrebleu's CHRF.
Returns:
    score (0-100), char_order, word_order, beta.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TranslationChrf(evaluate.Metric):
    def _info(self):
        return metric_info(_DESCRIPTION, "Popović, 2015: chrF: character n-gram F-score.", _KWARGS_DESCRIPTION)

    def _compute(self, predictions, references, char_order=6, word_order=0, beta=2, lowercase=None,
                 whitespace=False, eps_smoothing=False):
        streams = reference_streams(references)
        lowercase = lowercase_default(self.config_name, lowercase)
        chrf = CHRF(char_order=char_order, word_order=word_order, beta=beta, lowercase=lowercase,
                    whitespace=whitespace, eps_smoothing=eps_smoothing)
        return {"score": chrf.corpus_score(predictions, streams).score, "char_order": char_order,
                "word_order": word_order, "beta": beta}
