"""The model kinds: one ``ModelKind`` record per model, looked up by its ``model_type``.

Every "which model?" question of the package is answered here: the config, model and Auto classes, the vocabulary
fields, the Trainer with its collator and metrics, the checkpoint-selection metric, the default beam width, the
flags only it uses, and the model card's text. A new kind is a config and a model in ``models/`` plus one record.
"""

import copy
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM, AutoTokenizer

from .errors import UserError
from .models.configuration_onelayer import OneLayerTranslatorConfig
from .models.configuration_seq2seq import OneLayerSeq2SeqConfig
from .models.modeling_onelayer import OneLayerTranslatorModel
from .models.modeling_seq2seq import OneLayerSeq2SeqForConditionalGeneration


class Scored(NamedTuple):
    """One forward pass that scores an output (``ModelKind.score``): per row of output, its logits (B, R, V), the
    token id it scores (B, R), whether it is real (B, R), and the source attention of each layer (B, nh, R, S)."""

    logits: torch.Tensor
    ids: torch.Tensor
    mask: torch.Tensor
    source_attentions: tuple[torch.Tensor, ...] | None


@dataclass(frozen=True)
class ModelKind:
    """What the package knows of one model kind; the methods are what differs between kinds."""

    config_class: type
    model_class: type
    auto_class: type  # the Auto class its saved folders load with
    label: str  # the kind in words, for people
    release: str  # its released folder, relative to a source checkout
    selection: str  # the val metric that picks the best checkpoint and ranks search trials
    greater_is_better: bool
    num_beams: int | None  # generate()'s default beam width; None: no search (a greedy read-out)
    source_attention: str  # the attention over the source that the analysis studies: "self" or "cross"
    flags: tuple[str, ...] = ()  # training flags that this kind alone uses, besides its config's architecture_fields
    card: dict = field(default_factory=dict, compare=False)  # the model card's text (hub/model_card.py fills it in)

    @property
    def name(self) -> str:
        """The kind's one name: its config's ``model_type`` (``--model_type``, config.json, cards)."""
        return self.config_class.model_type

    @property
    def is_encoder_decoder(self) -> bool:
        return self.config_class.is_encoder_decoder

    @property
    def target_special_tokens_pattern(self) -> str:
        """How its tokenizer frames a target, so that ``tok(src, text_target=tgt)`` gives the labels it trains on as
        they are: the encoder–decoder's end with ``</s>`` and have no ``<s>`` (Marian, T5: the decoder starts from
        ``decoder_start_token_id``); the course model's start with ``<s>`` at position 0, beside the source's."""
        return "eos" if self.is_encoder_decoder else "bos_eos"

    def vocab_fields(self, tokenizer) -> dict:
        """The config's vocabulary fields for ``tokenizer``."""
        raise NotImplementedError

    def vocab_sizes(self, config) -> dict:
        """The tokenizer's ``src_vocab_size`` and ``tgt_vocab_size`` that ``config`` needs."""
        raise NotImplementedError

    def search(self, num_beams: int | None = None, strict: bool = True, **generate_kwargs) -> dict:
        """The ``generate`` arguments given (None: the model's generation config's). The course model reads its
        translation out greedily: it takes ``num_beams=1`` alone and refuses the rest in one line (the commands'
        flags), or, not ``strict`` (code that serves both kinds, such as the explorer), ignores them."""
        given = {k: v for k, v in {"num_beams": num_beams, **generate_kwargs}.items() if v is not None}
        if self.is_encoder_decoder:
            return given
        if num_beams == 1:  # greedy: what the course model does anyway
            del given["num_beams"]
        if given and strict:
            flag = next(iter(given))
            raise UserError(f"--{flag} {given[flag]}: applies to the encoder-decoder's search; the {self.label} reads "
                            "its translation out greedily")
        return {}

    def write(self, model, enc, **search):
        """The output ids for one encoded batch ``enc``: its translation, with the ``search`` arguments given."""
        raise NotImplementedError

    def score(self, model, enc, output_ids, output_mask=None, output_attentions: bool = False) -> Scored:
        """The forward pass that scores ``output_ids`` (B, T) for the source batch ``enc``: what the model wrote,
        or a reference, as labels (``tok(text_target=...)``'s ids; ``output_mask`` (B, T): its real tokens)."""
        raise NotImplementedError

    def check_init(self, model_args, tokenizer, fields: dict) -> None:
        """Refuse embedding initialiser flags that the kind cannot take, naming the flag (before any vectors are read)."""

    def check_plan(self, plan, fields: dict) -> None:
        """Refuse an embedding plan (``embeddings.init.plan_embeddings``'s) that the kind cannot build."""

    def metrics_class(self):
        """The ``compute_metrics`` class of its evaluation (``names``: what it reports)."""
        raise NotImplementedError

    def build_trainer(self, config, model, tokenizer, args, pad_to_multiple_of=None, fixed_length=None, mixin=None,
                      **common):
        """Its Trainer (with ``mixin`` before it, if given) and collators; ``common``: Trainer's arguments."""
        raise NotImplementedError

    def compute_metrics(self, tokenizer, config, split):
        """``compute_metrics`` against the references of ``split`` (a tokenized Dataset with the raw targets)."""
        raise NotImplementedError

    def final_searches(self, model) -> list[tuple[str, dict]]:
        """(metric-name suffix, evaluate() arguments) of the evaluations at the end of training."""
        return [("", {})]

    def finish(self, model) -> None:
        """Settings of a newly built model that its config does not hold."""

    def attention_modules(self, model, which: str) -> list:
        """The attention modules (``modeling_layers.Attention``) of ``which`` attention, "self" or "cross", one
        per layer: what the analysis hooks (scaled keys, ablated heads) and reads."""
        raise NotImplementedError


