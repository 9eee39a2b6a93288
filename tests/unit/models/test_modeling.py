"""Tiny-config tests of the model, in the style of transformers' model testers."""

import math

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel
from conftest import tiny_config, tiny_model

from hf_onelayer import OneLayerTranslatorModel


def random_ids(batch=3, length=11, vocab=99, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(4, vocab, (batch, length), generator=g)


def course_forward(model, ids):
    """The course model's forward pass for ONE unpadded sentence, written out head by head."""
    c = model.config
    p = {name: t.detach() for name, t in model.named_parameters()}
    T = ids.shape[0]
    x = p["embeddings.embed_tokens.weight"][ids] + p["embeddings.embed_positions.weight"][:T]
    if c.embedding_layer_norm:  # BERT's embedding LayerNorm (the course model has none)
        x = F.layer_norm(x, (c.hidden_size,), p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"],
                         c.layer_norm_eps)
    heads = []
    for h in range(c.num_attention_heads):
        qk = slice(h * c.head_dim_qk, (h + 1) * c.head_dim_qk)
        vs = slice(h * c.head_dim_v, (h + 1) * c.head_dim_v)
        q = x @ p["block.self_attn.query.weight"][qk].T + p["block.self_attn.query.bias"][qk]
        k = x @ p["block.self_attn.key.weight"][qk].T + p["block.self_attn.key.bias"][qk]
        v = x @ p["block.self_attn.value.weight"][vs].T + p["block.self_attn.value.bias"][vs]
        alpha = torch.softmax(q @ k.T / math.sqrt(c.head_dim_qk), dim=-1)  # (T, T)
        heads.append(alpha @ v)
    attn = torch.cat(heads, dim=-1) @ p["block.self_attn.output.weight"].T + p["block.self_attn.output.bias"]

    def norm(t, name):
        return F.layer_norm(t, (c.hidden_size,), p[f"{name}.weight"], p[f"{name}.bias"], c.layer_norm_eps)

    x = norm(x + attn, "block.self_attn_norm.norm")
    ff = torch.relu(x @ p["block.feed_forward.dense_in.weight"].T + p["block.feed_forward.dense_in.bias"])
    ff = ff @ p["block.feed_forward.dense_out.weight"].T + p["block.feed_forward.dense_out.bias"]
    x = norm(x + ff, "block.feed_forward_norm.norm")
    return x @ p["lm_head.weight"].T + p["lm_head.bias"]


@pytest.mark.parametrize("embedding_layer_norm", [False, True])
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_logits_equal_the_course_forward_pass(attn, embedding_layer_norm):
    model = tiny_model(attn_implementation=attn, embedding_layer_norm=embedding_layer_norm)
    with torch.no_grad():  # move the LayerNorm off its identity init so the test sees it
        for param in model.parameters():
            if param.dim() == 1:
                param.add_(0.1 * torch.randn_like(param))
    ids = random_ids()
    logits = model(ids).logits
    assert logits.shape == (3, 11, 77)
    for row in range(3):
        torch.testing.assert_close(logits[row], course_forward(model, ids[row]), atol=1e-5, rtol=1e-5)


def test_eager_and_sdpa_agree():
    eager, sdpa = tiny_model(attn_implementation="eager"), tiny_model(attn_implementation="sdpa")
    sdpa.load_state_dict(eager.state_dict())
    ids = random_ids(batch=4, length=13)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    mask[3, 2:] = 0
    torch.testing.assert_close(eager(ids, mask).logits, sdpa(ids, mask).logits, atol=1e-5, rtol=1e-5)
    assert sdpa.config._attn_implementation == "sdpa"


def test_sdpa_falls_back_to_eager_for_weights():
    model = tiny_model(attn_implementation="sdpa")
    out = model(random_ids(), output_attentions=True)
    assert out.attentions[0].shape == (3, 2, 11, 11)


@pytest.mark.parametrize("norm_position", ["post", "pre"])
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_padded_tokens_change_no_logit_at_a_real_position(norm_position, attn):
    model = tiny_model(norm_position=norm_position, attn_implementation=attn)
    ids = random_ids(batch=2, length=12)
    mask = torch.ones_like(ids)
    mask[0, 5:] = 0
    mask[1, 9:] = 0
    changed = ids.clone()
    changed[mask == 0] = random_ids(batch=2, length=12, seed=7)[mask == 0]
    assert not torch.equal(ids, changed)
    a, b = model(ids, mask).logits, model(changed, mask).logits
    real = mask.bool()
    torch.testing.assert_close(a[real], b[real], atol=1e-6, rtol=1e-6)
    # without the mask the padding does leak into real positions: the mask is what protects them
    assert not torch.allclose(model(ids).logits[real], model(changed).logits[real], atol=1e-4)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_batch_gives_the_logits_of_its_rows_one_by_one(attn):
    model = tiny_model(attn_implementation=attn)
    lengths = [12, 5, 9]
    ids = random_ids(batch=3, length=12)
    mask = torch.zeros_like(ids)
    for row, n in enumerate(lengths):
        mask[row, :n] = 1
        ids[row, n:] = model.config.pad_token_id
    batched = model(ids, mask).logits
    for row, n in enumerate(lengths):
        alone = model(ids[row : row + 1, :n]).logits[0]
        torch.testing.assert_close(batched[row, :n], alone, atol=1e-5, rtol=1e-5)


def test_padded_keys_get_zero_weight_and_rows_sum_to_one():
    model = tiny_model(attn_implementation="eager")
    ids = random_ids(batch=2, length=10)
    mask = torch.ones_like(ids)
    mask[0, 6:] = 0
    weights = model(ids, mask, output_attentions=True).attentions[0]  # (B, nh, T, T)
    assert torch.all(weights[0, :, :, 6:] == 0)
    assert torch.all(weights >= 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 10))


