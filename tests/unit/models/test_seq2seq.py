"""The encoder–decoder on tiny configs: a plain re-implementation, generate() with and without its cache,
beam search, batching, padding, save/load, remote code with generate, and a copy task it must learn."""

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, batch, tiny_seq2seq, tiny_seq2seq_config

from hf_onelayer import OneLayerSeq2SeqForConditionalGeneration


def reference_logits(model, ids, mask, decoder_ids):
    """The model's teacher-forced logits, re-computed head by head with plain tensor operations (post-norm)."""
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    c = model.config

    def embed(prefix, tokens):
        pos = sd[f"{prefix}.embeddings.embed_positions.weight"][: tokens.shape[1]]
        x = sd[f"{prefix}.embeddings.embed_tokens.weight"][tokens] + pos
        return F.layer_norm(x, (c.hidden_size,), sd[f"{prefix}.embeddings.LayerNorm.weight"],
                            sd[f"{prefix}.embeddings.LayerNorm.bias"], c.layer_norm_eps)

    def attention(prefix, q_in, kv_in, allowed):  # allowed: (B, Tq, Tk) bool
        heads = []
        for h in range(c.num_attention_heads):
            qs, vs = slice(h * c.head_dim_qk, (h + 1) * c.head_dim_qk), slice(h * c.head_dim_v, (h + 1) * c.head_dim_v)
            q = q_in @ sd[f"{prefix}.query.weight"][qs].T + sd[f"{prefix}.query.bias"][qs]
            k = kv_in @ sd[f"{prefix}.key.weight"][qs].T + sd[f"{prefix}.key.bias"][qs]
            v = kv_in @ sd[f"{prefix}.value.weight"][vs].T + sd[f"{prefix}.value.bias"][vs]
            scores = (q @ k.transpose(1, 2)) / math.sqrt(c.head_dim_qk)
            heads.append(torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1) @ v)
        return torch.cat(heads, dim=-1) @ sd[f"{prefix}.output.weight"].T + sd[f"{prefix}.output.bias"]

    def add_norm(prefix, x, out):
        return F.layer_norm(x + out, (c.hidden_size,), sd[f"{prefix}.norm.weight"], sd[f"{prefix}.norm.bias"],
                            c.layer_norm_eps)

    def ffn(prefix, x):
        hidden = torch.relu(x @ sd[f"{prefix}.dense_in.weight"].T + sd[f"{prefix}.dense_in.bias"])
        return hidden @ sd[f"{prefix}.dense_out.weight"].T + sd[f"{prefix}.dense_out.bias"]

    source = mask.bool()[:, None, :]  # (B, 1, S)
    x = embed("encoder", ids)
    x = add_norm("encoder.layers.0.self_attn_norm", x,
                 attention("encoder.layers.0.self_attn", x, x, source.expand(-1, ids.shape[1], -1)))
    memory = add_norm("encoder.layers.0.feed_forward_norm", x, ffn("encoder.layers.0.feed_forward", x))
    T = decoder_ids.shape[1]
    y = embed("decoder", decoder_ids)
    causal = torch.ones(T, T, dtype=torch.bool).tril()[None].expand(ids.shape[0], -1, -1)
    y = add_norm("decoder.layers.0.self_attn_norm", y, attention("decoder.layers.0.self_attn", y, y, causal))
    y = add_norm("decoder.layers.0.cross_attn_norm", y,
                 attention("decoder.layers.0.cross_attn", y, memory, source.expand(-1, T, -1)))
    y = add_norm("decoder.layers.0.feed_forward_norm", y, ffn("decoder.layers.0.feed_forward", y))
    return y @ sd["lm_head.weight"].T


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_teacher_forced_logits_equal_a_plain_per_head_reimplementation(attn):
    model = tiny_seq2seq(attn_implementation=attn)
    ids, mask, labels = batch()
    decoder_ids = model.prepare_decoder_input_ids_from_labels(labels)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
    torch.testing.assert_close(out.logits, reference_logits(model, ids, mask, decoder_ids), atol=1e-5, rtol=1e-5)
    expected = F.cross_entropy(out.logits.flatten(0, 1), labels.flatten())
    torch.testing.assert_close(out.loss, expected)