class CourseKind(ModelKind):
    """The course model: one self-attention block, target token t predicted at source position t."""

    def vocab_fields(self, tokenizer) -> dict:
        return {"src_vocab_size": tokenizer.src_vocab_size, "tgt_vocab_size": tokenizer.tgt_vocab_size}

    def vocab_sizes(self, config) -> dict:
        return {"src_vocab_size": config.src_vocab_size, "tgt_vocab_size": config.tgt_vocab_size}

    def write(self, model, enc, **search):
        return model.translate_ids(enc["input_ids"], enc["attention_mask"])  # token t at position t, greedily

    def score(self, model, enc, output_ids, output_mask=None, output_attentions: bool = False) -> Scored:
        # one pass over the source: row t scores the token at position t (a reference plays no part)
        out = model(**enc, output_attentions=output_attentions)
        mask = enc.get("attention_mask")
        return Scored(out.logits, output_ids, torch.ones_like(output_ids) if mask is None else mask, out.attentions)

    def metrics_class(self):
        from .metrics import TranslationMetrics

        return TranslationMetrics

    def build_trainer(self, config, model, tokenizer, args, pad_to_multiple_of=None, fixed_length=None,
                      mixin=None, **common):
        from .data import TranslationCollator
        from .metrics import preprocess_logits_for_metrics
        from .trainer import TranslationTrainer

        collate = dict(pad_token_id=config.source_pad_token_id, config=config, pad_to_multiple_of=pad_to_multiple_of,
                       fixed_length=fixed_length)
        return with_mixin(TranslationTrainer, mixin)(
            model=model, args=args, processing_class=tokenizer, data_collator=TranslationCollator(**collate),
            eval_data_collator=TranslationCollator(**collate, decoding_positions=True),
            preprocess_logits_for_metrics=preprocess_logits_for_metrics, **common)

    def compute_metrics(self, tokenizer, config, split):
        return self.metrics_class()(tokenizer, config, split[tokenizer.target_lang],
                                    [len(ids) for ids in split["input_ids"]])

    def attention_modules(self, model, which: str) -> list:
        return [model.block.self_attn]  # its one self-attention, whichever is asked


