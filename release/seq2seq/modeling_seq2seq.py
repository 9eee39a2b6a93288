"""The one-layer encoder–decoder translator as a Hugging Face ``PreTrainedModel`` + ``GenerationMixin``.

Read top to bottom: the decoder layer (embeddings, attention, feed-forward, add & norm and the encoder layer:
``modeling_layers.py``) -> encoder, decoder -> the model.

The encoder reads the German sentence once; the decoder writes English one token at a time,
attending to its own earlier tokens (masked self-attention) and to the encoder's output
(cross-attention: a soft alignment of each English token with the German ones). ``generate()`` is
transformers' own: greedy, beam search, sampling, with an ``EncoderDecoderCache``.

This file is copied into every saved model folder (remote code), so it imports only
third-party libraries and its sibling files, never ``hf_onelayer`` by name.
"""

from typing import Unpack

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput
from transformers.utils import can_return_tuple
from transformers.utils.deprecation import deprecate_kwarg

from .configuration_seq2seq import OneLayerSeq2SeqConfig
from .modeling_layers import (AddNorm, Attention, Embeddings, EncoderLayer, FeedForward, ForwardKwargs,
                              LinearCrossEntropy, OneLayerModelMixin, check_ids)


class DecoderLayer(GradientCheckpointingLayer):
    """Masked self-attention over the English so far, cross-attention to the encoder, feed-forward; each with add & norm."""

    def __init__(self, config: OneLayerSeq2SeqConfig, layer_idx: int):
        super().__init__()
        self.self_attn = Attention(config, layer_idx)
        self.self_attn_norm = AddNorm(config)
        self.cross_attn = Attention(config, layer_idx, is_cross=True)
        self.cross_attn_norm = AddNorm(config)
        self.feed_forward = FeedForward(config)
        self.feed_forward_norm = AddNorm(config)

    def forward(self, x, causal_mask, memory, source_mask, cache=None, output_attentions=False):
        x, self_weights = self.self_attn_norm(x, lambda h: self.self_attn(h, causal_mask, cache=cache,
                                                                           output_attentions=output_attentions))
        x, cross_weights = self.cross_attn_norm(x, lambda h: self.cross_attn(h, source_mask, memory, cache,
                                                                             output_attentions))
        return self.feed_forward_norm(x, self.feed_forward)[0], self_weights, cross_weights


def source_key_mask(attention_mask: torch.Tensor | None, input_ids: torch.Tensor) -> torch.BoolTensor:
    """(B, 1, 1, S): True at real source tokens (every token when ``attention_mask`` is None); ``input_ids``:
    anything of shape (B, S)."""
    if attention_mask is None:
        return torch.ones(input_ids.shape[0], 1, 1, input_ids.shape[1], dtype=torch.bool, device=input_ids.device)
    if attention_mask.shape != input_ids.shape:
        raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids "
                         f"{tuple(input_ids.shape)}; they must match")
    return attention_mask[:, None, None, :].bool()


class Seq2SeqEncoder(nn.Module):
    """Source embeddings -> ``encoder_layers`` encoder layers (-> a final LayerNorm when pre-norm)."""

    main_input_name = "input_ids"  # generate() reads it

    def __init__(self, config: OneLayerSeq2SeqConfig):
        super().__init__()
        self.embeddings = Embeddings(config, config.src_vocab_size or config.vocab_size, config.source_pad_token_id)
        self.layers = nn.ModuleList(EncoderLayer(config, i) for i in range(config.encoder_layers))
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) \
            if config.norm_position == "pre" else None

    def forward(self, input_ids=None, attention_mask=None, output_attentions=False, output_hidden_states=False,
                return_dict=True, inputs_embeds=None, **kwargs) -> BaseModelOutput:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds")
        mask = source_key_mask(attention_mask, input_ids if input_ids is not None else inputs_embeds[..., 0])
        check_ids(input_ids, self.embeddings.embed_tokens.num_embeddings, "input_ids", "source")
        x = self.embeddings(input_ids, inputs_embeds=inputs_embeds)  # (B, S, C)
        states, attentions = [x], []
        for layer in self.layers:
            x, weights = layer(x, mask, output_attentions)
            states.append(x)
            attentions.append(weights)
        if self.final_norm is not None:
            x = states[-1] = self.final_norm(x)
        return BaseModelOutput(last_hidden_state=x, hidden_states=tuple(states) if output_hidden_states else None,
                               attentions=tuple(attentions) if output_attentions else None)


