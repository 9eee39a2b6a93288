"""The one-layer Transformer translator as a Hugging Face ``PreTrainedModel``.

Read top to bottom: the model, built from ``modeling_layers.py``: embeddings -> one encoder layer
(self-attention with a padding mask, feed-forward, each with add & norm) -> a linear head.

The model is the course's token-for-token translator: it reads the source sentence (German) and
predicts the target token t (English) at position t. There is no decoder and nothing
autoregressive: one forward pass gives every output position at once, so there is no
``generate``; :meth:`OneLayerTranslatorModel.translate_ids` does the greedy read-out.

This file is copied into every saved model folder (remote code), so it imports only third-party
libraries and its sibling files, never ``hf_onelayer`` by name.
"""

import math
from dataclasses import dataclass
from typing import Unpack

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput, can_return_tuple

from .configuration_onelayer import OneLayerTranslatorConfig
from .modeling_layers import (Embeddings, EncoderLayer, ForwardKwargs, LinearCrossEntropy, OneLayerModelMixin,
                              check_ids)


def decode_length(source_length: int, config: OneLayerTranslatorConfig) -> int:
    """Output positions offered to a source of ``source_length`` tokens (specials included).

    The model cannot know the target length, so translation pads the input to this many positions
    and reads tokens up to the first end-of-sentence. Evaluation uses the same rule, so the BLEU
    reported during training is the BLEU of ``translate``.
    """
    wanted = math.ceil(config.decode_length_ratio * source_length) + config.decode_length_offset
    return max(source_length, min(config.max_position_embeddings, wanted))


