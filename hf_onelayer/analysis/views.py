r"""One sentence's attention, as the explorer (``hf-onelayer explore``) and bertviz show it.

Built on ``trained.py``: ``cross_attention`` reads the encoder–decoder's maps, ``scaled_key`` and
``ablated_heads`` are Problem 1's interventions. The *source attention* is the attention that reads the
source: the encoder–decoder's cross-attention, the course model's self-attention. Its heads are the ones
that the key-scaling slider and the ablation boxes act on.

Key scaling (Problem 1B ii): the key of source position j is multiplied by s, and each head's shift is
the mean over query rows t of :math:`\mathrm{KL}(\alpha_{t,\cdot} \,\|\, \alpha^{(s)}_{t,\cdot})` in nats.
"""

import torch

from ..kinds import kind_of
from ..translation import translate
from .trained import ablated_heads, cross_attention, scaled_key

MAP_NAMES = {"cross": "cross-attention (decoder → source)", "encoder": "encoder self-attention",
             "decoder": "decoder self-attention", "self": "self-attention (course model)"}


def _encode(model, tokenizer, sentence: str) -> dict:
    return tokenizer([sentence], truncation=True, max_length=model.config.max_position_embeddings, return_tensors="pt")


def source_kind(model) -> str:
    """The source attention's kind: "cross" for the encoder–decoder, "self" for the course model."""
    return kind_of(model).source_attention


def source_heads(model) -> list[tuple[int, int]]:
    """(layer, head) of every head of the source attention."""
    modules = kind_of(model).attention_modules(model, source_kind(model))
    return [(layer, head) for layer, module in enumerate(modules) for head in range(module.num_heads)]


@torch.no_grad()
def sentence_attention(model, tokenizer, sentence: str, num_beams: int | None = None) -> dict:
    """The translation of ``sentence`` and every attention map over it.

    Returns ``translation``, ``source`` (tokens), ``output_ids`` (what the model wrote), ``source_length``
    (tokens before any cut), and ``maps``: name -> (weights (L, nh, rows, cols), row labels, column labels).
    The encoder–decoder has "cross" (rows: the tokens it wrote), "encoder" and "decoder"; the course model
    has "self" (rows: source token → the English token predicted there). Sources longer than
    ``max_position_embeddings`` are cut to it.
    """
    model = model.eval()
    source_length = len(tokenizer.tokenize(sentence)) + tokenizer.num_special_tokens_to_add()
    if source_kind(model) == "cross":
        seen = cross_attention(model, tokenizer, sentence, num_beams)
        inputs = tokenizer.convert_target_ids_to_tokens(seen["decoder_input_ids"].tolist())
        source, target = seen["source"], seen["target"]
        maps = {"cross": (seen["weights"], target, source), "encoder": (seen["encoder_weights"], source, source),
                "decoder": (seen["decoder_weights"], target, inputs)}
        return {"translation": seen["translation"], "source": source, "output_ids": seen["output_ids"],
                "source_length": source_length, "maps": maps}
    enc = _encode(model, tokenizer, sentence)
    out = model(**enc, output_attentions=True)
    predicted = out.logits[0].argmax(-1)  # (S,): token t predicted at position t
    source = tokenizer.convert_source_ids_to_tokens(enc["input_ids"][0].tolist())
    rows = [f"{s} → {p}" for s, p in zip(source, tokenizer.convert_target_ids_to_tokens(predicted.tolist()))]
    translation = tokenizer.decode(model.translate_ids(enc["input_ids"], enc["attention_mask"])[0],
                                   skip_special_tokens=True)
    return {"translation": translation, "source": source, "output_ids": predicted, "source_length": source_length,
            "maps": {"self": (torch.stack(out.attentions)[:, 0], rows, source)}}


def word_spans(tokens: list[str]) -> list[tuple[str, list[int]]]:
    """Tokens grouped into words: in a BPE vocabulary (``▁`` marks a word's start) a piece without ``▁`` continues
    the word before, in a WordPiece one a ``##`` piece does; special tokens and punctuation stand alone."""
    metaspace = any(token.startswith("▁") for token in tokens)
    words = []
    for i, token in enumerate(tokens):
        alone = (token.startswith("<") and token.endswith(">")) or not any(c.isalnum() for c in token)
        follows = words and not (words[-1][0].startswith("<") and words[-1][0].endswith(">"))
        continues = not alone and follows and (not token.startswith("▁") if metaspace else token.startswith("##"))
        if continues:
            words[-1] = (words[-1][0] + token.removeprefix("##"), words[-1][1] + [i])
        else:
            words.append((token.lstrip("▁"), [i]))
    return words