def test_attention_and_hidden_state_outputs_by_argument_and_by_config():
    model = tiny_model()
    ids = random_ids()
    plain = model(ids)
    assert plain.attentions is None and plain.hidden_states is None
    out = model(ids, output_attentions=True, output_hidden_states=True)
    assert len(out.attentions) == 1 and out.attentions[0].shape == (3, 2, 11, 11)
    assert [h.shape for h in out.hidden_states] == [(3, 11, 32), (3, 11, 32)]
    by_config = tiny_model(output_attentions=True, output_hidden_states=True, attn_implementation="eager")
    out = by_config(ids)
    assert out.attentions[0].shape == (3, 2, 11, 11) and len(out.hidden_states) == 2


def test_loss_is_mean_cross_entropy_over_labels_not_minus_100():
    model = tiny_model()
    ids = random_ids()
    labels = random_ids(vocab=77, seed=3)
    labels[:, 0] = -100
    labels[1, 6:] = -100
    out = model(ids, labels=labels)
    keep = labels != -100
    expected = F.cross_entropy(out.logits[keep], labels[keep])
    torch.testing.assert_close(out.loss, expected)
    as_tuple = model(ids, labels=labels, return_dict=False)
    torch.testing.assert_close(as_tuple[0], expected)


@pytest.mark.parametrize("norm_position", ["post", "pre"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_loss_positions_only_gives_the_same_loss_and_gradients(norm_position, smoothing):
    model = tiny_model(norm_position=norm_position)
    ids = random_ids()
    mask = torch.ones_like(ids)
    mask[2, 7:] = 0
    labels = random_ids(vocab=77, seed=3)
    labels[:, 0] = -100
    labels[1, 5:] = -100
    logits = model(ids, attention_mask=mask).logits
    keep = labels != -100
    expected = F.cross_entropy(logits[keep], labels[keep], label_smoothing=smoothing)
    expected.backward()
    expected_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    fused = model(ids, attention_mask=mask, labels=labels, loss_positions_only=True, smoothing=smoothing)
    fused.loss.backward()
    assert fused.logits is None
    torch.testing.assert_close(fused.loss, expected)
    for name, param in model.named_parameters():
        torch.testing.assert_close(param.grad, expected_grads[name], msg=name)
    with pytest.raises(ValueError, match="needs labels"):
        model(ids, loss_positions_only=True)
    with pytest.raises(ValueError, match="smoothing applies only"):
        model(ids, labels=labels, smoothing=0.1)


def test_linear_cross_entropy_in_chunks_matches_torch_and_skips_frozen_weights():
    from hf_onelayer.models.modeling_layers import LinearCrossEntropy

    torch.manual_seed(0)
    x = torch.randn(300, 16, requires_grad=True)
    weight = torch.randn(50, 16, requires_grad=True)
    bias = torch.randn(50, requires_grad=True)
    target = torch.randint(0, 50, (300,))
    loss = LinearCrossEntropy.apply(x, weight, bias, target, 0.0, 64)  # 300 rows: chunks of 64, last one short
    (2 * loss).backward()  # the upstream gradient scales the stored ones
    grads = [t.grad.clone() for t in (x, weight, bias)]
    for t in (x, weight, bias):
        t.grad = None
    reference = F.cross_entropy(F.linear(x, weight, bias), target)
    (2 * reference).backward()
    torch.testing.assert_close(loss, reference)
    for got, t in zip(grads, (x, weight, bias)):
        torch.testing.assert_close(got, t.grad)

    frozen = weight.detach()  # a frozen head: no gradient computed for it
    x.grad = None
    LinearCrossEntropy.apply(x, frozen, bias, target, 0.0, 64).backward()
    assert x.grad is not None and frozen.grad is None


def test_save_and_load_give_identical_outputs(tmp_path):
    model = tiny_model(norm_position="pre")
    ids = random_ids()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, OneLayerTranslatorModel)
    assert torch.equal(model(ids).logits, loaded(ids).logits)


def test_ids_outside_the_vocabulary_raise_value_error():
    model = tiny_model()
    with pytest.raises(ValueError, match="outside the source vocabulary"):
        model(torch.tensor([[2, 5, 99]]))
    with pytest.raises(ValueError, match="outside the source vocabulary"):
        model(torch.tensor([[2, -1, 3]]))
    with pytest.raises(ValueError, match="outside the target vocabulary"):
        model(torch.tensor([[2, 5, 6]]), labels=torch.tensor([[-100, 77, 3]]))


def test_sequences_longer_than_the_position_table_raise_value_error():
    model = tiny_model()
    with pytest.raises(ValueError, match="max_position_embeddings=20"):
        model(torch.full((1, 21), 5))


def test_init_weights_follow_initializer_range():
    model = OneLayerTranslatorModel(tiny_config(src_vocab_size=2000, initializer_range=0.05))
    weights = model.embeddings.embed_tokens.weight
    assert abs(weights[1:].std().item() - 0.05) < 0.005
    assert torch.all(weights[model.config.pad_token_id] == 0)
    assert torch.all(model.lm_head.bias == 0) and torch.all(model.block.self_attn_norm.norm.weight == 1)


def test_translate_ids_does_not_depend_on_batch_padding():
    model = tiny_model()
    ids = random_ids(batch=2, length=8)
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0
    ids[1, 4:] = model.config.pad_token_id  # padded positions hold <pad>, as the tokenizer pads
    together = model.translate_ids(ids, mask)
    alone = [model.translate_ids(ids[:1]), model.translate_ids(ids[1:2, :4])]
    assert together == alone[0] + alone[1]
    limit = 20 - 1  # max_position_embeddings minus the BOS position
    assert all(len(row) <= limit and 3 not in row for row in together)


def test_copy_task_is_learned():
    """Smoke test (Annotated Transformer style): learn to output the input token at each position."""
    torch.manual_seed(0)
    model = tiny_model(src_vocab_size=20, tgt_vocab_size=20, hidden_size=32, intermediate_size=64)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        ids = torch.randint(4, 20, (32, 10))
        loss = model(ids, labels=ids).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    ids = torch.randint(4, 20, (64, 10))
    accuracy = (model(ids).logits.argmax(-1) == ids).float().mean().item()
    assert accuracy > 0.98, accuracy


# --- transformers' conventions (issue 13, part 5) -----------------------------------------------

def test_config_has_num_hidden_layers():
    assert tiny_config().num_hidden_layers == 1


def test_generate_points_to_translate():
    with pytest.raises(NotImplementedError, match="translate_ids.*hf_onelayer.translation.translate"):
        tiny_model().generate(torch.ones(1, 3, dtype=torch.long))


def test_set_attn_implementation_switches_and_eager_equals_sdpa():
    model = tiny_model()
    ids = torch.randint(4, 99, (2, 7))
    sdpa = model(input_ids=ids).logits
    model.set_attn_implementation("eager")
    assert model.config._attn_implementation == "eager"
    torch.testing.assert_close(model(input_ids=ids).logits, sdpa, atol=1e-5, rtol=1e-5)


def test_inputs_embeds_equal_input_ids():
    model = tiny_model()
    ids = torch.randint(4, 99, (2, 7))
    embeds = model.get_input_embeddings()(ids)
    torch.testing.assert_close(model(inputs_embeds=embeds).logits, model(input_ids=ids).logits)
    with pytest.raises(ValueError, match="exactly one of input_ids and inputs_embeds"):
        model(input_ids=ids, inputs_embeds=embeds)


def test_gradient_checkpointing_gives_the_same_gradients():
    ids = torch.randint(4, 99, (2, 7))
    labels = torch.randint(0, 77, (2, 7))
    grads = []
    for checkpointing in (False, True):
        model = tiny_model().train()
        if checkpointing:
            model.gradient_checkpointing_enable()
            assert model.is_gradient_checkpointing
        model(input_ids=ids, labels=labels).loss.backward()
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


def test_torch_export_and_compile_fullgraph():
    model = tiny_model()
    ids = torch.randint(4, 99, (2, 7))
    mask = torch.ones_like(ids)
    expected = model(input_ids=ids, attention_mask=mask).logits
    exported = torch.export.export(model, (), {"input_ids": ids, "attention_mask": mask})
    torch.testing.assert_close(exported.module()(input_ids=ids, attention_mask=mask).logits, expected)
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(input_ids=ids, attention_mask=mask).logits, expected)


