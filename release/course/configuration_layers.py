"""What both configurations share: ``OneLayerBaseConfig`` (common fields, the warning on unknown fields, the range
checks, the source padding id).

This file is copied into every saved model folder (remote code), so it imports only third-party
libraries, never ``hf_onelayer`` by name.
"""

import difflib
import logging
import math
from typing import ClassVar, Literal

from huggingface_hub.dataclasses import strict
from transformers import GenerationConfig, PretrainedConfig

logger = logging.getLogger(__name__)


class OneLayerConfigError(ValueError):
    """A config field out of range; the message names the field."""


def check_ranges(config, positive, token_ids, src_vocab: int, tgt_vocab: int):
    """Raise ``OneLayerConfigError`` naming the first field out of range: ``positive`` fields (None allowed)
    must be finite and > 0, the dropout probabilities in [0, 1), the target-side ``token_ids`` that are set
    inside ``tgt_vocab``, the source padding id inside ``src_vocab``, and ``max_position_embeddings`` must
    leave room for <bos>, a token and <eos>."""
    checks = [(name, "finite and > 0", 0 < getattr(config, name) < math.inf)
              for name in positive if getattr(config, name) is not None]
    checks += [("max_position_embeddings", ">= 3 (<bos>, one token, <eos>)", config.max_position_embeddings >= 3)]
    checks += [(name, "in [0, 1)", 0 <= getattr(config, name) < 1)
               for name in ("hidden_dropout_prob", "attention_probs_dropout_prob")]
    checks += [(name, f"inside the target vocabulary (< {tgt_vocab})", 0 <= getattr(config, name) < tgt_vocab)
               for name in token_ids if getattr(config, name) is not None]
    source_pad = "pad_token_id" if config.src_pad_token_id is None else "src_pad_token_id"
    if getattr(config, source_pad) is not None:
        checks += [(source_pad, f"inside the source vocabulary (< {src_vocab})", 0 <= getattr(config, source_pad) < src_vocab)]
    for name, wanted, ok in checks:
        if not ok:
            raise OneLayerConfigError(f"{type(config).__name__}.{name} must be {wanted}, got {getattr(config, name)!r}")


# Keys that transformers itself reads or stores besides a config's fields.
KNOWN_KEYS = set(PretrainedConfig().to_dict()) | set(GenerationConfig._get_default_generation_params()) | {
    "auto_map", "custom_pipelines", "name_or_path", "torch_dtype", "num_labels", "output_attentions",
    "attn_implementation", "experts_implementation", "per_layer_config", "rope_scaling", "rope_theta"}


def check_unknown(config, kwargs: dict) -> None:
    """Warn, in one line, about a keyword that is none of the config's fields: transformers keeps it as an attribute
    (and so does this config, across ``save_pretrained`` and ``from_pretrained``); a near-miss of a field
    (``hiden_size``) names the field it resembles. The training configs and flags refuse such keys instead
    (``arguments.py``), where a typo would cost a run."""
    fields = [f for f in type(config).__dataclass_fields__ if not f.startswith("_")]
    for key in kwargs:
        if key in KNOWN_KEYS or key.startswith("_"):
            continue
        close = difflib.get_close_matches(key, fields, n=1, cutoff=0.85)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        logger.warning("%s: unknown field %r, kept as an attribute%s", type(config).__name__, key, hint)


@strict(accept_kwargs=True)
class OneLayerBaseConfig(PretrainedConfig):
    """The fields both models have (the sizes with each model's defaults, the rest with shared ones; each model's
    config adds its own fields), and what is done on every config: each model's size defaults filled in, unknown
    fields warned about (and kept), ``check_values`` (the ranges)."""

    # the sizes both models have; None takes the model's own default from its `size_defaults`
    hidden_size: int | None = None
    num_attention_heads: int | None = None
    head_dim_qk: int | None = None
    head_dim_v: int | None = None
    intermediate_size: int | None = None
    max_position_embeddings: int | None = None
    attention_probs_dropout_prob: float | int | None = None
    hidden_dropout_prob: float | int = 0.1
    layer_norm_eps: float = 1e-5
    norm_position: Literal["post", "pre"] = "post"
    initializer_range: float = 0.02
    pad_token_id: int | None = 0
    unk_token_id: int | None = 1
    bos_token_id: int | None = 2
    eos_token_id: int | None = 3
    src_pad_token_id: int | None = None
    freeze_src_embeddings: bool = False
    freeze_tgt_embeddings: bool = False
    embedding_init: dict | None = None

    size_defaults: ClassVar[dict] = {}  # each model's defaults of the sizes above
    # the fields that must be finite and > 0 in every model (each model's check_values adds its own)
    positive_fields = ("hidden_size", "num_attention_heads", "head_dim_qk", "head_dim_v", "intermediate_size",
                       "max_position_embeddings", "layer_norm_eps", "initializer_range")

    def __post_init__(self, **kwargs):
        for name, value in self.size_defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        check_unknown(self, kwargs)
        super().__post_init__(**kwargs)
        self.check_values()

    def check_values(self):
        """Raise ``OneLayerConfigError`` naming the field whose value is out of range."""

    @property
    def source_pad_token_id(self) -> int | None:
        """The id that pads ``input_ids``: ``src_pad_token_id``, else ``pad_token_id``."""
        return self.pad_token_id if self.src_pad_token_id is None else self.src_pad_token_id
