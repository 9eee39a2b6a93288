"""Attention analysis: attention as a categorical distribution, peaked vs diffuse weights and copying,
averaging two values, a key of uncertain norm and multi-head attention (Monte Carlo, studies 1-4),
and the heads of trained translators (study 5); one sentence's maps for the explorer and bertviz (``views``).
See reports/attention.md for the report.
"""

from .attention_math import attend, attention_weights, effective_support, entropy, peaked_lower_bound
from .studies import STUDIES, study_averaging, study_categorical, study_peaked, study_uncertain_norm
from .views import ablation_effect, bertviz_inputs, key_scaling_effect, sentence_attention, word_alignment
from .trained import (
    analyze_model, collect_attention, compare_models, cross_attention, head_statistics, plot_cross_attention, plot_heatmaps,
)

__all__ = [
    "attend", "attention_weights", "effective_support", "entropy", "peaked_lower_bound", "STUDIES",
    "study_categorical", "study_peaked", "study_averaging", "study_uncertain_norm", "analyze_model",
    "collect_attention", "compare_models", "head_statistics", "cross_attention", "plot_cross_attention",
    "plot_heatmaps", "sentence_attention", "word_alignment", "key_scaling_effect", "ablation_effect", "bertviz_inputs",
]