def test_a_plain_trainer_with_datacollatorforseq2seq_trains_the_course_model(small_tokenizer, tmp_path):
    from conftest import SOURCES, TARGETS
    from datasets import Dataset
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from hf_onelayer import OneLayerTranslatorConfig, OneLayerTranslatorModel

    rows = Dataset.from_dict({"de": SOURCES, "en": TARGETS}).map(
        lambda r: small_tokenizer(r["de"], text_target=r["en"]), remove_columns=["de", "en"])
    torch.manual_seed(0)
    model = OneLayerTranslatorModel(OneLayerTranslatorConfig(
        src_vocab_size=small_tokenizer.src_vocab_size, tgt_vocab_size=small_tokenizer.tgt_vocab_size, hidden_size=16,
        head_dim_qk=8, head_dim_v=8, intermediate_size=16))
    batch = DataCollatorForSeq2Seq(small_tokenizer, model=model)([rows[i] for i in range(len(rows))])
    assert batch["labels"].shape != batch["input_ids"].shape  # the two sides are padded separately
    assert model(**batch).loss.isfinite()
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=6, report_to="none",
                             use_cpu=True, learning_rate=1e-2)
    result = Trainer(model=model, args=args, train_dataset=rows,
                     data_collator=DataCollatorForSeq2Seq(small_tokenizer, model=model)).train()
    assert result.training_loss > 0 and math.isfinite(result.training_loss)


