"""Fast CPU translation: the encoder–decoder exported to CTranslate2 (``pip install hf-onelayer[ct2]``).

    hf-onelayer export-ct2 --model release/seq2seq --output_dir runs/ct2 --quantization int8
    hf-onelayer translate --engine ctranslate2 --model runs/ct2 "Zwei Hunde spielen im Schnee."

    from hf_onelayer.ct2 import Translator
    Translator("runs/ct2").translate(["Zwei Hunde spielen im Schnee."], num_beams=5)

Our encoder–decoder is a Transformer that CTranslate2's ``TransformerSpec`` describes as it is (as BART is):
token + learned position embeddings with a LayerNorm (``layernorm_embedding``, no sqrt(d) scaling), post-norm
(or pre-norm) layers, ReLU feed-forward, fused q/k/v. ``export`` fills the spec from our weights; the output
folder holds CTranslate2's ``model.bin``, ``config.json`` and vocabularies, and beside them our tokenizer's files,
the model's ``generation_config.json`` (the default beam width, length penalty and length limit) and
``onelayer_ct2.json`` (where it came from, its quantization, the source length limit).

Translating (:class:`Translator`) imports neither torch nor transformers: the saved ``tokenizers`` files and JSON
are read directly, so ``hf-onelayer translate --engine ctranslate2`` starts in a fraction of a second. Exporting
reads the model with transformers (torch is imported there).
"""

import json
import os
import sys

from .errors import UserError

QUANTIZATIONS = ("int8", "int16", "float32")
INFO_FILE = "onelayer_ct2.json"


def _ctranslate2():
    try:
        import ctranslate2
    except ImportError:
        raise UserError("the CTranslate2 engine needs ctranslate2: pip install 'hf-onelayer[ct2]'") from None
    return ctranslate2


def _linear(spec, module) -> None:
    spec.weight = module.weight.detach()
    if module.bias is not None:
        spec.bias = module.bias.detach()


def _fused(spec, modules) -> None:
    """One linear spec from several (q, k, v stacked on the output axis)."""
    import torch  # export only: translating needs no torch

    spec.weight = torch.cat([m.weight.detach() for m in modules])
    spec.bias = torch.cat([m.bias.detach() for m in modules])


def _norm(spec, module) -> None:
    spec.gamma, spec.beta = module.weight.detach(), module.bias.detach()


def _attention(spec, attention, self_attention: bool) -> None:
    """CTranslate2's attention layout: self-attention fuses q, k, v; cross-attention keeps q and fuses k, v."""
    if self_attention:
        _fused(spec.linear[0], [attention.query, attention.key, attention.value])
    else:
        _linear(spec.linear[0], attention.query)
        _fused(spec.linear[1], [attention.key, attention.value])
    _linear(spec.linear[-1], attention.output)


def _stack(spec, stack, decoder: bool) -> None:
    spec.scale_embeddings = False  # our embeddings are not multiplied by sqrt(d)
    embeddings = spec.embeddings[0] if isinstance(spec.embeddings, list) else spec.embeddings  # the encoder's: a list
    embeddings.weight = stack.embeddings.embed_tokens.weight.detach()
    spec.position_encodings.encodings = stack.embeddings.embed_positions.weight.detach()
    _norm(spec.layernorm_embedding, stack.embeddings.LayerNorm)
    if stack.final_norm is not None:
        _norm(spec.layer_norm, stack.final_norm)
    for layer_spec, layer in zip(spec.layer, stack.layers):
        _attention(layer_spec.self_attention, layer.self_attn, self_attention=True)
        _norm(layer_spec.self_attention.layer_norm, layer.self_attn_norm.norm)
        if decoder:
            _attention(layer_spec.attention, layer.cross_attn, self_attention=False)
            _norm(layer_spec.attention.layer_norm, layer.cross_attn_norm.norm)
        _linear(layer_spec.ffn.linear_0, layer.feed_forward.dense_in)
        _linear(layer_spec.ffn.linear_1, layer.feed_forward.dense_out)
        _norm(layer_spec.ffn.layer_norm, layer.feed_forward_norm.norm)


