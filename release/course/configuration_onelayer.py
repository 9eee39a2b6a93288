"""Configuration of the one-layer Transformer translator.

This file is copied into every saved model folder (remote code), so it imports only
third-party libraries and its sibling files, never ``hf_onelayer`` by name.
"""


from huggingface_hub.dataclasses import strict

from .configuration_layers import OneLayerBaseConfig, OneLayerConfigError, check_ranges


@strict(accept_kwargs=True)
class OneLayerTranslatorConfig(OneLayerBaseConfig):
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
    size_defaults = dict(hidden_size=128, num_attention_heads=2, head_dim_qk=96, head_dim_v=96, intermediate_size=2048,
                         max_position_embeddings=64, attention_probs_dropout_prob=0.1)

    decode_length_ratio: float | int = 1.5
    decode_length_offset: int = 5
    tie_word_embeddings: bool = False
    src_embedding_dim: int | None = None
    tgt_embedding_dim: int | None = None
    embedding_layer_norm: bool = True

    # The fields a user chooses for a new model (flags of `hf-onelayer train`, the model card's
    # architecture line); the rest follow from the tokenizer or the embedding initialisers.
    architecture_fields = (
        "hidden_size", "num_attention_heads", "head_dim_qk", "head_dim_v", "intermediate_size",
        "max_position_embeddings", "hidden_dropout_prob", "attention_probs_dropout_prob", "norm_position",
        "embedding_layer_norm", "initializer_range",
    )

    @property
    def num_hidden_layers(self) -> int:
        """One attention/feed-forward block, always (transformers' utilities read this name)."""
        return 1

    def check_values(self):
        """Raise ``OneLayerConfigError`` naming the field whose value is out of range (types are checked by ``@strict``)."""
        positive = ["src_vocab_size", "tgt_vocab_size", *self.positive_fields, "decode_length_ratio",
                    "src_embedding_dim", "tgt_embedding_dim"]
        if self.decode_length_offset < 0:
            raise OneLayerConfigError(f"{type(self).__name__}.decode_length_offset must be >= 0, "
                                      f"got {self.decode_length_offset!r}")
        check_ranges(self, positive, ("pad_token_id", "unk_token_id", "bos_token_id", "eos_token_id"),
                     self.src_vocab_size, self.tgt_vocab_size)



__all__ = ["OneLayerTranslatorConfig"]