def test_output_fields_and_attention_shapes():
    model = tiny_seq2seq(encoder_layers=2, decoder_layers=2)
    ids, mask, labels = batch()
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, labels=labels, output_attentions=True, output_hidden_states=True)
    B, S, T = ids.shape[0], ids.shape[1], labels.shape[1]
    assert out.logits.shape == (B, T, 40) and out.encoder_last_hidden_state.shape == (B, S, 32)
    assert [a.shape for a in out.encoder_attentions] == [(B, 2, S, S)] * 2
    assert [a.shape for a in out.decoder_attentions] == [(B, 2, T, T)] * 2
    assert [a.shape for a in out.cross_attentions] == [(B, 2, T, S)] * 2
    assert len(out.decoder_hidden_states) == 3 and len(out.encoder_hidden_states) == 3
    assert torch.all(out.cross_attentions[0][1, :, :, 5:] == 0)  # padded source keys get no weight
    assert torch.all(out.decoder_attentions[0].triu(1) == 0)  # no look at later target tokens


def test_eager_and_sdpa_agree():
    ids, mask, labels = batch()
    eager, sdpa = tiny_seq2seq(attn_implementation="eager"), tiny_seq2seq(attn_implementation="sdpa")
    with torch.no_grad():
        torch.testing.assert_close(eager(input_ids=ids, attention_mask=mask, labels=labels).logits,
                                   sdpa(input_ids=ids, attention_mask=mask, labels=labels).logits)


def test_fused_training_loss_equals_the_plain_loss_and_its_gradients():
    model = tiny_seq2seq().train()
    ids, mask, labels = batch()
    labels[0, 4:] = -100
    plain = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    grads = torch.autograd.grad(plain, model.lm_head.weight)[0]
    fused = model(input_ids=ids, attention_mask=mask, labels=labels, loss_positions_only=True)
    assert fused.logits is None
    torch.testing.assert_close(fused.loss, plain)
    torch.testing.assert_close(torch.autograd.grad(fused.loss, model.lm_head.weight)[0], grads)


@pytest.mark.parametrize("search", [dict(num_beams=1), dict(num_beams=4, length_penalty=0.6, no_repeat_ngram_size=2),
                                    dict(do_sample=True, top_k=5)])
def test_cached_generation_equals_uncached(search):
    model = tiny_seq2seq()
    ids, mask, _ = batch()
    runs = []
    for use_cache in (True, False):
        torch.manual_seed(0)
        runs.append(model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=10, min_new_tokens=10,
                                   use_cache=use_cache, **search))
    assert torch.equal(*runs)
    assert runs[0].shape[1] == 11 and len(set(runs[0][:, 1:].flatten().tolist())) > 3  # it wrote varied tokens


def test_past_key_values_is_taken_as_the_cache_as_by_transformers_own_encoder_decoders():
    # transformers 5.24's BART and Marian take the deprecated name (with a FutureWarning) for `cache`
    from transformers.cache_utils import EncoderDecoderCache

    model = tiny_seq2seq()
    ids, mask, labels = batch()
    start = labels[:, :1]
    first = model(input_ids=ids, attention_mask=mask, decoder_input_ids=start, use_cache=True)
    assert isinstance(first.cache, EncoderDecoderCache) and first.cache.get_seq_length() == 1
    with pytest.warns(FutureWarning, match="past_key_values"):
        old_name = model(input_ids=ids, attention_mask=mask, decoder_input_ids=labels[:, 1:2],
                         past_key_values=first.cache)
    full = model(input_ids=ids, attention_mask=mask, decoder_input_ids=labels[:, :2], use_cache=False)
    assert old_name.cache.get_seq_length() == 2  # the cache given under the old name was used and extended
    torch.testing.assert_close(old_name.logits[:, 0], full.logits[:, 1], atol=1e-5, rtol=1e-5)


