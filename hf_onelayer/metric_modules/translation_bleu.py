"""Corpus BLEU through sacrebleu, with the interface of the Hub's ``sacrebleu`` module (hf-onelayer)."""

import evaluate
from sacrebleu.metrics import BLEU

from .sacrebleu_common import lowercase_default, metric_info, reference_streams

_DESCRIPTION = "sacrebleu's corpus BLEU. Config 'lowercase' makes lowercase=True the default."
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of translations (str).
    references: one list of reference translations per prediction (all lists of the same length).
    lowercase, tokenize, smooth_method, smooth_value, force, use_effective_order: as sacrebleu's BLEU.
Returns:
    score (0-100), counts, totals, precisions, bp, sys_len, ref_len.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TranslationBleu(evaluate.Metric):
    def _info(self):
        return metric_info(_DESCRIPTION, "Post, 2018: A Call for Clarity in Reporting BLEU Scores.", _KWARGS_DESCRIPTION)

    def _compute(self, predictions, references, lowercase=None, tokenize=None, smooth_method="exp",
                 smooth_value=None, force=False, use_effective_order=False):
        streams = reference_streams(references)
        lowercase = lowercase_default(self.config_name, lowercase)
        bleu = BLEU(lowercase=lowercase, tokenize=tokenize, smooth_method=smooth_method, smooth_value=smooth_value,
                    force=force, effective_order=use_effective_order)
        result = bleu.corpus_score(predictions, streams)
        return {"score": result.score, "counts": result.counts, "totals": result.totals,
                "precisions": result.precisions, "bp": result.bp, "sys_len": result.sys_len, "ref_len": result.ref_len}