class Seq2SeqKind(ModelKind):
    """The encoder–decoder: autoregressive, with generate(), beam search and cross-attention."""

    def vocab_fields(self, tokenizer) -> dict:
        return {"vocab_size": tokenizer.tgt_vocab_size, "decoder_start_token_id": tokenizer.bos_token_id,
                "src_vocab_size": None if tokenizer.is_joint else tokenizer.src_vocab_size}

    def vocab_sizes(self, config) -> dict:
        return {"src_vocab_size": config.src_vocab_size or config.vocab_size, "tgt_vocab_size": config.vocab_size}

    def write(self, model, enc, **search):
        return model.generate(**enc, **search)  # what is not given: its generation config's

    def score(self, model, enc, output_ids, output_mask=None, output_attentions: bool = False) -> Scored:
        # teacher forcing: the decoder reads <s> and the output but its last token, each row scores the next token
        decoder_input_ids = model.prepare_decoder_input_ids_from_labels(output_ids)
        out = model(**enc, decoder_input_ids=decoder_input_ids, output_attentions=output_attentions, use_cache=False)
        mask = torch.ones_like(output_ids) if output_mask is None else output_mask
        return Scored(out.logits, output_ids, mask, out.cross_attentions)

    def check_init(self, model_args, tokenizer, fields: dict) -> None:
        if model_args.bert_embedding:
            raise UserError("--bert_embedding copies BERT's positions into the course model only")
        shared = tokenizer.is_joint and fields.get("tie_word_embeddings", True)
        if shared and model_args.src_embeddings and model_args.tgt_embeddings:
            raise UserError("--src_embeddings and --tgt_embeddings: a joint vocabulary with tied embeddings has one "
                            "table for encoder, decoder and head; pass one of them")

    def check_plan(self, plan, fields: dict) -> None:
        if {"src_embedding_dim", "tgt_embedding_dim"} & set(plan.config_fields):
            raise UserError(f"the encoder-decoder takes vectors of hidden_size={fields.get('hidden_size', 256)} "
                            "only: pass --embedding_projection pca (wider vectors) or --hidden_size to match them")

    def metrics_class(self):
        from .metrics import GeneratedTranslationMetrics

        return GeneratedTranslationMetrics

    def build_trainer(self, config, model, tokenizer, args, pad_to_multiple_of=None, fixed_length=None,
                      mixin=None, **common):
        from transformers import DataCollatorForSeq2Seq

        from .trainer import Seq2SeqTranslationTrainer

        # its metrics score what generate() writes: without predict_with_generate (the flag's default is false)
        # evaluation handed them logits and the run died at its end; set on a copy, the caller's stay as given
        if not args.predict_with_generate:
            args = copy.copy(args)
            args.predict_with_generate = True
        collator = DataCollatorForSeq2Seq(tokenizer, model=model, pad_to_multiple_of=pad_to_multiple_of)
        return with_mixin(Seq2SeqTranslationTrainer, mixin)(model=model, args=args, processing_class=tokenizer,
                                                            data_collator=collator, **common)

    def compute_metrics(self, tokenizer, config, split):
        return self.metrics_class()(tokenizer, split[tokenizer.target_lang])

    def final_searches(self, model) -> list[tuple[str, dict]]:
        # scored greedy (suffix _greedy) and with its beam search (no suffix)
        return [("_greedy", {"num_beams": 1}), ("", {"num_beams": model.generation_config.num_beams})]

    def finish(self, model) -> None:
        model.generation_config.num_beams = self.num_beams
        model.generation_config.max_length = model.config.max_position_embeddings

    def attention_modules(self, model, which: str) -> list:
        if which == "cross":
            return [layer.cross_attn for layer in model.decoder.layers]
        return [layer.self_attn for layer in list(model.encoder.layers) + list(model.decoder.layers)]


def with_mixin(base: type, mixin: type | None) -> type:
    """``base``, or a subclass of ``mixin`` and ``base`` (in that order)."""
    return base if mixin is None else type(f"{mixin.__name__}{base.__name__}", (mixin, base), {})


COURSE = CourseKind(
    OneLayerTranslatorConfig, OneLayerTranslatorModel, AutoModel, label="course model", release="release/course",
    selection="perplexity", greater_is_better=False, num_beams=None, source_attention="self",
    flags=("fixed_length", "bert_embedding"),
    card=dict(
        title="One-layer Transformer translator",
        description=(
            "A one-layer Transformer (token + learned position embedding{emb_ln}, one {heads}-head self-attention "
            "block with a key padding mask, ReLU feed-forward, {norm}-norm, linear head) that predicts {tgt} token t "
            "at position t of the {src} input: a token-for-token, non-autoregressive translator made with hf-onelayer "
            "for studying attention and pretrained embeddings."),
        use=("from transformers import AutoModel, AutoTokenizer\n\n"
             "model = AutoModel.from_pretrained(\"{repo}\", trust_remote_code=True).eval()\n"
             "tok = AutoTokenizer.from_pretrained(\"{repo}\", trust_remote_code=True)\n"
             "enc = tok([\"{example}\"], return_tensors=\"pt\")\n"
             "ids = model.translate_ids(enc[\"input_ids\"], enc[\"attention_mask\"])\n"
             "print(tok.batch_decode(ids, skip_special_tokens=True))\n\n"
             "from transformers import pipeline  # the same, as the task \"onelayer-translation\"\n"
             "print(pipeline(model=\"{repo}\", trust_remote_code=True)(\"{example}\"))"),
        limitations=(
            "The model emits one {tgt} token per input position and cannot reorder words, so it fails where "
            "{tgt} word order differs from {src}{reorderings}, and it does not know when a sentence needs more or "
            "fewer words than the source."),
        decoding="the greedy translations", last_column="token accuracy", best_metric="perplexity",
        example_output="greedy output"),
)

