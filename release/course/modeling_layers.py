"""The layers both translators are built from: attention, feed-forward, add & norm, the fused head loss.

Read top to bottom: embeddings -> attention (self or cross, with a key/value cache, eager or SDPA) ->
feed-forward -> add & norm -> the encoder layer (the course model's block) -> the head's loss -> the range check
of ids -> what both ``PreTrainedModel`` classes share (with the names older checkpoints used).
``modeling_onelayer.py`` (the course model) and ``modeling_seq2seq.py`` (the encoder–decoder) import from here.

This file is copied into every saved model folder (remote code), so it imports only third-party
libraries, never ``hf_onelayer`` by name.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.utils import TransformersKwargs


class Embeddings(nn.Module):
    """Token embedding + learned absolute position embedding (BERT-style, no token types), from ``past_length`` on;
    then LayerNorm (unless ``layer_norm=False``) and dropout.

    With pretrained vectors of another width (``dim``), both tables are ``dim`` wide and a learned ``projection``
    maps their sum to ``hidden_size``.
    """

    def __init__(self, config, vocab_size: int, padding_idx: int | None, dim: int | None = None,
                 layer_norm: bool = True):
        super().__init__()
        width = dim or config.hidden_size
        self.embed_tokens = nn.Embedding(vocab_size, width, padding_idx=padding_idx)
        self.embed_positions = nn.Embedding(config.max_position_embeddings, width)
        self.LayerNorm = nn.LayerNorm(width, eps=config.layer_norm_eps) if layer_norm else None
        self.projection = nn.Linear(width, config.hidden_size, bias=False) if dim else None
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.LongTensor | None, past_length: int = 0,
                inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        """Token ids (B, T), or their embeddings ``inputs_embeds`` (B, T, E) -> (B, T, C)."""
        tokens = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds  # (B, T, E)
        length = tokens.shape[1]
        if past_length + length > self.embed_positions.num_embeddings:
            raise ValueError(f"a sequence of {past_length + length} tokens is longer than max_position_embeddings="
                             f"{self.embed_positions.num_embeddings}; truncate it or generate fewer tokens")
        positions = torch.arange(past_length, past_length + length, device=tokens.device)  # (T,)
        x = tokens + self.embed_positions(positions)  # (B, T, E)
        if self.LayerNorm is not None:
            x = self.LayerNorm(x)
        if self.projection is not None:
            x = self.projection(x)  # (B, T, C)
        return self.dropout(x)


class Attention(nn.Module):
    """Multi-head attention: ``alpha = softmax(q_h k_h^T / sqrt(d_qk))`` over the keys a query may see, and
    ``c = alpha v_h``; the heads are concatenated and projected back to ``hidden_size``.

    Self-attention takes keys and values from ``x``; cross-attention (``is_cross``) from ``memory``, the encoder's
    output. With a cache, self-attention appends the new keys/values to the earlier ones, and cross-attention
    computes the encoder's keys/values once and reuses them at every later step. Two implementations behind
    ``config._attn_implementation``: "eager" (can return alpha) and "sdpa" (``F.scaled_dot_product_attention``;
    eager when alpha is asked for). The analysis hooks ``key`` (a scaled key) and the input of ``output``
    (ablated heads).
    """

    def __init__(self, config, layer_idx: int = 0, is_cross: bool = False):
        super().__init__()
        self.config, self.layer_idx, self.is_cross = config, layer_idx, is_cross
        self.num_heads, self.d_qk, self.d_v = config.num_attention_heads, config.head_dim_qk, config.head_dim_v
        self.scale = 1.0 / math.sqrt(self.d_qk)
        self.query = nn.Linear(config.hidden_size, self.num_heads * self.d_qk)
        self.key = nn.Linear(config.hidden_size, self.num_heads * self.d_qk)
        self.value = nn.Linear(config.hidden_size, self.num_heads * self.d_v)
        self.output = nn.Linear(self.num_heads * self.d_v, config.hidden_size)

    def forward(self, x, mask, memory=None, cache=None, output_attentions=False, keep=None):
        """(B, T, C) -> (B, T, C), and alpha (B, nh, T, S) if asked. ``mask`` (B or 1, 1, T or 1, S) is True where
        a query may look at a key; ``keep`` (B, T): only those query positions go on, (N, C)."""
        B, T, _ = x.shape
        nh = self.num_heads
        q = self.query(x).view(B, T, nh, self.d_qk).transpose(1, 2)  # (B, nh, T, d_qk)
        if self.is_cross and cache is not None and cache.is_updated.get(self.layer_idx):
            layer = cache.cross_attention_cache.layers[self.layer_idx]  # the encoder's keys/values, made at step 1
            k, v = layer.keys, layer.values
        else:
            source = memory if self.is_cross else x  # (B, S, C)
            k = self.key(source).view(B, -1, nh, self.d_qk).transpose(1, 2)  # (B, nh, S, d_qk)
            v = self.value(source).view(B, -1, nh, self.d_v).transpose(1, 2)  # (B, nh, S, d_v)
            if cache is not None:
                part = cache.cross_attention_cache if self.is_cross else cache.self_attention_cache
                k, v = part.update(k, v, self.layer_idx)  # self: (B, nh, past + T, d)
                if self.is_cross:
                    cache.is_updated[self.layer_idx] = True
        dropout_p = self.config.attention_probs_dropout_prob if self.training else 0.0
        if self.config._attn_implementation == "sdpa" and not output_attentions:
            c = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=self.scale)
            weights = None
        else:
            scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale  # (B, nh, T, S)
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
            weights = torch.softmax(scores, dim=-1)  # rows sum to 1; masked keys get exactly 0
            c = torch.matmul(F.dropout(weights, p=dropout_p, training=self.training), v)  # (B, nh, T, d_v)
        c = c.transpose(1, 2).reshape(B, T, nh * self.d_v)  # (B, T, nh * d_v)
        if keep is not None:
            c = c[keep]  # (N, nh * d_v): keys and values above still cover every real token
        return self.output(c), weights


class FeedForward(nn.Module):
    """``dense_out(relu(dense_in(x)))``, position by position."""

    def __init__(self, config):
        super().__init__()
        self.dense_in = nn.Linear(config.hidden_size, config.intermediate_size)
        self.dense_out = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense_out(F.relu(self.dense_in(x)))


class AddNorm(nn.Module):
    """A residual connection and a LayerNorm around a sub-layer: post-norm ``LN(x + f(x))`` or pre-norm ``x + f(LN(x))``."""

    def __init__(self, config):
        super().__init__()
        self.pre_norm = config.norm_position == "pre"
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x, sublayer, keep=None):
        """``sublayer`` maps (B, T, C) to (B, T, C) or to (output, attention weights); with ``keep`` (B, T) it
        returns only those positions, (N, C), and so does this."""
        out = sublayer(self.norm(x) if self.pre_norm else x)
        out, weights = out if isinstance(out, tuple) else (out, None)
        x = (x if keep is None else x[keep]) + self.dropout(out)
        return (x if self.pre_norm else self.norm(x)), weights


class EncoderLayer(GradientCheckpointingLayer):
    """Self-attention with a padding mask, then feed-forward, each with add & norm: the course model's block and
    the encoder–decoder's encoder layer.

    post-norm: ``x = LN1(x + attn(x)); x = LN2(x + ffn(x))``; pre-norm: ``x = x + attn(LN1(x)); x = x + ffn(LN2(x))``
    """

    def __init__(self, config, layer_idx: int = 0):
        super().__init__()
        self.self_attn = Attention(config, layer_idx)
        self.self_attn_norm = AddNorm(config)
        self.feed_forward = FeedForward(config)
        self.feed_forward_norm = AddNorm(config)

    def forward(self, x, mask, output_attentions=False, keep=None):
        """(B, T, C) -> (B, T, C), or (N, C) with ``keep``; ``mask`` (B, 1, 1, T): True at real tokens."""
        x, weights = self.self_attn_norm(x, lambda h: self.self_attn(h, mask, output_attentions=output_attentions,
                                                                      keep=keep), keep)
        return self.feed_forward_norm(x, self.feed_forward)[0], weights


class LinearCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of ``x @ weight.T + bias`` against ``target``, computed in row chunks.

    The (N, V) logits never exist at once: each chunk's logits give its loss and, right away, its
    gradients (softmax minus the smoothed one-hot), so the work stays in cache; backward only scales
    them. One ``exp`` per logit, computed in place: the softmax is ``exp(z - max) / sum``, and the
    log-sum-exp comes from the same sum. Same loss and gradients as ``F.cross_entropy(F.linear(x,
    weight, bias), target, label_smoothing=smoothing)``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, target, smoothing: float = 0.0, chunk: int = 128):
        n, vocab = x.shape[0], weight.shape[0]
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = torch.empty_like(x) if need_x else None
        grad_w = torch.zeros_like(weight) if need_w else None
        grad_b = torch.zeros_like(bias) if need_b else None
        total = x.new_zeros((), dtype=torch.float32)
        for start in range(0, n, chunk):
            xs, ys = x[start : start + chunk], target[start : start + chunk]
            z = F.linear(xs, weight, bias).float()  # (c, V)
            z_max = z.amax(dim=-1, keepdim=True)  # (c, 1)
            loss = -(1 - smoothing) * z.gather(1, ys[:, None]).squeeze(1)  # (c,)
            if smoothing:
                loss -= smoothing * z.mean(dim=-1)
            p = z.sub_(z_max).exp_()  # in place: z is not needed any more
            p_sum = p.sum(dim=-1, keepdim=True)  # (c, 1)
            total += (loss + (z_max + p_sum.log()).squeeze(1)).sum()  # + log-sum-exp
            if need_x or need_w or need_b:
                g = p.div_(p_sum)  # softmax, (c, V)
                g[torch.arange(len(ys)), ys] -= 1 - smoothing
                if smoothing:
                    g -= smoothing / vocab
                g = g.to(x.dtype)
                if need_x:
                    torch.mm(g, weight, out=grad_x[start : start + chunk])
                if need_w:
                    grad_w.addmm_(g.t(), xs)
                if need_b:
                    grad_b += g.sum(dim=0)
        ctx.save_for_backward(*(None if g is None else g / n for g in (grad_x, grad_w, grad_b)))
        return total / n

    @staticmethod
    def backward(ctx, grad_loss):
        return *(None if g is None else g * grad_loss for g in ctx.saved_tensors), None, None, None


def check_ids(ids: torch.Tensor | None, vocab_size: int, name: str, side: str) -> None:
    """``ValueError`` naming the first id of ``ids`` outside ``[0, vocab_size)`` (-100, the ignored label, aside),
    before an embedding lookup or a loss fails on it. One min and one max; skipped while compiling (they read
    tensor values)."""
    if ids is None or not ids.numel() or torch.compiler.is_compiling():
        return
    real = ids[ids != -100] if name == "labels" else ids
    if real.numel() and (int(real.min()) < 0 or int(real.max()) >= vocab_size):
        bad = real[(real < 0) | (real >= vocab_size)][0].item()
        raise ValueError(f"{name} contain id {bad}, outside the {side} vocabulary of size {vocab_size} (ids 0 to "
                         f"{vocab_size - 1}{', or -100' if name == 'labels' else ''})")


class ForwardKwargs(TransformersKwargs, total=False):
    """The keywords both models' ``forward`` take besides their tensors: transformers' (``output_attentions``,
    ``output_hidden_states``, ...; ``return_dict`` is read by ``@can_return_tuple``) and training's loss path.

    loss_positions_only: the head and the cross-entropy run fused (:class:`LinearCrossEntropy`), only at labelled
        positions: the loss is the same and ``logits`` is None (no "label" in the name: Trainer would take it for a
        label column).
    smoothing: label smoothing of that training loss (only with ``loss_positions_only``).
    """

    loss_positions_only: bool
    smoothing: float


class OneLayerModelMixin:
    """What both models share with transformers: ``from_pretrained`` reads older checkpoints' parameter names
    (``_legacy_key_mapping``) and re-applies the config's freezing (``apply_freezing``; loading recreates the
    parameters), ``set_attn_implementation`` works, and
    ``resize_token_embeddings`` keeps the source and target vocabulary sizes in step."""

    def resize_token_embeddings(self, new_num_tokens: int | None = None, pad_to_multiple_of: int | None = None,
                                mean_resizing: bool = True) -> nn.Embedding:
        """Resize the source embedding to ``new_num_tokens`` rows (``len(tokenizer)``: the source side is the one in
        use). ``add_tokens`` adds each token to both vocabularies, so the target tables (embedding, head) gain or
        lose as many rows; the config's vocabulary sizes follow. Returns the new source embedding."""
        source = self.get_input_embeddings()
        if new_num_tokens is None and pad_to_multiple_of is None:
            return source
        rows, padding_idx = source.num_embeddings, source.padding_idx  # the resize may reuse the module
        resized = self._get_resized_embeddings(source, new_num_tokens, pad_to_multiple_of, mean_resizing)
        resized.padding_idx = padding_idx
        self._resize_vocabularies(resized, resized.num_embeddings - rows, mean_resizing)
        self.tie_weights()
        self.apply_freezing()
        self.vocab_size = self.config.vocab_size  # as PreTrainedModel.resize_token_embeddings keeps it
        return self.get_input_embeddings()

    def _forward_options(self, kwargs: dict) -> tuple[bool, bool, bool, float]:
        """(output_attentions, output_hidden_states, loss_positions_only, smoothing) from ``forward``'s ``**kwargs``
        (:class:`ForwardKwargs`), the output flags defaulting to the config's; any other keyword is refused, as a
        misspelt one would be."""
        unknown = sorted(set(kwargs) - ForwardKwargs.__optional_keys__)
        if unknown:
            raise TypeError(f"{type(self).__name__}.forward() got unexpected keyword argument(s): {', '.join(unknown)}")
        attentions, states = kwargs.get("output_attentions"), kwargs.get("output_hidden_states")
        fused, smoothing = kwargs.get("loss_positions_only", False), float(kwargs.get("smoothing", 0.0))
        if smoothing and not fused:
            raise ValueError("smoothing applies only with loss_positions_only=True (evaluation losses stay plain)")
        return (self.config.output_attentions if attentions is None else attentions,
                self.config.output_hidden_states if states is None else states, fused, smoothing)

    @classmethod
    def _can_set_attn_implementation(cls) -> bool:
        """``set_attn_implementation`` switches: the attention layers read ``config._attn_implementation`` per call."""
        return True

    # {pattern: replacement} from the parameter names of checkpoints saved before today's names, for
    # from_pretrained's key_mapping; empty for a model whose names never changed
    _legacy_key_mapping: dict[str, str] = {}

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        if cls._legacy_key_mapping:
            kwargs.setdefault("key_mapping", cls._legacy_key_mapping)
        loaded = super().from_pretrained(*args, **kwargs)
        model = loaded[0] if isinstance(loaded, tuple) else loaded
        if cls._legacy_key_mapping:
            model._weight_conversions = None  # save_pretrained writes today's names, not the old ones back
        if hasattr(model, "apply_freezing"):
            model.apply_freezing()
        return loaded