class Seq2SeqDecoder(nn.Module):
    """Target embeddings -> ``decoder_layers`` decoder layers (-> a final LayerNorm when pre-norm)."""

    def __init__(self, config: OneLayerSeq2SeqConfig):
        super().__init__()
        self.embeddings = Embeddings(config, config.vocab_size, config.pad_token_id)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.decoder_layers))
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) \
            if config.norm_position == "pre" else None

    def forward(self, input_ids, memory, source_mask, cache=None, output_attentions=False, output_hidden_states=False,
                inputs_embeds=None):
        past = cache.get_seq_length() if cache is not None else 0
        x = self.embeddings(input_ids, past, inputs_embeds)  # (B, T, C)
        T = x.shape[1]
        keys = torch.arange(past + T, device=x.device)
        causal = (keys[None, :] <= past + torch.arange(T, device=x.device)[:, None])[None, None]  # (1, 1, T, past+T)
        states, self_attentions, cross_attentions = [x], [], []
        for layer in self.layers:
            x, self_weights, cross_weights = layer(x, causal, memory, source_mask, cache, output_attentions)
            states.append(x)
            self_attentions.append(self_weights)
            cross_attentions.append(cross_weights)
        if self.final_norm is not None:
            x = states[-1] = self.final_norm(x)
        return x, tuple(states), tuple(self_attentions), tuple(cross_attentions)


