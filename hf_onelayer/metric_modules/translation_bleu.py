"""Corpus BLEU through sacrebleu, with the interface of the Hub's ``sacrebleu`` module (hf-onelayer)."""

import datasets
import evaluate
from sacrebleu.metrics import BLEU

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
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="Post, 2018: A Call for Clarity in Reporting BLEU Scores.",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Sequence(datasets.Value("string"))}),
        )

    def _compute(self, predictions, references, lowercase=None, tokenize=None, smooth_method="exp",
                 smooth_value=None, force=False, use_effective_order=False):
        counts = {len(refs) for refs in references}
        if len(counts) != 1:
            raise ValueError("every prediction needs the same number of references")
        streams = [[refs[i] for refs in references] for i in range(counts.pop())]  # sacrebleu: one list per reference
        lowercase = self.config_name == "lowercase" if lowercase is None else lowercase
        bleu = BLEU(lowercase=lowercase, tokenize=tokenize, smooth_method=smooth_method, smooth_value=smooth_value,
                    force=force, effective_order=use_effective_order)
        result = bleu.corpus_score(predictions, streams)
        return {"score": result.score, "counts": result.counts, "totals": result.totals,
                "precisions": result.precisions, "bp": result.bp, "sys_len": result.sys_len, "ref_len": result.ref_len}
