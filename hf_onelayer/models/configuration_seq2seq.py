"""Configuration of the one-layer encoder–decoder translator.

This file is copied into every saved model folder (remote code), so it imports only
third-party libraries and its sibling files, never ``hf_onelayer`` by name.
"""

from huggingface_hub.dataclasses import strict

from .configuration_layers import OneLayerBaseConfig, check_ranges


@strict(accept_kwargs=True)
class OneLayerSeq2SeqConfig(OneLayerBaseConfig):
    r"""Configuration of [`OneLayerSeq2SeqForConditionalGeneration`].

    One encoder layer (self-attention, feed-forward) and one decoder layer (masked self-attention,
    cross-attention, feed-forward), each sub-layer with add & norm; token + learned position
    embeddings (BERT-style, with a LayerNorm); a linear head over the target vocabulary.

    Args:
        vocab_size: target vocabulary (decoder embedding and head); the joint vocabulary when
            ``src_vocab_size`` is None.
        src_vocab_size: a separate source vocabulary for the encoder embedding, or None to share one
            embedding between encoder, decoder and head (joint vocabulary).
        hidden_size: width of the residual stream.
        encoder_layers, decoder_layers: layers of each stack (1 each: the package's model).
        num_attention_heads: heads of every attention block.
        head_dim_qk, head_dim_v: per-head dimensions of queries/keys and of values.
        intermediate_size: width of the ReLU feed-forward layer.
        max_position_embeddings: longest source or target the learned position tables cover.
        hidden_dropout_prob: dropout on embeddings and on every sub-layer's output.
        attention_probs_dropout_prob: dropout on the attention weights.
        norm_position: ``"post"`` (add & norm) or ``"pre"`` (norm, add; a final LayerNorm per stack).
        tie_word_embeddings: the head reuses the decoder's token embedding.
        pad_token_id, unk_token_id, bos_token_id, eos_token_id, decoder_start_token_id: ids in the target vocabulary.
        src_pad_token_id: the id that pads ``input_ids`` when a separate source vocabulary gives ``<pad>`` another
            id; None: ``pad_token_id``.
        freeze_src_embeddings, freeze_tgt_embeddings, embedding_init: as in the course model's config
            (pretrained initialisers record their origin here).
    """

    model_type = "onelayer_seq2seq"
    keys_to_ignore_at_inference = ["cache"]
    attribute_map = {"num_hidden_layers": "decoder_layers"}

    vocab_size: int = 8000
    src_vocab_size: int | None = None
    size_defaults = dict(hidden_size=256, num_attention_heads=4, head_dim_qk=64, head_dim_v=64, intermediate_size=1024,
                         max_position_embeddings=128, attention_probs_dropout_prob=0.0)

    encoder_layers: int = 1
    decoder_layers: int = 1
    decoder_start_token_id: int | None = 2
    is_encoder_decoder: bool = True
    use_cache: bool = True
    tie_word_embeddings: bool = True

    # The fields a user chooses for a new model (flags of `hf-onelayer train`, the card's architecture line).
    architecture_fields = (
        "hidden_size", "encoder_layers", "decoder_layers", "num_attention_heads", "head_dim_qk", "head_dim_v",
        "intermediate_size", "max_position_embeddings", "hidden_dropout_prob", "attention_probs_dropout_prob",
        "norm_position", "initializer_range", "tie_word_embeddings",
    )

    def check_values(self):
        """Raise ``OneLayerConfigError`` naming the field whose value is out of range (types are checked by ``@strict``)."""
        positive = ["vocab_size", "src_vocab_size", "encoder_layers", "decoder_layers", *self.positive_fields]
        check_ranges(self, positive, ("pad_token_id", "unk_token_id", "bos_token_id", "eos_token_id",
                                      "decoder_start_token_id"), self.src_vocab_size or self.vocab_size, self.vocab_size)


__all__ = ["OneLayerSeq2SeqConfig"]
