"""``make_model``: the one place a new translator is built."""

from collections import Counter

from .embeddings.init import plan_embeddings, prepare_init, token_counts
from .kinds import KINDS


def make_model(tokenizer, model_args, train_pairs=None, seed: int = 0):
    """A new model of ``model_args.model_type`` for ``tokenizer``'s vocabularies, with the architecture and
    embedding initialisers of ``model_args`` (a ``ModelArguments``). Neither input is changed.

    ``train_pairs`` (columns ``tokenizer.source_lang`` and ``target_lang``) gives the training-token counts that the embedding
    coverage is measured on; ``seed`` draws the rows that pretrained vectors do not cover.
    """
    kind = KINDS[model_args.model_type]
    fields = dict(special_token_ids(tokenizer), attn_implementation=model_args.attn_implementation,
                  **model_args.architecture(), **kind.vocab_fields(tokenizer))
    kind.check_init(model_args, tokenizer, fields)
    inits = {}
    for side, column, vocab in (("src", tokenizer.source_lang, tokenizer.source),
                                ("tgt", tokenizer.target_lang, tokenizer.target)):
        spec = model_args.embedding_specs.get(side)
        if spec:
            counts = token_counts(vocab, train_pairs[column]) if train_pairs is not None else Counter()
            inits[side] = prepare_init(spec, vocab, counts, model_args.uncovered_init, seed, model_args.allow_pickle)
    plan = plan_embeddings(kind.config_class(**fields), inits.get("src"), inits.get("tgt"),
                           model_args.embedding_projection, model_args.bert_embedding,
                           model_args.freeze_src_embeddings, model_args.freeze_tgt_embeddings,
                           model_args.rescale_embeddings)
    kind.check_plan(plan, fields)
    model = kind.model_class(kind.config_class(**{**fields, **plan.config_fields}))
    plan.load_into(model)
    kind.finish(model)
    return model


def special_token_ids(tokenizer) -> dict[str, int]:
    """The config's special-token fields: the tokenizer's (target) ids, and ``src_pad_token_id`` where the source's
    ``<pad>`` has another id (a pad token added after training, on vocabularies of different sizes)."""
    ids = {name: getattr(tokenizer, name) for name in ("pad_token_id", "unk_token_id", "bos_token_id", "eos_token_id")}
    if tokenizer.src_pad_token_id != ids["pad_token_id"]:
        ids["src_pad_token_id"] = tokenizer.src_pad_token_id
    return ids
