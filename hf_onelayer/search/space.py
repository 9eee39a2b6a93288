"""The hyper-parameter search space: one entry per searched value, in report order.

Each entry is (short label for tables, optuna ``suggest_*`` method, its arguments). A searched name is
a TrainingArguments field, an architecture field of the config, or one of the two model-building
choices (``min_frequency``, ``embedding_init``).
"""

from transformers import TrainingArguments

from ..models.configuration_onelayer import OneLayerTranslatorConfig

SPACE = {
    "learning_rate": ("lr", "float", dict(low=2e-4, high=4e-3, log=True)),
    "per_device_train_batch_size": ("batch", "categorical", dict(choices=[32, 64, 128, 256])),
    "lr_scheduler_type": ("schedule", "categorical", dict(choices=["linear", "cosine", "constant_with_warmup"])),
    "warmup_steps": ("warmup", "float", dict(low=0.0, high=0.1)),  # a ratio of all steps
    "weight_decay": ("wd", "float", dict(low=0.0, high=0.2)),
    "label_smoothing_factor": ("smooth", "float", dict(low=0.0, high=0.2)),
    "hidden_dropout_prob": ("drop", "float", dict(low=0.0, high=0.5)),
    "attention_probs_dropout_prob": ("att drop", "float", dict(low=0.0, high=0.3)),
    "hidden_size": ("hidden", "categorical", dict(choices=[128, 192, 256])),
    "num_attention_heads": ("heads", "categorical", dict(choices=[1, 2, 4, 8])),
    "head_dim_qk": ("qk", "categorical", dict(choices=[32, 64, 96])),
    "head_dim_v": ("v", "categorical", dict(choices=[32, 64, 96])),
    "intermediate_size": ("ffn", "categorical", dict(choices=[512, 1024, 2048])),
    "norm_position": ("norm", "categorical", dict(choices=["post", "pre"])),
    "min_frequency": ("min freq", "categorical", dict(choices=[1, 2, 3])),
    "embedding_init": ("emb init", "categorical", None),  # choices: the initialisers at hand
}
TRAINING_KEYS = tuple(k for k in SPACE if k in TrainingArguments.__dataclass_fields__)
MODEL_KEYS = tuple(k for k in SPACE if k in OneLayerTranslatorConfig.architecture_fields)


def search_space(trial, embeddings: list[str]) -> dict:
    """Every searched value; optuna returns the same value when a name is suggested twice in a trial."""
    params = {}
    for name, (_, kind, kwargs) in SPACE.items():
        params[name] = getattr(trial, f"suggest_{kind}")(name, **(kwargs or dict(choices=embeddings)))
    return params