def test_greedy_generation_is_the_argmax_of_each_forward_pass():
    model = tiny_seq2seq()
    ids, mask, _ = batch()
    generated = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, num_beams=1, do_sample=False,
                               min_new_tokens=8)  # no end-of-sentence: eight steps in every row
    written = torch.full((ids.shape[0], 1), model.config.decoder_start_token_id)
    with torch.no_grad():
        for _ in range(8):
            logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=written, use_cache=False).logits[:, -1]
            logits[:, model.config.eos_token_id] = -math.inf  # as min_new_tokens does
            written = torch.cat([written, logits.argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(generated, written)
    beams = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, num_beams=3, min_new_tokens=8,
                           num_return_sequences=3)
    assert beams.shape == (3 * ids.shape[0], 9)  # beam search runs over the same cache layout


def test_a_batch_equals_its_rows_one_by_one():
    model = tiny_seq2seq()
    ids, mask, labels = batch()
    together = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, num_beams=3)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, labels=labels).logits
    for row in range(ids.shape[0]):
        n = int(mask[row].sum())
        alone = model.generate(input_ids=ids[row:row + 1, :n], max_new_tokens=8, num_beams=3)
        assert alone[0].tolist() == together[row, : alone.shape[1]].tolist()
        assert all(t == model.config.pad_token_id for t in together[row, alone.shape[1]:].tolist())
        with torch.no_grad():
            single = model(input_ids=ids[row:row + 1, :n], labels=labels[row:row + 1]).logits
        torch.testing.assert_close(single[0], logits[row], atol=1e-5, rtol=1e-5)


def test_padding_changes_no_logit_at_a_real_position():
    model = tiny_seq2seq()
    ids, mask, labels = batch()
    with torch.no_grad():
        base = model(input_ids=ids, attention_mask=mask, labels=labels).logits
        wider = model(input_ids=F.pad(ids, (0, 4)), attention_mask=F.pad(mask, (0, 4)),
                      labels=F.pad(labels, (0, 3), value=-100)).logits
    torch.testing.assert_close(wider[:, : labels.shape[1]], base, atol=1e-5, rtol=1e-5)


def test_save_load_gives_identical_outputs_and_keeps_the_tying(tmp_path):
    from transformers import AutoModelForSeq2SeqLM

    model = tiny_seq2seq(tie_word_embeddings=True)
    ids, mask, labels = batch()
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is OneLayerSeq2SeqForConditionalGeneration
    assert loaded.lm_head.weight is loaded.decoder.embeddings.embed_tokens.weight
    assert loaded.encoder.embeddings.embed_tokens.weight is loaded.lm_head.weight  # joint vocabulary
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=ids, attention_mask=mask, labels=labels).logits,
                           model(input_ids=ids, attention_mask=mask, labels=labels).logits)
    assert torch.equal(loaded.generate(input_ids=ids, attention_mask=mask, max_new_tokens=6, num_beams=2),
                       model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=6, num_beams=2))


def test_separate_vocabularies_and_untied_head():
    model = tiny_seq2seq(src_vocab_size=50, tie_word_embeddings=False)
    assert model.encoder.embeddings.embed_tokens.weight.shape == (50, 32)
    assert model.lm_head.weight is not model.decoder.embeddings.embed_tokens.weight
    ids = torch.randint(4, 50, (2, 5))
    assert model.generate(input_ids=ids, max_new_tokens=4).shape[0] == 2


def test_invalid_config_values_name_the_field():
    with pytest.raises(ValueError, match="decoder_layers"):
        tiny_seq2seq_config(decoder_layers=0)
    with pytest.raises(ValueError, match="decoder_start_token_id"):
        tiny_seq2seq_config(decoder_start_token_id=99)


def test_a_source_longer_than_the_position_table_fails_with_one_line():
    model = tiny_seq2seq()
    with pytest.raises(ValueError, match="longer than max_position_embeddings=24"):
        model(input_ids=torch.randint(4, 40, (1, 30)), labels=torch.randint(4, 40, (1, 3)))