def word_alignment(weights: torch.Tensor, rows: list[str], cols: list[str]) -> list[tuple[str, str, float]]:
    """The argmax alignment of a (rows, cols) attention map as word pairs (row word, column word, weight): each
    row word's rows averaged, each column word's columns summed; special row tokens (``</s>``) are left out."""
    cols_words = word_spans(cols)
    by_word = torch.stack([weights[:, idx].sum(-1) for _, idx in cols_words], -1)  # (rows, column words)
    pairs = []
    for word, idx in word_spans(rows):
        if word.startswith("<") and word.endswith(">"):
            continue
        mean = by_word[idx].mean(0)
        best = int(mean.argmax())
        pairs.append((word, cols_words[best][0], float(mean[best])))
    return pairs


def _source_attention(model, enc, output_ids: torch.Tensor):
    """(L, nh, rows, S) source-attention weights and the log-probability of ``output_ids``, teacher-forced on them
    (the encoder–decoder's tokens after ``<s>``, the course model's token at every source position)."""
    scored = kind_of(model).score(model, enc, output_ids[None], output_attentions=True)
    log_prob = torch.log_softmax(scored.logits[0].double(), -1).gather(-1, scored.ids[0][:, None]).sum()
    return torch.stack(scored.source_attentions)[:, 0], float(log_prob)


@torch.no_grad()
def key_scaling_effect(model, tokenizer, sentence: str, output_ids: torch.Tensor, position: int, scale: float,
                       num_beams: int | None = None) -> dict:
    """The key of source position ``position`` times ``scale`` in the source attention: ``kl`` (L, nh), each head's
    mean KL(before || after) over query rows, teacher-forced on ``output_ids``; and the ``translation`` written so."""
    enc = _encode(model, tokenizer, sentence)
    before, _ = _source_attention(model, enc, output_ids)
    with scaled_key(model, position, scale, kind=source_kind(model)):
        after, _ = _source_attention(model, enc, output_ids)
        translation = translate(model, tokenizer, sentence, num_beams=num_beams)
    before, after = before.double(), after.double()
    kl = (before * (before.clamp_min(1e-30).log() - after.clamp_min(1e-30).log())).sum(-1)  # (L, nh, rows)
    return {"kl": kl.mean(-1).clamp_min(0), "translation": translation}


@torch.no_grad()
def ablation_effect(model, tokenizer, sentence: str, output_ids: torch.Tensor, heads: list[tuple[int, int]],
                    num_beams: int | None = None) -> dict:
    """Source-attention ``heads`` (layer, head) switched off: the ``translation`` written so, and the model's
    log-probability of its earlier output ``output_ids`` before and after (``log_prob``, ``ablated_log_prob``)."""
    enc = _encode(model, tokenizer, sentence)
    _, log_prob = _source_attention(model, enc, output_ids)
    with ablated_heads(model, heads, kind=source_kind(model)):
        _, ablated = _source_attention(model, enc, output_ids)
        translation = translate(model, tokenizer, sentence, num_beams=num_beams)
    return {"translation": translation, "log_prob": log_prob, "ablated_log_prob": ablated}


@torch.no_grad()
def bertviz_inputs(model, tokenizer, src: str, tgt: str | None = None) -> dict:
    """Keyword arguments of ``bertviz.head_view`` / ``model_view`` for one sentence.

    The course model: ``attention`` (its one layer, (1, nh, S, S)) and ``tokens``. The encoder–decoder:
    ``encoder_attention``, ``decoder_attention``, ``cross_attention`` (per layer, (1, nh, q, k)) with
    ``encoder_tokens`` and ``decoder_tokens`` (the decoder's inputs: ``<s>`` and the output before its last
    token), teacher-forced on ``tgt`` or, without it, on the model's own translation. Tokens are the
    vocabulary's pieces, so word boundaries show (``▁`` starts a BPE word, ``##`` continues a WordPiece one).
    """
    model = model.eval()
    if source_kind(model) == "self":
        if tgt is not None:
            raise ValueError("the course model's attention depends only on the source: call bertviz_inputs without tgt")
        enc = _encode(model, tokenizer, src)
        out = model(**enc, output_attentions=True)
        return {"attention": out.attentions, "tokens": tokenizer.convert_source_ids_to_tokens(enc["input_ids"][0].tolist())}
    seen = cross_attention(model, tokenizer, src, target=tgt)
    return {
        "encoder_attention": tuple(w[None] for w in seen["encoder_weights"]),
        "decoder_attention": tuple(w[None] for w in seen["decoder_weights"]),
        "cross_attention": tuple(w[None] for w in seen["weights"]),
        "encoder_tokens": seen["source"],
        "decoder_tokens": tokenizer.convert_target_ids_to_tokens(seen["decoder_input_ids"].tolist()),
    }
