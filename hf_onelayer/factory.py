"""``make_model``: the one place a new translator is built."""

from collections import Counter

from .embeddings.init import plan_embeddings, prepare_init, token_counts
from .models.configuration_onelayer import OneLayerTranslatorConfig
from .models.configuration_seq2seq import OneLayerSeq2SeqConfig
from .models.modeling_onelayer import OneLayerTranslatorModel
from .models.modeling_seq2seq import OneLayerSeq2SeqForConditionalGeneration

# model_type -> config class, and -> model class
CONFIGS = {config.model_type: config for config in (OneLayerTranslatorConfig, OneLayerSeq2SeqConfig)}
MODELS = {"onelayer_translator": OneLayerTranslatorModel, "onelayer_seq2seq": OneLayerSeq2SeqForConditionalGeneration}
SEQ2SEQ_NUM_BEAMS = 5  # the encoder–decoder's default generation: beam search of this width


def make_model(tokenizer, model_args, train_pairs=None, seed: int = 0):
    """A new model of ``model_args.model_type`` for ``tokenizer``'s vocabularies, with the architecture and
    embedding initialisers of ``model_args`` (a ``ModelArguments``). Neither input is changed.

    ``train_pairs`` (rows with ``de`` and ``en``) gives the training-token counts that the embedding
    coverage is measured on; ``seed`` draws the rows that pretrained vectors do not cover.
    """
    special = dict(pad_token_id=tokenizer.pad_token_id, unk_token_id=tokenizer.unk_token_id,
                   bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                   attn_implementation=model_args.attn_implementation, **model_args.architecture())
    if model_args.model_type == "onelayer_seq2seq":
        if model_args.src_embeddings or model_args.tgt_embeddings:
            raise ValueError("--src_embeddings/--tgt_embeddings: pretrained initialisers serve the course model only "
                             "(--model_type onelayer_translator) so far")
        model = OneLayerSeq2SeqForConditionalGeneration(OneLayerSeq2SeqConfig(
            vocab_size=tokenizer.tgt_vocab_size, src_vocab_size=None if tokenizer.is_joint else tokenizer.src_vocab_size,
            decoder_start_token_id=tokenizer.bos_token_id, **special))
        model.generation_config.num_beams = SEQ2SEQ_NUM_BEAMS
        model.generation_config.max_length = model.config.max_position_embeddings
        return model
    fields = dict(src_vocab_size=tokenizer.src_vocab_size, tgt_vocab_size=tokenizer.tgt_vocab_size, **special)
    inits = {}
    for side, spec, column, vocab in (("src", model_args.src_embeddings, "de", tokenizer.source),
                                      ("tgt", model_args.tgt_embeddings, "en", tokenizer.target)):
        if spec:
            counts = token_counts(vocab, train_pairs[column]) if train_pairs is not None else Counter()
            inits[side] = prepare_init(spec, vocab, counts, model_args.uncovered_init, seed, model_args.allow_pickle)
    plan = plan_embeddings(OneLayerTranslatorConfig(**fields), inits.get("src"), inits.get("tgt"),
                           model_args.embedding_projection, model_args.bert_embedding,
                           model_args.freeze_src_embeddings, model_args.freeze_tgt_embeddings,
                           model_args.rescale_embeddings)
    model = OneLayerTranslatorModel(OneLayerTranslatorConfig(**{**fields, **plan.config_fields}))
    plan.load_into(model)
    return model