SEQ2SEQ = Seq2SeqKind(
    OneLayerSeq2SeqConfig, OneLayerSeq2SeqForConditionalGeneration, AutoModelForSeq2SeqLM, label="encoder–decoder",
    release="release/seq2seq", selection="bleu", greater_is_better=True, num_beams=5, source_attention="cross",
    flags=("predict_with_generate", "generation_num_beams", "generation_max_length", "generation_config",
           "sortish_sampler"),
    card=dict(
        title="One-layer encoder–decoder translator",
        description=(
            "A Transformer with one encoder layer (self-attention, feed-forward) and one decoder layer (masked "
            "self-attention, cross-attention, feed-forward), each sub-layer with add & norm ({norm}-norm), {heads} "
            "heads, token + learned position embeddings and a linear head: an autoregressive translator made with "
            "hf-onelayer for studying attention, cross-attention (a soft alignment) included."),
        use=("from transformers import AutoModelForSeq2SeqLM, AutoTokenizer\n\n"
             "model = AutoModelForSeq2SeqLM.from_pretrained(\"{repo}\", trust_remote_code=True).eval()\n"
             "tok = AutoTokenizer.from_pretrained(\"{repo}\", trust_remote_code=True)\n"
             "enc = tok([\"{example}\"], return_tensors=\"pt\")\n"
             "print(tok.batch_decode(model.generate(**enc, num_beams=5), skip_special_tokens=True))\n\n"
             "from transformers import pipeline  # the same, as the task \"onelayer-translation\"\n"
             "print(pipeline(model=\"{repo}\", trust_remote_code=True)(\"{example}\"))"),
        limitations=(
            "One layer on each side and 29,000 training sentences of image captions: it knows the vocabulary of "
            "Flickr captions and little else."),
        decoding="beam-search translations (greedy in the last column)", last_column="greedy BLEU",
        best_metric="BLEU", example_output="beam-5 output"),
)

KINDS: dict[str, ModelKind] = {}


def register(kind: ModelKind) -> ModelKind:
    """Make ``kind`` known to the package (``KINDS``: flags, training, loading) and to transformers' Auto classes,
    with its code marked to travel in every saved folder (``trust_remote_code=True``)."""
    from .models.tokenization_onelayer import OneLayerTranslatorTokenizer

    KINDS[kind.name] = kind
    AutoConfig.register(kind.name, kind.config_class, exist_ok=True)
    kind.auto_class.register(kind.config_class, kind.model_class, exist_ok=True)
    AutoTokenizer.register(kind.config_class, tokenizer_class=OneLayerTranslatorTokenizer, exist_ok=True)
    kind.config_class.register_for_auto_class()
    kind.model_class.register_for_auto_class(kind.auto_class.__name__)
    return kind


for _kind in (COURSE, SEQ2SEQ):
    register(_kind)


def kind_of(model_or_config) -> ModelKind:
    """The kind of a model, a config, a config.json dict or a ``model_type``; ``UserError`` for another model."""
    if isinstance(model_or_config, str):
        model_type = model_or_config
    elif isinstance(model_or_config, dict):
        model_type = model_or_config.get("model_type")
    else:
        model_type = getattr(getattr(model_or_config, "config", model_or_config), "model_type", None)
    if model_type not in KINDS:
        raise UserError(f"a {model_type!r} model; hf-onelayer takes {' or '.join(KINDS)} models")
    return KINDS[model_type]