def test_copy_task_is_learned_to_exact_match():
    """Copy a random digit string: needs cross-attention to find the next source token at each step."""
    torch.manual_seed(0)
    config = tiny_seq2seq_config(vocab_size=14, hidden_size=64, head_dim_qk=16, head_dim_v=16, intermediate_size=128,
                                 max_position_embeddings=16)
    model = OneLayerSeq2SeqForConditionalGeneration(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def sample(n):
        body = torch.randint(4, 14, (n, 6))
        eos = torch.full((n, 1), 3)
        return torch.cat([body, eos], dim=1), torch.cat([body, eos], dim=1)

    for _ in range(500):
        source, target = sample(64)
        loss = model(input_ids=source, labels=target).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    source, target = sample(200)
    out = model.generate(input_ids=source, max_new_tokens=8, num_beams=1)
    assert torch.equal(out[:, 1:8], target), float((out[:, 1:8] == target).all(1).float().mean())


def test_joint_bpe_tokenizer_round_trips_cased_text(tmp_path):
    from hf_onelayer import OneLayerTranslatorTokenizer

    de = ["Ein Hund läuft im Park.", "Zwei Katzen schlafen, oder?"] * 5
    en = ["A dog runs in the park.", "Two cats sleep, don't they?"] * 5
    tok = OneLayerTranslatorTokenizer.train_new(de, en, model="bpe", vocab_size=200, min_frequency=1,
                                                target_special_tokens_pattern="eos")
    enc = tok(de[:2], text_target=en[:2])
    # labels as Marian's: no <s> (the decoder starts from decoder_start_token_id), </s> last
    assert tok.convert_target_ids_to_tokens(enc["labels"][0][:1]) == ["\u2581A"] and enc["labels"][0][-1] == tok.eos_token_id
    assert tok.batch_decode(enc["labels"], skip_special_tokens=True) == en[:2]  # cased, spaces as they were
    assert tok.batch_decode(enc["input_ids"], skip_special_tokens=True) == de[:2]  # one vocabulary for both
    tok.save_pretrained(tmp_path)
    again = OneLayerTranslatorTokenizer.from_pretrained(tmp_path)
    assert again.tokenizer_model == "bpe" and again.is_joint
    assert again(de[:2], text_target=en[:2])["labels"] == enc["labels"]


def test_seq2seq_config_file_is_a_one_layer_encoder_decoder():
    from hf_onelayer.arguments import ModelArguments, parse

    (args,) = parse(ModelArguments, [str(REPO / "training" / "configs" / "seq2seq.json")], "test",
                    allow_remaining=True)[:1]
    assert args.model_type == "onelayer_seq2seq" and args.tokenizer_model == "bpe"
    architecture = args.architecture()
    assert architecture.get("encoder_layers", 1) == 1 and architecture.get("decoder_layers", 1) == 1


def test_word_level_vocabularies_give_separate_source_and_target_tables():
    from conftest import SOURCES, TARGETS

    from hf_onelayer import OneLayerTranslatorTokenizer
    from hf_onelayer.arguments import ModelArguments
    from hf_onelayer.factory import make_model

    tok = OneLayerTranslatorTokenizer.train_new(SOURCES * 2, TARGETS * 2, min_frequency=1,
                                                target_special_tokens_pattern="eos")  # word-level, two sides
    assert not tok.is_joint
    args = ModelArguments(model_type="onelayer_seq2seq", hidden_size=32, num_attention_heads=2, head_dim_qk=8,
                          head_dim_v=8, intermediate_size=32)
    model = make_model(tok, args)
    assert model.config.src_vocab_size == tok.src_vocab_size and model.config.vocab_size == tok.tgt_vocab_size
    assert model.get_input_embeddings().weight.shape[0] == tok.src_vocab_size
    assert model.get_input_embeddings().weight is not model.lm_head.weight
    assert model.generation_config.num_beams == 5
    enc = tok(SOURCES[:2], padding=True, return_tensors="pt")
    texts = tok.batch_decode(model.generate(**enc, max_new_tokens=4), skip_special_tokens=True)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)