def test_resize_token_embeddings_grows_the_source_table_and_the_head_by_the_added_tokens(tmp_path):
    from conftest import SOURCES, TARGETS

    from hf_onelayer import OneLayerTranslatorTokenizer
    from hf_onelayer.translation import load

    tok = OneLayerTranslatorTokenizer.train_new(SOURCES, TARGETS + ["zebras yawn"], min_frequency=1)
    assert tok.src_vocab_size != tok.tgt_vocab_size  # the two tables differ, as on real data
    model = tiny_model(src_vocab_size=tok.src_vocab_size, tgt_vocab_size=tok.tgt_vocab_size)
    head = model.lm_head.weight.clone()
    assert tok.add_tokens(["<name>", "<num>"]) == 2
    model.resize_token_embeddings(len(tok))
    assert (model.config.src_vocab_size, model.config.tgt_vocab_size) == (tok.src_vocab_size, tok.tgt_vocab_size)
    assert model.lm_head.weight.shape[0] == tok.tgt_vocab_size and model.get_input_embeddings().padding_idx == 0
    assert model.vocab_size == model.config.vocab_size == tok.tgt_vocab_size  # in step, as PreTrainedModel keeps it
    torch.testing.assert_close(model.lm_head.weight[: head.shape[0]], head)
    enc = tok(["Ein <name> fährt Fahrrad."], text_target=["A <num> rides a bike."], return_tensors="pt")
    with tok.as_target_tokenizer():
        assert tok.convert_tokens_to_ids("<num>") in enc["labels"][0]
    assert torch.isfinite(model(**enc).loss)  # the new ids are inside both tables
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    reloaded, _ = load(str(tmp_path), kind="onelayer_translator")
    assert reloaded.config.tgt_vocab_size == tok.tgt_vocab_size