@dataclass
class OneLayerTranslatorOutput(ModelOutput):
    """Output of [`OneLayerTranslatorModel`].

    loss: mean cross-entropy over label positions that are not -100 (when ``labels`` is given).
    logits: (B, T, tgt_vocab_size) scores for the target token at each position (None with
        ``loss_positions_only=True``).
    hidden_states: (embeddings, layer output), each (B, T, hidden), when asked for.
    attentions: a 1-tuple holding the (B, heads, T, T) attention weights, when asked for.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


class OneLayerTranslatorPreTrainedModel(OneLayerModelMixin, PreTrainedModel):
    config_class = OneLayerTranslatorConfig
    config: OneLayerTranslatorConfig
    base_model_prefix = "onelayer"
    main_input_name = "input_ids"
    _supports_sdpa = True
    supports_gradient_checkpointing = True  # the block is a GradientCheckpointingLayer
    # forward takes no **kwargs, so Trainer never rescales the loss by the number of processes
    accepts_loss_kwargs = False
    # the names of checkpoints saved before both models shared modeling_layers.py (release/course among them)
    _legacy_key_mapping = {
        r"^embeddings\.word_embeddings\.": "embeddings.embed_tokens.",
        r"^embeddings\.position_embeddings\.": "embeddings.embed_positions.",
        r"^block\.attention\.": "block.self_attn.",
        r"^block\.attention_norm\.": "block.self_attn_norm.norm.",
        r"^block\.feed_forward_norm\.": "block.feed_forward_norm.norm.",
        r"^block\.final_norm\.": "final_norm.",
    }

    def _init_weights(self, module):
        """Normal(0, initializer_range) for Linear and Embedding, zero biases and padding row, unit LayerNorms."""
        super()._init_weights(module)


class OneLayerTranslatorModel(OneLayerTranslatorPreTrainedModel):
    """Token embedding + position embedding -> one attention/feed-forward block -> linear head."""

    def __init__(self, config: OneLayerTranslatorConfig):
        super().__init__(config)
        self.embeddings = Embeddings(config, config.src_vocab_size, config.source_pad_token_id,
                                     dim=config.src_embedding_dim, layer_norm=config.embedding_layer_norm)
        self.block = EncoderLayer(config)  # self-attention with a key padding mask, feed-forward
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) \
            if config.norm_position == "pre" else None
        head_dim = config.tgt_embedding_dim or config.hidden_size
        self.head_projection = nn.Linear(config.hidden_size, head_dim, bias=False) if config.tgt_embedding_dim else None
        self.lm_head = nn.Linear(head_dim, config.tgt_vocab_size)
        self.post_init()
        self.apply_freezing()

    def apply_freezing(self):
        """Fix the source embeddings / head weights when the config says so (Trainer skips frozen weights)."""
        self.embeddings.embed_tokens.weight.requires_grad_(not self.config.freeze_src_embeddings)
        self.lm_head.weight.requires_grad_(not self.config.freeze_tgt_embeddings)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.embeddings.embed_tokens = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def _resize_vocabularies(self, source: nn.Embedding, added: int, mean_resizing: bool) -> None:
        """The source table is ``source``; the head gains ``added`` target rows."""
        if self.config.tgt_vocab_size + added < 1:
            raise ValueError(f"resize_token_embeddings({source.num_embeddings}) changes the source table by {added} "
                             f"rows and the target table ({self.config.tgt_vocab_size} rows) by as many: below 1 row; "
                             "the two vocabularies gain and lose tokens together (add_tokens adds to both)")
        self.set_input_embeddings(source)
        self.lm_head = self._get_resized_lm_head(self.lm_head, self.config.tgt_vocab_size + added, mean_resizing=mean_resizing)
        self.config.src_vocab_size = source.num_embeddings
        self.config.tgt_vocab_size += added

    def _check_inputs(self, input_ids: torch.Tensor | None, labels: torch.Tensor | None,
                      inputs_embeds: torch.Tensor | None = None):
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds")
        shape = tuple(input_ids.shape if input_ids is not None else inputs_embeds.shape[:2])
        if input_ids is not None and input_ids.dim() != 2:
            raise ValueError(f"input_ids must have shape (batch, length), got {tuple(input_ids.shape)}")
        length, limit = shape[1], self.config.max_position_embeddings
        if length > limit:
            raise ValueError(
                f"input_ids has length {length}, longer than max_position_embeddings={limit}; "
                "truncate the inputs (the data pipeline does this and reports it)"
            )
        if labels is not None and labels.shape != shape:
            raise ValueError(f"labels must have the shape of input_ids {shape}, got {tuple(labels.shape)}")
        check_ids(input_ids, self.config.src_vocab_size, "input_ids", "source")
        check_ids(labels, self.config.tgt_vocab_size, "labels", "target")

    @can_return_tuple  # return_dict=False (or the config's) -> the output's tuple
    def forward(self, input_ids: torch.LongTensor | None = None, attention_mask: torch.Tensor | None = None,
                labels: torch.LongTensor | None = None, inputs_embeds: torch.Tensor | None = None,
                **kwargs: Unpack[ForwardKwargs]) -> OneLayerTranslatorOutput:
        r"""
        input_ids: (B, T) source token ids, padded with ``config.source_pad_token_id``.
        attention_mask: (B, T), 1 for real source tokens and 0 for padding (keys that get no weight).
            Padded positions still produce predictions: the target may be longer than the source.
        labels: (B, T) target token ids aligned with the positions, -100 where nothing is predicted: as
            ``tok(src, text_target=tgt)`` gives them, ``<s> t1 ... </s>`` beside the source's ``<s> s1 ... </s>``.
            A ``<s>`` at position 0 is not scored (both sides start with it: nothing to predict), so these labels
            train as the package's own, which hold -100 there.
        inputs_embeds: (B, T, E) source token embeddings instead of ``input_ids``.
        kwargs: :class:`ForwardKwargs`: ``output_attentions``, ``output_hidden_states`` and ``return_dict`` as in
            every transformers model; training's ``loss_positions_only`` (with ``smoothing``) also skips the
            feed-forward where ``labels == -100``: with dynamic padding that is about half of the positions.

        Labels longer than the inputs (``DataCollatorForSeq2Seq`` pads the two sides separately) get the
        inputs padded to their length, as the model needs a position for every target token; shorter
        ones are padded with -100.
        """
        output_attentions, output_hidden_states, loss_positions_only, smoothing = self._forward_options(kwargs)
        shape = input_ids.shape if input_ids is not None else inputs_embeds.shape[:2]
        if attention_mask is not None and attention_mask.shape != shape:
            raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids "
                             f"{tuple(shape)}; they must match")
        if labels is not None and labels.dim() == 2 and labels.shape[1] != shape[1]:
            input_ids, attention_mask, labels = self._same_width(input_ids, attention_mask, labels)
        self._check_inputs(input_ids, labels, inputs_embeds)
        if labels is not None:
            labels = self._unscored_start(labels)

        if attention_mask is None:
            key_mask = torch.ones(shape, dtype=torch.bool, device=self.device)
        else:
            key_mask = attention_mask.bool()

        embedded = self.embeddings(input_ids, inputs_embeds=inputs_embeds)  # (B, T, C)
        mask = key_mask[:, None, None, :]  # (B, 1, 1, T): every query may look at every real key
        if loss_positions_only:
            if labels is None or output_hidden_states:
                raise ValueError("loss_positions_only=True needs labels and no output_hidden_states")
            # Only labelled positions need the output projection, feed-forward and head: queries past
            # the target's end (about half of a dynamically padded batch) are dropped right after attention.
            labelled = labels != -100  # (B, T)
            hidden, weights = self._block(embedded, mask, output_attentions, keep=labelled)  # (N, C)
            head_input = self._head_input(hidden)  # (N, E_tgt)
            loss = LinearCrossEntropy.apply(head_input, self.lm_head.weight, self.lm_head.bias, labels[labelled],
                                            smoothing)
            logits = hidden = None
        else:
            hidden, weights = self._block(embedded, mask, output_attentions)  # (B, T, C)
            logits = self._head(hidden)  # (B, T, V_tgt)
            loss = None
            if labels is not None:
                loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)

        hidden_states = (embedded, hidden) if output_hidden_states else None
        attentions = (weights,) if output_attentions else None
        return OneLayerTranslatorOutput(loss=loss, logits=logits, hidden_states=hidden_states, attentions=attentions)

    def _unscored_start(self, labels: torch.Tensor) -> torch.Tensor:
        """``labels`` with -100 where position 0 holds ``<s>``: the source starts with it too, nothing to predict."""
        start = labels[:, :1]
        return torch.cat([start.masked_fill(start == self.config.bos_token_id, -100), labels[:, 1:]], dim=1)

    def _same_width(self, input_ids, attention_mask, labels):
        """Pad the inputs (pad id, mask 0) or the labels (-100) so both have the wider one's length."""
        extra = labels.shape[1] - (input_ids.shape[1] if input_ids is not None else 0)
        if extra > 0:
            if input_ids is None:
                raise ValueError("labels longer than inputs_embeds: pad inputs_embeds to the labels' length")
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            input_ids = F.pad(input_ids, (0, extra), value=self.config.source_pad_token_id)
            attention_mask = F.pad(attention_mask, (0, extra), value=0)
        else:
            labels = F.pad(labels, (0, -extra), value=-100)
        return input_ids, attention_mask, labels

    def generate(self, *args, **kwargs):
        """The course model writes every output position in one pass, so there is nothing to generate."""
        raise NotImplementedError(
            "the course model predicts English token t at German position t in one forward pass and has no "
            "generate(); use model.translate_ids(input_ids, attention_mask) or hf_onelayer.translation.translate, "
            "or the encoder-decoder (AutoModelForSeq2SeqLM) for generate()")

    def _block(self, x, mask, output_attentions, keep=None):
        """The block, then the final LayerNorm when pre-norm: (B, T, C) -> (B, T, C), or (N, C) with ``keep``."""
        x, weights = self.block(x, mask, output_attentions, keep=keep)
        return (x if self.final_norm is None else self.final_norm(x)), weights

    def _head_input(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., C) -> (..., E_tgt): through the head projection when there is one."""
        return hidden if self.head_projection is None else self.head_projection(hidden)

    def _head(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., C) -> (..., V_tgt) scores."""
        return self.lm_head(self._head_input(hidden))

    @torch.no_grad()
    def translate_ids(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None) -> list[list[int]]:
        """Greedy read-out: the target ids (no BOS, no EOS) for each source row.

        Each row gets ``decode_length(n_source_tokens)`` output positions; the tokens predicted at
        positions 1.. are read up to the first EOS. Position t depends only on the source tokens and t,
        so the result does not depend on how the batch is padded.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        lengths = attention_mask.sum(dim=1).tolist()
        limits = [decode_length(int(n), self.config) for n in lengths]
        width = max(limits + [input_ids.shape[1]])
        pad = width - input_ids.shape[1]
        if pad > 0:
            input_ids = F.pad(input_ids, (0, pad), value=self.config.source_pad_token_id)
            attention_mask = F.pad(attention_mask, (0, pad), value=0)
        logits = self(input_ids=input_ids, attention_mask=attention_mask, return_dict=True).logits
        predicted = logits.argmax(dim=-1).tolist()
        return [cut_at_eos(row[1:limit], self.config.eos_token_id) for row, limit in zip(predicted, limits)]


def cut_at_eos(ids: list[int], eos_token_id: int) -> list[int]:
    """The ids before the first ``eos_token_id`` (all of them when there is none)."""
    return ids[: ids.index(eos_token_id)] if eos_token_id in ids else ids


__all__ = ["OneLayerTranslatorModel", "OneLayerTranslatorPreTrainedModel", "OneLayerTranslatorOutput"]