def test_inputs_embeds_export_compile_and_checkpointing_match_the_plain_forward():
    model = tiny_seq2seq()
    ids, mask, labels = batch()
    decoder_ids = model.prepare_decoder_input_ids_from_labels(labels)
    plain = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids, use_cache=False).logits
    embedded = model(inputs_embeds=model.get_input_embeddings()(ids), attention_mask=mask, use_cache=False,
                     decoder_inputs_embeds=model.decoder.embeddings.embed_tokens(decoder_ids)).logits
    torch.testing.assert_close(embedded, plain)
    with pytest.raises(ValueError, match="exactly one of input_ids and inputs_embeds"):
        model(input_ids=ids, inputs_embeds=model.get_input_embeddings()(ids), labels=labels)
    generated = model.generate(input_ids=ids, attention_mask=mask, num_beams=1, max_new_tokens=5)
    torch.testing.assert_close(model.generate(inputs_embeds=model.get_input_embeddings()(ids), attention_mask=mask,
                                              num_beams=1, max_new_tokens=5), generated)
    inputs = {"input_ids": ids, "attention_mask": mask, "decoder_input_ids": decoder_ids, "use_cache": False}
    torch.testing.assert_close(torch.export.export(model, (), inputs).module()(**inputs).logits, plain)
    torch.testing.assert_close(torch.compile(model, fullgraph=True, backend="eager")(**inputs).logits, plain)
    grads = []
    for checkpointing in (False, True):
        trained = tiny_seq2seq().train()
        if checkpointing:
            trained.gradient_checkpointing_enable()
        trained(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        grads.append([p.grad.clone() for p in trained.parameters() if p.grad is not None])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("joint", [True, False])
def test_resize_token_embeddings_after_add_tokens_keeps_both_vocabularies_in_step(joint, tmp_path):
    from conftest import SOURCES, TARGETS

    from hf_onelayer import OneLayerTranslatorTokenizer

    tok = OneLayerTranslatorTokenizer.train_new(SOURCES * 2, TARGETS * 2, model="bpe" if joint else "word",
                                                vocab_size=120, min_frequency=1, target_special_tokens_pattern="eos")
    sizes = {"vocab_size": tok.tgt_vocab_size} if joint else {"vocab_size": tok.tgt_vocab_size,
                                                               "src_vocab_size": tok.src_vocab_size}
    model = tiny_seq2seq(**sizes, tie_word_embeddings=True, max_position_embeddings=32)
    old_rows = model.get_input_embeddings().weight[:5].clone()
    assert tok.add_tokens(["<name>"]) == 1
    model.resize_token_embeddings(len(tok))
    config = model.config
    assert config.vocab_size == tok.tgt_vocab_size and (config.src_vocab_size or config.vocab_size) == tok.src_vocab_size
    assert model.lm_head.weight is model.decoder.embeddings.embed_tokens.weight  # still tied
    assert model.vocab_size == config.vocab_size  # in step, as PreTrainedModel keeps it
    assert model.get_input_embeddings().padding_idx == config.pad_token_id
    torch.testing.assert_close(model.get_input_embeddings().weight[:5], old_rows)
    enc = tok(["Ein <name> fährt."], text_target=["A <name> rides."], return_tensors="pt")
    assert tok.convert_tokens_to_ids("<name>") in enc["input_ids"][0]
    assert torch.isfinite(model(**enc).loss)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    from hf_onelayer.translation import load

    reloaded, reloaded_tok = load(str(tmp_path))  # config, tokenizer and weights agree
    assert len(reloaded_tok) == len(tok) and reloaded.config.vocab_size == config.vocab_size


def test_num_hidden_layers_and_set_attn_implementation_switch():
    model = tiny_seq2seq(decoder_layers=2)
    assert model.config.num_hidden_layers == 2  # the decoder's: the layers a generation cache holds
    ids, mask, labels = batch()
    outputs = {}
    for implementation in ("eager", "sdpa"):
        model.set_attn_implementation(implementation)
        assert model.config._attn_implementation == implementation
        outputs[implementation] = model(input_ids=ids, attention_mask=mask, labels=labels).logits
    torch.testing.assert_close(outputs["eager"], outputs["sdpa"], atol=1e-5, rtol=1e-5)