class OneLayerSeq2SeqPreTrainedModel(OneLayerModelMixin, PreTrainedModel):
    config_class = OneLayerSeq2SeqConfig
    config: OneLayerSeq2SeqConfig
    base_model_prefix = "seq2seq"
    main_input_name = "input_ids"
    _supports_sdpa = True
    _can_compile_fullgraph = False
    supports_gradient_checkpointing = True  # encoder and decoder layers are GradientCheckpointingLayers
    # forward takes no **kwargs, so Trainer never rescales the loss by the number of processes
    accepts_loss_kwargs = False


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Decoder inputs from labels: ``<s>`` first, each label one step later, -100 read as padding."""
    shifted = labels.new_full(labels.shape, pad_token_id)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


class OneLayerSeq2SeqForConditionalGeneration(OneLayerSeq2SeqPreTrainedModel, GenerationMixin):
    """Encoder (source) + decoder (target so far) -> a linear head over the target vocabulary."""

    def __init__(self, config: OneLayerSeq2SeqConfig):
        super().__init__(config)
        self.encoder = Seq2SeqEncoder(config)
        self.decoder = Seq2SeqDecoder(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        # tie_word_embeddings: the head is the decoder's embedding, and a joint vocabulary (no
        # src_vocab_size) gives the encoder the same table
        self._tied_weights_keys = {"lm_head.weight": "decoder.embeddings.embed_tokens.weight"}
        if config.src_vocab_size is None:
            self._tied_weights_keys["encoder.embeddings.embed_tokens.weight"] = "decoder.embeddings.embed_tokens.weight"
        self.post_init()
        self.apply_freezing()

    def apply_freezing(self):
        """Fix the source / target token embeddings when the config says so (Trainer skips frozen weights)."""
        self.encoder.embeddings.embed_tokens.weight.requires_grad_(not self.config.freeze_src_embeddings)
        self.decoder.embeddings.embed_tokens.weight.requires_grad_(not self.config.freeze_tgt_embeddings)
        self.lm_head.weight.requires_grad_(not self.config.freeze_tgt_embeddings)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.embeddings.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.encoder.embeddings.embed_tokens = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def _resize_vocabularies(self, source: nn.Embedding, added: int, mean_resizing: bool) -> None:
        """The encoder's table is ``source``; the decoder's table and the head gain ``added`` rows (a joint
        vocabulary: they are ``source`` again, once tied)."""
        self.set_input_embeddings(source)
        if self.config.src_vocab_size is None:
            self.decoder.embeddings.embed_tokens = source  # one table; tie_weights shares it with the head
        else:
            target = self._get_resized_embeddings(self.decoder.embeddings.embed_tokens, self.config.vocab_size + added,
                                                  mean_resizing=mean_resizing)
            target.padding_idx = self.config.pad_token_id
            self.decoder.embeddings.embed_tokens = target
            self.config.src_vocab_size = source.num_embeddings
        self.lm_head = self._get_resized_lm_head(self.lm_head, self.config.vocab_size + added, mean_resizing=mean_resizing)
        self.config.vocab_size += added

    def get_encoder(self, modality: str | None = None) -> Seq2SeqEncoder:
        return self.encoder

    def get_decoder(self) -> Seq2SeqDecoder:
        return self.decoder

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    @can_return_tuple  # return_dict=False (or the config's) -> the output's tuple
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")  # transformers 5's old name, as BART takes it
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        **kwargs: Unpack[ForwardKwargs],
    ) -> Seq2SeqLMOutput:
        r"""The arguments in BART's order (the embeddings before the labels).

        input_ids, attention_mask: (B, S) source ids and 1 for real tokens, 0 for padding.
        decoder_input_ids: (B, T) the target so far, starting with ``decoder_start_token_id``; made from
            ``labels`` by shifting them one step right when not given. ``decoder_attention_mask`` is
            accepted and not needed: the causal mask already keeps real positions from seeing the
            right padding.
        labels: (B, T) the target ids to predict, -100 where nothing is scored.
        cache: an ``EncoderDecoderCache`` (made when ``use_cache`` and none is given); ``generate`` passes
            only the new decoder tokens together with it.
        inputs_embeds, decoder_inputs_embeds: (B, S, C) / (B, T, C) token embeddings instead of the ids.
        kwargs: :class:`ForwardKwargs`: ``output_attentions``, ``output_hidden_states`` and ``return_dict`` as in
            every transformers model, and training's fused loss (``loss_positions_only``, ``smoothing``).
        """
        config = self.config
        output_attentions, output_hidden_states, loss_positions_only, smoothing = self._forward_options(kwargs)
        if labels is not None:
            check_ids(labels, config.vocab_size, "labels", "target")
            use_cache = False
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            raise ValueError("forward needs decoder_input_ids or labels (generate() makes them itself)")
        use_cache = config.use_cache if use_cache is None else use_cache
        if use_cache and cache is None:
            cache = EncoderDecoderCache(DynamicCache(config=config), DynamicCache(config=config))
        if not use_cache:
            cache = None

        if encoder_outputs is None:
            if input_ids is None and inputs_embeds is None:
                raise ValueError("forward needs input_ids, inputs_embeds or encoder_outputs")
            encoder_outputs = self.encoder(input_ids, attention_mask, output_attentions, output_hidden_states,
                                           inputs_embeds=inputs_embeds)
        elif isinstance(encoder_outputs, tuple):
            encoder_outputs = BaseModelOutput(*encoder_outputs)
        memory = encoder_outputs.last_hidden_state  # (B, S, C)
        source_mask = source_key_mask(attention_mask, memory[..., 0])
        check_ids(decoder_input_ids, config.vocab_size, "decoder_input_ids", "target")

        hidden, states, self_attentions, cross_attentions = self.decoder(
            decoder_input_ids, memory, source_mask, cache, output_attentions, output_hidden_states,
            decoder_inputs_embeds)  # (B, T, C)
        loss = logits = None
        if loss_positions_only:
            if labels is None:
                raise ValueError("loss_positions_only=True needs labels")
            labelled = labels != -100  # the head runs only where there is a token to predict
            loss = LinearCrossEntropy.apply(hidden[labelled], self.lm_head.weight, None, labels[labelled],
                                            smoothing)
        else:
            logits = self.lm_head(hidden)  # (B, T, V)
            if labels is not None:
                loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)

        output = Seq2SeqLMOutput(
            loss=loss, logits=logits, cache=cache,
            decoder_hidden_states=states if output_hidden_states else None,
            decoder_attentions=self_attentions if output_attentions else None,
            cross_attentions=cross_attentions if output_attentions else None,
            encoder_last_hidden_state=memory, encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )
        return output


__all__ = ["OneLayerSeq2SeqForConditionalGeneration", "OneLayerSeq2SeqPreTrainedModel", "shift_tokens_right"]