def model_spec(model, tokenizer):
    """A ``ctranslate2.specs.TransformerSpec`` holding ``model``'s weights and ``tokenizer``'s vocabularies."""
    _ctranslate2()
    from ctranslate2.specs import TransformerSpec, transformer_spec

    config = model.config
    if config.head_dim_qk != config.head_dim_v:
        raise UserError(f"config.json: head_dim_qk {config.head_dim_qk} != head_dim_v {config.head_dim_v}: CTranslate2's "
                        "attention has one head size for queries, keys and values")
    common = {"num_heads": config.num_attention_heads, "pre_norm": config.norm_position == "pre",
              "layernorm_embedding": True, "head_dim": config.head_dim_qk}
    spec = TransformerSpec(transformer_spec.TransformerEncoderSpec(config.encoder_layers, **common),
                           transformer_spec.TransformerDecoderSpec(config.decoder_layers, **common))
    _stack(spec.encoder, model.encoder, decoder=False)
    _stack(spec.decoder, model.decoder, decoder=True)
    _linear(spec.decoder.projection, model.lm_head)
    spec.config.layer_norm_epsilon = config.layer_norm_eps
    spec.register_source_vocabulary(tokenizer.convert_source_ids_to_tokens(list(range(tokenizer.src_vocab_size))))
    spec.register_target_vocabulary(tokenizer.convert_target_ids_to_tokens(list(range(tokenizer.tgt_vocab_size))))
    ids = {"bos_token": config.bos_token_id, "eos_token": config.eos_token_id, "unk_token": tokenizer.unk_token_id,
           "decoder_start_token": config.decoder_start_token_id}
    for name, index in ids.items():
        setattr(spec.config, name, tokenizer.convert_target_ids_to_tokens([index])[0])
    return spec


