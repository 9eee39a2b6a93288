"""TranslationTrainer's loss: labelled positions only in training, label smoothing for training only."""

import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset
from conftest import SOURCES, TARGETS

from hf_onelayer import OneLayerTranslatorConfig, OneLayerTranslatorModel
from hf_onelayer.arguments import OneLayerTrainingArguments
from hf_onelayer.data import tokenize_split
from hf_onelayer.trainer import build_trainer


@pytest.fixture()
def trainer_and_batch(small_tokenizer, tmp_path):
    def make(smoothing):
        raw = Dataset.from_dict({"de": SOURCES, "en": TARGETS})
        split = tokenize_split(raw, small_tokenizer, 20).dataset
        config = OneLayerTranslatorConfig(src_vocab_size=small_tokenizer.src_vocab_size,
                                          tgt_vocab_size=small_tokenizer.tgt_vocab_size, hidden_size=16,
                                          intermediate_size=24, head_dim_qk=8, head_dim_v=8,
                                          hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        torch.manual_seed(0)
        model = OneLayerTranslatorModel(config)
        args = OneLayerTrainingArguments(output_dir=str(tmp_path), label_smoothing_factor=smoothing, report_to="none")
        trainer = build_trainer(model, small_tokenizer, args, split, split)
        batch = trainer.data_collator([split[i] for i in range(len(split))])
        batch = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels")}
        return trainer, model, batch

    return make


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_training_loss_is_cross_entropy_at_labels_smoothed_as_asked(trainer_and_batch, smoothing):
    trainer, model, batch = trainer_and_batch(smoothing)
    model.train()
    loss = trainer.compute_loss(model, batch)
    logits = model(**batch).logits
    keep = batch["labels"] != -100
    expected = F.cross_entropy(logits[keep], batch["labels"][keep], label_smoothing=smoothing)
    torch.testing.assert_close(loss, expected)
    assert smoothing == 0 or not torch.allclose(loss, F.cross_entropy(logits[keep], batch["labels"][keep]))


def test_evaluation_loss_is_never_smoothed(trainer_and_batch):
    trainer, model, batch = trainer_and_batch(0.1)
    model.eval()
    loss, _, _ = trainer.prediction_step(model, batch, prediction_loss_only=False)
    with torch.no_grad():
        plain = model(**batch).loss
    torch.testing.assert_close(loss, plain)


@pytest.mark.parametrize("model_type", ["onelayer_translator", "onelayer_seq2seq"])
def test_new_special_tokens_on_two_vocabularies_of_different_sizes_train_and_translate(model_type, tmp_path):
    # pad, bos and eos overridden with new tokens: the source and the target give them different ids
    from hf_onelayer import OneLayerTranslatorTokenizer
    from hf_onelayer.arguments import ModelArguments
    from hf_onelayer.factory import make_model
    from hf_onelayer.translation import load, translate

    seq2seq = model_type == "onelayer_seq2seq"
    trained = OneLayerTranslatorTokenizer.train_new(SOURCES, TARGETS + ["zebras yawn"], min_frequency=1)
    trained.save_pretrained(tmp_path / "tok")
    tok = OneLayerTranslatorTokenizer.from_pretrained(tmp_path / "tok", pad_token="<p>", bos_token="<bos>",
                                                      eos_token="<eos>",
                                                      target_special_tokens_pattern="eos" if seq2seq else None)
    assert tok.src_pad_token_id != tok.pad_token_id
    model = make_model(tok, ModelArguments(
        model_type=model_type, hidden_size=32, intermediate_size=64, head_dim_qk=16, head_dim_v=16,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, max_position_embeddings=24))
    ids = {name: getattr(model.config, name) for name in ("pad_token_id", "bos_token_id", "eos_token_id", "src_pad_token_id")}
    assert ids == {"pad_token_id": tok.pad_token_id, "bos_token_id": tok.bos_token_id,
                   "eos_token_id": tok.eos_token_id, "src_pad_token_id": tok.src_pad_token_id}
    assert model.get_input_embeddings().padding_idx == tok.src_pad_token_id
    split = tokenize_split(Dataset.from_dict({"de": SOURCES, "en": TARGETS}), tok, 20, decoder=seq2seq).dataset
    args = OneLayerTrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=150, learning_rate=1e-2, per_device_train_batch_size=6,
        lr_scheduler_type="constant", warmup_steps=0, eval_strategy="no", save_strategy="no",
        load_best_model_at_end=False, report_to="none", use_cpu=True, predict_with_generate=seq2seq)
    trainer = build_trainer(model, tok, args, split, split)
    batch = trainer.data_collator([{k: row[k] for k in ("input_ids", "attention_mask", "labels")} for row in split])
    assert (batch["input_ids"][batch["attention_mask"] == 0] == tok.src_pad_token_id).all()
    trainer.train()
    assert {name: getattr(model.config, name) for name in ids} == ids  # Trainer's alignment found nothing to change
    # overfitted on six pairs: each translation stops at the new </s> and equals its reference
    references = [tok.decode(tok(text_target=t)["input_ids"], skip_special_tokens=True) for t in TARGETS]
    assert translate(model.eval(), tok, SOURCES) == references
    assert trainer.evaluate()["eval_bleu"] > 99.9
    model.save_pretrained(tmp_path / "saved")
    tok.save_pretrained(tmp_path / "saved")
    reloaded, reloaded_tok = load(str(tmp_path / "saved"))
    assert translate(reloaded, reloaded_tok, SOURCES) == references
