"""Configuration of the one-layer Transformer translator.

This file is copied into every saved model folder (remote code), so it imports only
third-party libraries and its sibling files, never ``hf_onelayer`` by name.
"""

import difflib
import logging
import math
from typing import Literal

from huggingface_hub.dataclasses import strict
from transformers import GenerationConfig, PretrainedConfig

logger = logging.getLogger(__name__)


class OneLayerConfigError(ValueError):
    """A config field out of range or misspelt; the message names the field."""


@strict(accept_kwargs=True)
class OneLayerTranslatorConfig(PretrainedConfig):
    r"""Configuration of [`OneLayerTranslatorModel`].

    Defaults follow the course model: hidden 128, 2 heads, query/key and value dimension 96 per head
    (not tied to ``hidden_size // num_attention_heads``), feed-forward 2048, post-norm; the embeddings
    are BERT's (token + position, then LayerNorm).

    Args:
        src_vocab_size: size of the source (German) vocabulary; rows of the token embedding.
        tgt_vocab_size: size of the target (English) vocabulary; outputs of the head.
        hidden_size: width of the residual stream.
        num_attention_heads: number of self-attention heads.
        head_dim_qk: per-head dimension of queries and keys.
        head_dim_v: per-head dimension of values.
        intermediate_size: width of the ReLU feed-forward layer.
        max_position_embeddings: longest sequence the learned position table covers.
        hidden_dropout_prob: dropout on embeddings, attention output and feed-forward output.
        attention_probs_dropout_prob: dropout on the attention weights.
        layer_norm_eps: epsilon of the LayerNorms.
        norm_position: ``"post"`` (add & norm, as in the course model) or ``"pre"`` (norm, then add).
        initializer_range: standard deviation of the normal initialisation.
        decode_length_ratio, decode_length_offset: when translating a source of ``n`` tokens, the
            model offers ``min(max_position_embeddings, ceil(ratio * n) + offset)`` output positions.
        src_embedding_dim: width of the source token (and position) embeddings when it differs from
            ``hidden_size`` (pretrained vectors); a learned projection then maps them to ``hidden_size``.
        tgt_embedding_dim: width of the output embeddings (the head's weights) when it differs from
            ``hidden_size``; a learned projection maps the hidden state to it before the head.
        embedding_layer_norm: a LayerNorm on token + position embeddings, as BERT has (default). Without
            it the embeddings enter attention at the scale of ``initializer_range`` and the query/key
            weights must first grow ~100x before attention can sharpen.
        freeze_src_embeddings, freeze_tgt_embeddings: keep the source embedding / head weights fixed.
        pad_token_id, unk_token_id, bos_token_id, eos_token_id: ids in the target vocabulary (what the model writes).
        src_pad_token_id: the id that pads ``input_ids`` when the source vocabulary gives ``<pad>`` another id (a
            special token added after training gets each side's next id); None: ``pad_token_id``.
        embedding_init: where the embeddings came from and their coverage (written by
            ``hf_onelayer.embeddings``), so a saved model documents its origin.
    """

    model_type = "onelayer_translator"
    attribute_map = {"vocab_size": "tgt_vocab_size"}

    src_vocab_size: int = 8000
    tgt_vocab_size: int = 6000
    hidden_size: int = 128
    num_attention_heads: int = 2
    head_dim_qk: int = 96
    head_dim_v: int = 96
    intermediate_size: int = 2048
    max_position_embeddings: int = 64
    hidden_dropout_prob: float | int = 0.1
    attention_probs_dropout_prob: float | int = 0.1
    layer_norm_eps: float = 1e-5
    norm_position: Literal["post", "pre"] = "post"
    initializer_range: float = 0.02
    decode_length_ratio: float | int = 1.5
    decode_length_offset: int = 5
    pad_token_id: int | None = 0
    unk_token_id: int | None = 1
    bos_token_id: int | None = 2
    eos_token_id: int | None = 3
    src_pad_token_id: int | None = None
    tie_word_embeddings: bool = False
    src_embedding_dim: int | None = None
    tgt_embedding_dim: int | None = None
    embedding_layer_norm: bool = True
    freeze_src_embeddings: bool = False
    freeze_tgt_embeddings: bool = False
    embedding_init: dict | None = None

    # The fields a user chooses for a new model (flags of `hf-onelayer train`, the model card's
    # architecture line); the rest follow from the tokenizer or the embedding initialisers.
    architecture_fields = (
        "hidden_size", "num_attention_heads", "head_dim_qk", "head_dim_v", "intermediate_size",
        "max_position_embeddings", "hidden_dropout_prob", "attention_probs_dropout_prob", "norm_position",
        "embedding_layer_norm", "initializer_range",
    )

    def __post_init__(self, **kwargs):
        check_unknown(self, kwargs)
        super().__post_init__(**kwargs)
        self.check_values()

    @property
    def num_hidden_layers(self) -> int:
        """One attention/feed-forward block, always (transformers' utilities read this name)."""
        return 1

    def check_values(self):
        """Raise ``OneLayerConfigError`` naming the field whose value is out of range (types are checked by ``@strict``)."""
        positive = ["src_vocab_size", "tgt_vocab_size", "hidden_size", "num_attention_heads", "head_dim_qk",
                    "head_dim_v", "intermediate_size", "max_position_embeddings", "layer_norm_eps",
                    "initializer_range", "decode_length_ratio", "src_embedding_dim", "tgt_embedding_dim"]
        if self.decode_length_offset < 0:
            raise OneLayerConfigError(f"{type(self).__name__}.decode_length_offset must be >= 0, "
                                      f"got {self.decode_length_offset!r}")
        check_ranges(self, positive, ("pad_token_id", "unk_token_id", "bos_token_id", "eos_token_id"),
                     self.src_vocab_size, self.tgt_vocab_size)

    @property
    def source_pad_token_id(self) -> int | None:
        """The id that pads ``input_ids``: ``src_pad_token_id``, else ``pad_token_id``."""
        return self.pad_token_id if self.src_pad_token_id is None else self.src_pad_token_id


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
    """Refuse a keyword that looks like a misspelt field (``hiden_size``); warn about any other unknown one."""
    fields = [f for f in type(config).__dataclass_fields__ if not f.startswith("_")]
    for key in kwargs:
        if key in KNOWN_KEYS or key.startswith("_"):
            continue
        close = difflib.get_close_matches(key, fields, n=1, cutoff=0.85)
        if close:
            raise OneLayerConfigError(f"{type(config).__name__}: unknown field {key!r}; did you mean {close[0]!r}?")
        logger.warning("%s: unknown field %r, kept as an attribute", type(config).__name__, key)


__all__ = ["OneLayerTranslatorConfig"]