def export(model_dir: str, output_dir: str, quantization: str = "int8") -> str:
    """Write ``model_dir`` (a saved encoder–decoder or Hub id) as a CTranslate2 model folder ``output_dir``."""
    from .translation import load

    if quantization not in QUANTIZATIONS:
        raise UserError(f"--quantization {quantization!r}: one of {', '.join(QUANTIZATIONS)}")
    _ctranslate2()
    model, tokenizer = load(model_dir)
    if not model.config.is_encoder_decoder:
        raise UserError(f"--model {model_dir}: the course model writes token for token in one forward pass; "
                        "CTranslate2 runs encoder-decoders only (export an onelayer_seq2seq model)")
    spec = model_spec(model, tokenizer)
    spec.validate()
    spec.optimize(quantization=quantization)
    os.makedirs(output_dir, exist_ok=True)
    spec.save(output_dir)
    tokenizer.save_pretrained(output_dir)
    model.generation_config.save_pretrained(output_dir)
    info = {"source_model": model_dir, "quantization": quantization,
            "max_position_embeddings": model.config.max_position_embeddings, "model_type": model.config.model_type}
    with open(os.path.join(output_dir, INFO_FILE), "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=2)
    return output_dir


class Translator:
    """A CTranslate2 model folder written by ``export``: ``translate`` takes and gives the same text as
    ``hf_onelayer.translation.translate`` (the same tokenizer, truncation, decoding and blank lines), read from the
    folder's ``tokenizers`` files and JSON alone (no torch, no transformers; a word-level target, which needs the
    package's detokenizer, is the exception).

    ``threads``: batches translated at once, one thread each (default: the thread count torch uses, or would).
    ``patience``: CTranslate2 ends a beam search once ``num_beams * patience`` hypotheses have finished, while
    ``generate()`` (``early_stopping=False``) goes on while a running beam could still win. With patience 2 the
    float32 export of release/seq2seq writes what ``generate()`` writes for 998 of the 1,000 test_2016_flickr
    sentences at beam 5 (patience 1: 930, and 0.27 BLEU less; reports/benchmarks.md).
    """

    def __init__(self, path: str, threads: int | None = None, compute_type: str = "default", patience: float = 2.0):
        ctranslate2 = _ctranslate2()
        if not os.path.isfile(os.path.join(path, INFO_FILE)):
            raise UserError(f"--model {path}: no {INFO_FILE}, so not a folder written by hf-onelayer export-ct2")
        self.info = _json(path, INFO_FILE)
        self.source, self.target = (_vocabulary(path, f"{side}_tokenizer.json") for side in ("source", "target"))
        config = _json(path, "tokenizer_config.json")
        self.source_lang, self.target_lang = config.get("source_lang", "de"), config.get("target_lang", "en")
        self.bos_token, self.eos_token = config.get("bos_token", "<s>"), config.get("eos_token", "</s>")
        # the generate() defaults that the export saved (beam width, length penalty, length limit)
        self.generation = _json(path, "generation_config.json") if os.path.isfile(
            os.path.join(path, "generation_config.json")) else {}
        self._skipped = {i for i, token in self.target.get_added_tokens_decoder().items() if token.special}
        torch = sys.modules.get("torch")  # loaded by the caller: keep its thread count, which CTranslate2 resets
        torch_threads = torch.get_num_threads() if torch is not None else None
        # one batch per thread: for a model this small, faster than all threads on one batch (benchmarks.md)
        self.translator = ctranslate2.Translator(path, device="cpu", compute_type=compute_type,
                                                 inter_threads=threads or torch_threads or _default_threads(),
                                                 intra_threads=1)
        if torch is not None:
            torch.set_num_threads(torch_threads)
        self.patience = patience
        self.n_truncated = 0

    def encode(self, text: str) -> list[int]:
        """The source ids of ``text`` as the model's tokenizer gives them: ``<s> tokens </s>``, cut to the position
        limit (the last tokens go, ``</s>`` stays)."""
        ids = self.source.encode(text, add_special_tokens=False).ids
        limit = self.info["max_position_embeddings"] - 2
        return [self.source.token_to_id(self.bos_token), *ids[:limit], self.source.token_to_id(self.eos_token)]

    def decode(self, ids: list[int]) -> str:
        """The text of output ids, special tokens skipped, as the model's tokenizer decodes them."""
        tokens = [self.target.id_to_token(i) for i in ids if i not in self._skipped]
        if type(self.target.decoder).__name__ == "Metaspace":
            return self.target.decoder.decode(tokens)
        from .models.tokenization_onelayer import detokenize  # word-level targets: the package's rules

        return detokenize(tokens)

    def translate(self, texts: list[str] | str, num_beams: int | None = None, max_length: int | None = None,
                  batch_size: int = 64, length_penalty: float | None = None) -> list[str] | str:
        """Translations of ``texts`` in order; one string gives one string, a blank one "". Defaults: the saved
        generation config's ``num_beams``, ``max_length`` (decoder positions, ``<s>`` included) and
        ``length_penalty``. ``n_truncated`` counts the sources cut to ``max_position_embeddings``."""
        if isinstance(texts, str):
            return self.translate([texts], num_beams, max_length, batch_size, length_penalty)[0]
        if batch_size < 1:
            raise UserError(f"--batch_size must be >= 1, got {batch_size}")
        rows = [i for i, text in enumerate(texts) if text.strip()]
        limit = self.info["max_position_embeddings"] - 2
        lengths = [len(self.source.encode(texts[i], add_special_tokens=False).ids) for i in rows]
        self.n_truncated = sum(n > limit for n in lengths)
        results = self.translate_ids([self.encode(texts[i]) for i in rows], num_beams, max_length, length_penalty,
                                     batch_size)
        out = [""] * len(texts)
        for i, ids in zip(rows, results):
            out[i] = self.decode(ids)  # as translate() decodes generate()'s ids
        return out

    def translate_ids(self, encoded: list[list[int]], num_beams: int | None = None, max_length: int | None = None,
                      length_penalty: float | None = None, batch_size: int = 64) -> list[list[int]]:
        """The output ids (no ``<s>``, no ``</s>``) of encoded sources; None takes the saved generation config's
        value, as ``generate()`` does (its defaults where that is unset too: beam 1, length penalty 1, length 20)."""
        gen = self.generation
        results = self.translator.translate_batch(
            [[self.source.id_to_token(i) for i in ids] for ids in encoded], max_batch_size=batch_size,
            beam_size=num_beams or gen.get("num_beams") or 1, patience=self.patience,
            length_penalty=next(v for v in (length_penalty, gen.get("length_penalty"), 1.0) if v is not None),
            max_decoding_length=(max_length or gen.get("max_length") or 20) - 1)  # generate()'s max_length counts <s>
        return [[self.target.token_to_id(t) for t in r.hypotheses[0]] for r in results]


def _json(folder: str, name: str) -> dict:
    path = os.path.join(folder, name)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: unreadable ({' '.join(str(error).split())[:160]})") from None


def _vocabulary(folder: str, name: str):
    from tokenizers import Tokenizer

    path = os.path.join(folder, name)
    try:
        return Tokenizer.from_file(path)
    except Exception as error:  # tokenizers raises a bare Exception on unreadable files
        why = " ".join(str(error).split())[:160]
        raise UserError(f"{path}: not a readable `tokenizers` JSON file ({why})") from None


def _default_threads() -> int:
    """torch's default intra-op thread count without importing torch: $OMP_NUM_THREADS, else the usable cores."""
    return int(os.environ.get("OMP_NUM_THREADS") or 0) or len(os.sched_getaffinity(0))