# the course model's parameter names before both models shared modeling_layers.py (release/course keeps them)
OLD_NAMES = {"embeddings.embed_tokens.": "embeddings.word_embeddings.",
             "embeddings.embed_positions.": "embeddings.position_embeddings.",
             "block.self_attn.": "block.attention.", "block.self_attn_norm.norm.": "block.attention_norm.",
             "block.feed_forward_norm.norm.": "block.feed_forward_norm.", "final_norm.": "block.final_norm."}


@pytest.mark.parametrize("norm_position", ["post", "pre"])
def test_a_checkpoint_with_the_old_names_loads_and_saves_with_todays(norm_position, tmp_path):
    from safetensors.torch import load_file, save_file

    model = tiny_model(norm_position=norm_position, embedding_layer_norm=True).eval()
    model.save_pretrained(tmp_path / "new")
    weights = load_file(tmp_path / "new" / "model.safetensors")
    old = {}
    for name, tensor in weights.items():
        prefix = next((p for p in OLD_NAMES if name.startswith(p)), None)
        old[name if prefix is None else OLD_NAMES[prefix] + name[len(prefix):]] = tensor
    assert "block.attention_norm.weight" in old and ("block.final_norm.weight" in old) == (norm_position == "pre")
    save_file(old, tmp_path / "new" / "model.safetensors", metadata={"format": "pt"})

    loaded = OneLayerTranslatorModel.from_pretrained(tmp_path / "new").eval()
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    loaded.save_pretrained(tmp_path / "again")
    assert sorted(load_file(tmp_path / "again" / "model.safetensors")) == sorted(weights)  # today's names


@pytest.mark.parametrize("kind", ["course", "seq2seq"])
def test_forward_takes_transformers_keywords_returns_tuples_on_request_and_refuses_a_misspelt_one(kind):
    from conftest import batch, tiny_seq2seq

    model = tiny_model() if kind == "course" else tiny_seq2seq()
    ids, mask, labels = batch(length=11, vocab=40)
    labels = torch.cat([labels, labels[:, :5]], dim=1) if kind == "course" else labels  # the course: same width
    out = model(ids, attention_mask=mask, labels=labels, output_attentions=True, output_hidden_states=True)
    as_tuple = model(ids, attention_mask=mask, labels=labels, output_attentions=True, output_hidden_states=True,
                     return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == len(out.to_tuple())
    torch.testing.assert_close(as_tuple[0], out.loss)
    torch.testing.assert_close(as_tuple[1], out.logits)
    model.config.return_dict = False  # the config's choice when the call makes none
    assert isinstance(model(ids, attention_mask=mask, labels=labels), tuple)
    with pytest.raises(TypeError, match=r"forward\(\) got unexpected keyword argument\(s\): output_attention$"):
        model(ids, attention_mask=mask, labels=labels, output_attention=True)
